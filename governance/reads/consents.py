"""Reading consents: current ones by participant, renewal and expiry, and a version history."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.errors import NotFound
from governance.models import Consent

LIST_LIMIT = 1000


@dataclass(frozen=True)
class ConsentFilter:
    participant: str | None = None
    needs_renewal: bool = False
    expiring_within_days: int | None = None


def current_consents(session: Session, wanted: ConsentFilter, now: datetime) -> list[Consent]:
    """Current versions (not superseded or ended), by participant then id."""
    query = select(Consent).where(Consent.ended_at.is_(None))
    if wanted.participant:
        query = query.where(Consent.participant_id == wanted.participant)
    if wanted.needs_renewal:
        query = query.where(Consent.needs_renewal.is_not(None))
    if wanted.expiring_within_days is not None:
        query = query.where(Consent.status == "active", Consent.valid_until > now,
                            Consent.valid_until <= now + timedelta(
                                days=wanted.expiring_within_days))
    return list(session.scalars(query.order_by(Consent.participant_id, Consent.id)
                                .limit(LIST_LIMIT)))


def consent_with_history(session: Session, consent_id: str) -> tuple[Consent, list[Consent]]:
    """The consent and the versions it superseded, newest first (404 if there is none)."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"no consent '{consent_id}'")
    history, older = [], consent.supersedes
    while older:
        previous = session.get(Consent, older)
        history.append(previous)
        older = previous.supersedes
    return consent, history
