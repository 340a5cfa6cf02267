"""The dashboard's figures from the audit trail and the override table: decisions per day by
the reason that withheld most of their fields, the most-denied fields, overrides and
break-glass per program, over the last ``DAYS`` days.

Only rows of kind ``decision`` within the window are read (through ``ix_audit_event_kind_at``);
their payloads are taken apart by the database's own JSON functions (SQLite's ``json_each``,
PostgreSQL's ``jsonb_each_text``) and only grouped counts come back. Reading the payloads is
the one cost that grows with the trail (about 8 us a decision on SQLite here), and the trail is
append-only, so a day that is over (``CLOSED_AFTER``) is read once per worker and kept, under
the chain hash of the trail's last decision before its end; only today is read on every load.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from cachetools import LRUCache
from sqlalchemy import DateTime, bindparam, func, select, text
from sqlalchemy.orm import Session

from governance.bounded_cache import text_size
from governance.models import AuditEvent, Field, Override, Program

DAYS = 14
TOP_FIELDS = 10
ALLOWED = ""  # the reason of a decision that withheld nothing
DAY_CACHE_BYTES = 16 * 1024 * 1024  # per worker; a day of a catalogue's fields is a few kB
# A decision's row is stamped when the request is decided and committed before it is answered,
# within the decision timeout (a second or so): a day over for this long gains no more rows.
CLOSED_AFTER = timedelta(minutes=10)

# One pass over some days' payloads: every (decision, field, reason) withheld, kept once
# (MATERIALIZED), then counted per day two ways: by the reason that withheld most of each
# decision's fields (ties: the first reason by name), and per field and reason (an unknown
# field id counts too: somebody asked for it). A decision that withheld nothing is passed over
# before its payload is parsed: it holds '"denied":{}', which the trail's compact JSON writes
# nowhere else (a quote inside a string is escaped).
_WITHHELD = """
    WITH pairs AS MATERIALIZED ({pairs}),
    per_decision AS (
        SELECT seq, day, reason, count(*) AS fields FROM pairs GROUP BY seq, day, reason),
    main AS (
        SELECT day, reason, row_number() OVER (
            PARTITION BY seq ORDER BY fields DESC, reason) AS place FROM per_decision)
    SELECT 'main' AS part, day, reason AS name, '' AS reason, count(*) AS n
    FROM main WHERE place = 1 GROUP BY day, reason
    UNION ALL
    SELECT 'pair' AS part, day, field AS name, reason, count(*) AS n
    FROM pairs GROUP BY day, field, reason"""
_PAIRS = {
    "sqlite": """
        SELECT event.seq, date(event.at) AS day, denied.key AS field, denied.value AS reason
        FROM audit_event AS event, json_each(event.payload, '$.denied') AS denied
        WHERE event.kind = 'decision' AND event.at >= :since AND event.at < :until
          AND instr(event.payload, '"denied":{}') = 0""",
    "postgresql": """
        SELECT event.seq, to_char(event.at, 'YYYY-MM-DD') AS day, denied.key AS field,
               denied.value AS reason
        FROM audit_event AS event,
             jsonb_each_text(event.payload::jsonb -> 'denied') AS denied
        WHERE event.kind = 'decision' AND event.at >= :since AND event.at < :until
          AND strpos(event.payload, '"denied":{}') = 0""",
}


# A day's counts: its decisions, (main reason, decisions) and (field, reason, denials), sorted.
DayParts = tuple[int, tuple[tuple[str, int], ...], tuple[tuple[str, str, int], ...]]


class _DaysSeen:
    """(closed day, hash of the trail's last decision before its end) -> that day's counts, at
    most DAY_CACHE_BYTES of them, shared by a worker's threads."""

    def __init__(self, max_bytes: int) -> None:
        self._held: LRUCache = LRUCache(max_bytes, getsizeof=text_size)
        self._lock = threading.Lock()

    def get(self, key: tuple) -> DayParts | None:
        with self._lock:
            return self._held.get(key)

    def put(self, key: tuple, parts: DayParts) -> None:
        if text_size(parts) <= self._held.maxsize:
            with self._lock:
                self._held[key] = parts

    def clear(self) -> None:
        with self._lock:
            self._held.clear()


days_seen = _DaysSeen(DAY_CACHE_BYTES)


@dataclass(frozen=True)
class Window:
    """Whole days in UTC, the last of them today (``now``'s)."""

    days: tuple[date, ...]
    now: datetime

    @classmethod
    def ending(cls, now: datetime, days: int = DAYS) -> Window:
        today = now.date()
        return cls(tuple(today - timedelta(days=n) for n in range(days - 1, -1, -1)), now)

    def closed(self, day: date) -> bool:
        """No decision stamped ``day`` can still be committed (see CLOSED_AFTER)."""
        return datetime.combine(day + timedelta(days=1), time()) + CLOSED_AFTER <= self.now

    @property
    def since(self) -> datetime:
        return datetime.combine(self.days[0], time())

    @property
    def until(self) -> datetime:
        return datetime.combine(self.days[-1] + timedelta(days=1), time())


@dataclass
class DayCount:
    day: date
    by_reason: dict[str, int] = field(default_factory=dict)  # ALLOWED: withheld nothing

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    @property
    def withheld(self) -> int:
        return self.total - self.by_reason.get(ALLOWED, 0)


@dataclass(frozen=True)
class DeniedField:
    field: str
    sensitivity: str | None  # None: not in the catalogue (an unknown or retired field)
    denials: int
    by_reason: dict[str, int]

    @property
    def main_reason(self) -> str:
        return max(sorted(self.by_reason), key=self.by_reason.__getitem__)


@dataclass(frozen=True)
class TrailFigures:
    days: list[DayCount]  # every day of the window, empty ones too, oldest first
    fields: list[DeniedField]  # the most-denied fields, most denied first


@dataclass(frozen=True)
class ProgramElevation:
    program: str
    name: str
    overrides: int
    break_glass: int


def _bound(statement: str, since: datetime, until: datetime) -> object:
    return text(statement).bindparams(bindparam("since", since, type_=DateTime()),
                                      bindparam("until", until, type_=DateTime()))


def _dialect(session: Session) -> str:
    name = session.get_bind().dialect.name
    if name not in _PAIRS:
        raise NotImplementedError(f"the dashboard reads the trail on SQLite and PostgreSQL, "
                                  f"not {name}")
    return name


def _read_days(session: Session, dialect: str, days: list[date]) -> dict[date, DayParts]:
    """The counts of ``days``: decisions from the (kind, at) index, the rest from their
    payloads in one pass over the span they cover."""
    since = datetime.combine(min(days), time())
    until = datetime.combine(max(days) + timedelta(days=1), time())
    main: dict[date, list] = defaultdict(list)
    pairs: dict[date, list] = defaultdict(list)
    if dialect == "postgresql":
        # The planner guesses 100 rows from every jsonb_each_text (a decision has one to a few
        # denied fields), so it would JIT-compile this statement: 650 ms of a 780 ms run on
        # 20,000 decisions. And the groups of 100,000 decisions spill to disk in the default
        # 4 MB. Both for this read-only transaction only.
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '32MB'"))
    for part, day, name, reason, n in session.execute(_bound(
            _WITHHELD.format(pairs=_PAIRS[dialect]), since, until)):
        if part == "main":
            main[date.fromisoformat(day)].append((name, int(n)))
        else:
            pairs[date.fromisoformat(day)].append((name, reason, int(n)))
    return {day: (_decisions_on(session, day), tuple(sorted(main[day])),
                  tuple(sorted(pairs[day]))) for day in days}


def _decisions_on(session: Session, day: date) -> int:
    start = datetime.combine(day, time())
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.kind == "decision", AuditEvent.at >= start,
        AuditEvent.at < start + timedelta(days=1)))


