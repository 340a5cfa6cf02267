"""Reading the audit trail: events by subject, participant, kind, ref, actor and time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    subject: str | None = None
    participant: str | None = None
    kind: str | None = None
    ref: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def audit_page(session: Session, wanted: AuditFilter, after: int, limit: int
               ) -> list[AuditEvent]:
    """Up to ``limit`` events after row ``after``, in chain order."""
    query = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq)
    for name in ("subject", "participant", "kind", "ref", "actor"):
        if getattr(wanted, name):
            query = query.where(getattr(AuditEvent, name) == getattr(wanted, name))
    if wanted.since is not None:
        query = query.where(AuditEvent.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(AuditEvent.at < wanted.until)
    return list(session.scalars(query.limit(limit)))
