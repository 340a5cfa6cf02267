"""Reading the audit trail: events by user, subject, participant, kind, ref, actor and time.

Pages are keyset ranges of ``seq`` (never OFFSET), so the thousandth page of a long trail costs
what the first does; a filter on a person reads its index (``actor``, ``subject`` and
``participant`` are each indexed with ``seq``).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select, text
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

    def as_dict(self) -> dict[str, str]:
        """The filters in use (times in ISO 8601), for links and for audit rows."""
        return {name: iso(value) if isinstance(value, datetime) else value
                for name, value in asdict(self).items() if value}


def audit_page(session: Session, wanted: AuditFilter, after: int, limit: int
               ) -> list[AuditEvent]:
    """Up to ``limit`` events after row ``after``, in chain order."""
    return _page(session, wanted, limit, after=after)


def newest_page(session: Session, wanted: AuditFilter, before: int | None, limit: int
                ) -> list[AuditEvent]:
    """Up to ``limit`` events before row ``before`` (the newest when None), newest first."""
    return _page(session, wanted, limit, before=before)


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
    """Every event matching ``wanted`` up to row ``last``, in chain order, read in batches."""
    after = 0
    while True:
        rows = [e for e in _page(session, wanted, batch, after=after) if e.seq <= last]
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].seq
        session.expunge_all()  # a long export must not hold every row it has written


def _page(session: Session, wanted: AuditFilter, limit: int, *, after: int | None = None,
          before: int | None = None) -> list[AuditEvent]:
    newest_first = after is None
    if wanted.user:
        # actor = u OR subject = u, as two index range reads merged here: an OR would make
        # the store collect and sort every event of that user before taking a page.
        seen: dict[int, AuditEvent] = {}
        for column in (AuditEvent.actor, AuditEvent.subject):
            query = _query(wanted, after, before).where(column == wanted.user)
            seen.update((e.seq, e) for e in session.scalars(query.limit(limit)))
        return sorted(seen.values(), key=lambda e: e.seq, reverse=newest_first)[:limit]
    return list(session.scalars(_query(wanted, after, before).limit(limit)))


def _query(wanted: AuditFilter, after: int | None, before: int | None):  # noqa: ANN202
    query = select(AuditEvent)
    if after is not None:
        query = query.where(AuditEvent.seq > after).order_by(AuditEvent.seq)
    else:
        if before is not None:
            query = query.where(AuditEvent.seq < before)
        query = query.order_by(AuditEvent.seq.desc())
    for name in ("subject", "participant", "ref", "actor"):
        if getattr(wanted, name):
            query = query.where(getattr(AuditEvent, name) == getattr(wanted, name))
    if wanted.kind and wanted.kind.endswith(FAMILY):
        family = wanted.kind[:-1]  # "org." .. "org/": a range the kind index serves
        query = query.where(AuditEvent.kind >= family,
                            AuditEvent.kind < family[:-1] + chr(ord(".") + 1))
    elif wanted.kind:
        query = query.where(AuditEvent.kind == wanted.kind)
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.at < wanted.until)
    return query