def _closed_day_key(session: Session, day: date) -> tuple[str, str]:
    """A closed day's key: the chain hash of the trail's last decision before the day ended,
    one step down the (kind, at) index; another trail, or this one rewritten, has another."""
    end = datetime.combine(day + timedelta(days=1), time())
    last = session.scalar(select(AuditEvent.hash).where(
        AuditEvent.kind == "decision", AuditEvent.at < end)
        .order_by(AuditEvent.at.desc(), AuditEvent.seq.desc()).limit(1))
    return day.isoformat(), last or ""


def trail_figures(session: Session, window: Window, top: int = TOP_FIELDS) -> TrailFigures:
    """Decisions per day by the main reason they withheld fields, and the ``top`` most-denied
    fields of the window."""
    dialect = _dialect(session)
    keys = {day: _closed_day_key(session, day) for day in window.days if window.closed(day)}
    parts = {day: days_seen.get(key) for day, key in keys.items()}
    missing = [day for day in window.days if parts.get(day) is None]
    if missing:
        for day, read in _read_days(session, dialect, missing).items():
            parts[day] = read
            if day in keys:
                days_seen.put(keys[day], read)
    found = [DayCount(day) for day in window.days]
    denials: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for counted in found:
        decisions, main, pairs = parts[counted.day]
        counted.by_reason.update(main)
        if (allowed := decisions - sum(n for _, n in main)) > 0:
            counted.by_reason[ALLOWED] = allowed
        for field_id, reason, n in pairs:
            denials[field_id][reason] += n
    ranked = sorted(denials, key=lambda f: (-sum(denials[f].values()), f))[:top]
    sensitivity = {f: level for f, level in session.execute(
        select(Field.id, Field.sensitivity).where(Field.id.in_(ranked)))} if ranked else {}
    return TrailFigures(found, [DeniedField(f, sensitivity.get(f), sum(denials[f].values()),
                                            dict(denials[f])) for f in ranked])


def elevation_per_program(session: Session, window: Window) -> list[ProgramElevation]:
    """Override requests and break-glass uses of the window per program, busiest first."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for program, kind, n in session.execute(
            select(Override.program_id, Override.kind, func.count()).where(
                Override.requested_at >= window.since, Override.requested_at < window.until)
            .group_by(Override.program_id, Override.kind)):
        counts[program][kind] = int(n)
    names = {p: name for p, name in session.execute(
        select(Program.id, Program.name).where(Program.id.in_(list(counts))))}
    rows = [ProgramElevation(p, names.get(p) or p, c.get("override", 0), c.get("break_glass", 0))
            for p, c in counts.items()]
    return sorted(rows, key=lambda r: (-(r.overrides + r.break_glass), r.name))
