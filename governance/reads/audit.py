"""Reading the audit trail: events by user, subject, participant, kind, ref, actor and time.

Pages are keyset ranges (never OFFSET), so the thousandth page of a long trail costs what the
first does, and each page is one index range read per branch of its filter: ``actor``,
``subject`` and ``participant`` are indexed with ``seq``, ``kind`` and the time with
``(at, seq)`` (migration 0011).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from sqlalchemy import false, literal, select, text, tuple_
from sqlalchemy.orm import Session

from governance.clock import iso
from governance.models import AuditEvent, AuditHead, Consent, Escalation, Override, RoleAssignment

FAMILY = ".*"  # ``kind="org.*"``: every kind of that family (org.change, org.applied, ...)


@dataclass(frozen=True)
class AuditFilter:
    subject: str | None = None
    participant: str | None = None
    kind: str | None = None
    ref: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None  # the event's actor or its subject
    up_to: int | None = None  # rows 1 to this one (an export of the trail as it stood)
    # Any of these kinds (a family such as org.* spelt out: one index range read each).
    kinds: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, str]:
        """The filters asked for (times in ISO 8601), for links and for audit rows."""
        return {name: iso(value) if isinstance(value, datetime) else value
                for name, value in asdict(self).items()
                if value and name not in ("kinds", "up_to")}


def audit_page(session: Session, wanted: AuditFilter, after: int, limit: int
               ) -> list[AuditEvent]:
    """Up to ``limit`` events after row ``after``, in chain order."""
    query = _filtered(select(AuditEvent), wanted).where(AuditEvent.seq > after)
    return _merged(session, query.order_by(AuditEvent.seq), wanted, limit,
                   key=lambda e: e.seq, newest_first=False)


Place = tuple[datetime, int]  # (at, seq): where a page of the console's list ends


def place_of(session: Session, seq: int) -> Place | None:
    """The (at, seq) of event ``seq``, for a page that starts from it."""
    row = session.execute(select(AuditEvent.at, AuditEvent.seq).where(
        AuditEvent.seq == seq)).first()
    return (row.at, row.seq) if row is not None else None


def by_time(wanted: AuditFilter) -> bool:
    """Whether ``wanted`` is listed by time, ``(at, seq)``, which the kind and time indexes
    serve; a person's events (and the whole trail) are listed in chain order, ``seq``, which
    the person indexes and the primary key serve. The two differ only where clocks did."""
    return not _by_person(wanted) and bool(
        wanted.kind or wanted.kinds is not None or wanted.since or wanted.until)


def timeline_page(session: Session, wanted: AuditFilter, limit: int, *,
                  before: Place | None = None, after: Place | None = None
                  ) -> list[AuditEvent]:
    """The ``limit`` latest events before ``before`` (or the latest of all), newest first;
    or, given ``after``, the ``limit`` events just after it, oldest first."""
    if by_time(wanted):
        order, position = (AuditEvent.at, AuditEvent.seq), tuple_(AuditEvent.at, AuditEvent.seq)
        bound, key = _place, (lambda e: (e.at, e.seq))
    else:
        order, position = (AuditEvent.seq,), AuditEvent.seq
        bound, key = (lambda place: place[1]), (lambda e: e.seq)
    query = _filtered(select(AuditEvent), wanted)
    if after is not None:
        query = query.where(position > bound(after)).order_by(*order)
    else:
        if before is not None:
            query = query.where(position < bound(before))
        query = query.order_by(*(column.desc() for column in order))
    return _merged(session, query, wanted, limit, key=key, newest_first=after is None)


def audit_event(session: Session, seq: int) -> AuditEvent | None:
    return session.get(AuditEvent, seq)


def trail_length(session: Session) -> int:
    """How many rows the chain holds (its head; no count over the table)."""
    return session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0


def audit_kinds(session: Session) -> list[str]:
    """The kinds the trail holds, sorted: one index probe per kind (a loose index scan over
    ``ix_audit_event_kind_at``), not a pass over every row."""
    return list(session.scalars(text(
        "WITH RECURSIVE k(kind) AS ("
        " SELECT (SELECT MIN(kind) FROM audit_event)"
        " UNION ALL"
        " SELECT (SELECT MIN(e.kind) FROM audit_event e WHERE e.kind > k.kind)"
        " FROM k WHERE k.kind IS NOT NULL)"
        " SELECT kind FROM k WHERE kind IS NOT NULL")))


def basis_descriptions(session: Session, refs: set[str]) -> dict[str, str]:
    """What each permission a decision was released under was (``assignment:12`` ->
    ``role case_manager in housing, held by alice``), read now: one query per kind."""
    ids: dict[str, list[str]] = {}
    for ref in refs:
        kind, _, key = ref.partition(":")
        ids.setdefault(kind, []).append(key)
    out: dict[str, str] = {}
    numbers = [int(k) for k in ids.get("assignment", []) if k.isdigit()]
    for a in session.scalars(select(RoleAssignment).where(RoleAssignment.id.in_(numbers))):
        where = f"in {a.program_id}" if a.program_id else "in every program"
        ended = f"; ended {iso(a.ended_at)}" if a.ended_at else ""
        out[f"assignment:{a.id}"] = (f"role {a.role_id} {where}, held by {a.user_id} "
                                     f"(from the {a.source}{ended})")
    overrides = ids.get("override", []) + ids.get("break_glass", [])
    for o in session.scalars(select(Override).where(Override.id.in_(overrides))):
        what = "break-glass" if o.kind == "break_glass" else "override"
        by = f", approved by {o.resolved_by}" if o.kind != "break_glass" and o.resolved_by else ""
        out[f"{o.kind}:{o.id}"] = f"{what} {o.id} for {o.user_id} in {o.program_id}{by}: {o.reason}"
    for c in session.scalars(select(Consent).where(Consent.id.in_(ids.get("consent", [])))):
        to = ", ".join([*c.partners, *(f"any {t}" for t in c.partner_types)])
        out[f"consent:{c.id}"] = (f"consent of {c.participant_id} to {to} for "
                                  f"{', '.join(c.purposes)} ({c.status})")
    for e in session.scalars(select(Escalation).where(
            Escalation.id.in_(ids.get("escalation", [])))):
        out[f"escalation:{e.id}"] = f"escalation {e.id}, {e.status} by {e.decided_by or '-'}"
    return out


def events_up_to(session: Session, wanted: AuditFilter, last: int, batch: int = 2000
                 ) -> Iterator[AuditEvent]:
    """Every event matching ``wanted`` among rows 1 to ``last``, oldest first, read in
    batches (each one index range from where the last ended)."""
    capped = replace(wanted, up_to=last)
    place: Place | None = (datetime.min, 0)
    while place is not None:
        rows = timeline_page(session, capped, batch, after=place)
        yield from rows
        place = (rows[-1].at, rows[-1].seq) if len(rows) == batch else None
        session.expunge_all()  # a long export must not hold every row it has written


def _merged(session: Session, query, wanted: AuditFilter, limit: int, *, key,  # noqa: ANN001
            newest_first: bool) -> list[AuditEvent]:
    """Run ``query`` (filtered, ordered) once per branch of the filter and merge the pages.
    A user (actor = u OR subject = u) is two branches and each kind of ``kinds`` one: each
    branch is one index range read, where an OR would make the store collect and sort every
    matching event before taking a page."""
    branches = [query]
    if wanted.user:
        branches = [q.where(column == wanted.user) for q in branches
                    for column in (AuditEvent.actor, AuditEvent.subject)]
    if wanted.kinds is not None:
        branches = [q.where(_kind_is(wanted, kind)) for q in branches for kind in wanted.kinds]
    if len(branches) == 1:
        return list(session.scalars(branches[0].limit(limit)))
    seen: dict[int, AuditEvent] = {}
    for branch in branches:
        seen.update((e.seq, e) for e in session.scalars(branch.limit(limit)))
    return sorted(seen.values(), key=key, reverse=newest_first)[:limit]


def _place(place: Place):  # noqa: ANN202 - a SQL row value
    return tuple_(literal(place[0], AuditEvent.at.type), literal(place[1], AuditEvent.seq.type))


def _by_person(wanted: AuditFilter) -> bool:
    return any(getattr(wanted, name) for name in ("user", "subject", "participant", "actor"))


def _kind_is(wanted: AuditFilter, kind: str):  # noqa: ANN202
    """``kind = k``; beside a person's filter written so the store reads that person's index
    (far fewer rows, as a rule, than any kind has) rather than the kind's."""
    column = AuditEvent.kind.concat("") if _by_person(wanted) else AuditEvent.kind
    return column == kind


def _filtered(query, wanted: AuditFilter):  # noqa: ANN001, ANN202
    for name in ("subject", "participant", "ref", "actor"):
        if getattr(wanted, name):
            query = query.where(getattr(AuditEvent, name) == getattr(wanted, name))
    if wanted.kinds is not None:
        if not wanted.kinds:
            query = query.where(false())
    elif wanted.kind and wanted.kind.endswith(FAMILY):
        family = wanted.kind[:-1]  # "org." .. "org/": a range the kind index serves
        query = query.where(AuditEvent.kind >= family,
                            AuditEvent.kind < family[:-1] + chr(ord(".") + 1))
    elif wanted.kind:
        query = query.where(_kind_is(wanted, wanted.kind))
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.at < wanted.until)
    if wanted.up_to is not None:
        query = query.where(AuditEvent.seq <= wanted.up_to)
    return query
