"""Reading disclosures for the Disclosures page: the recorded ones, newest first, filtered; and
the emergency disclosures whose after-the-fact review is still open."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit import payload_of
from governance.models import AuditEvent, Disclosure
from governance.reads.consents import Found

REVIEW_STATES = ("pending", "completed")


@dataclass(frozen=True)
class DisclosureFilter:
    participant: str | None = None
    recipient: str | None = None
    purpose: str | None = None
    sent_by: str | None = None
    review: str | None = None  # pending or completed (emergency disclosures only)
    accountable_only: bool = False

    def as_dict(self) -> dict[str, str]:
        """The filters that are set, as a page's query string names them."""
        return {k: ("true" if v is True else v) for k, v in asdict(self).items() if v}


def disclosures_page(session: Session, wanted: DisclosureFilter, *, offset: int = 0,
                     limit: int = 25) -> Found:
    """The disclosures the filter asks for, newest first, one page of them and their count."""
    query = select(Disclosure)
    for column, value in ((Disclosure.participant_id, wanted.participant),
                          (Disclosure.recipient_id, wanted.recipient),
                          (Disclosure.purpose_id, wanted.purpose),
                          (Disclosure.actor, wanted.sent_by),
                          (Disclosure.review_status, wanted.review)):
        if value:
            query = query.where(column == value)
    if wanted.accountable_only:
        query = query.where(Disclosure.accountable.is_(True))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(Disclosure.at.desc(), Disclosure.id.desc())
                                .offset(offset).limit(limit)))
    return Found(total, rows)


def open_reviews(session: Session, *, offset: int = 0, limit: int = 20) -> Found:
    """Emergency disclosures awaiting their after-the-fact review, oldest first."""
    query = select(Disclosure).where(Disclosure.review_status == "pending")
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    return Found(total, list(session.scalars(query.order_by(Disclosure.at, Disclosure.id)
                                             .offset(offset).limit(limit))))


@dataclass(frozen=True)
class RecordedDecision:
    """A decision as the audit trail holds it, and the disclosure already recorded for it."""

    at: object  # datetime
    payload: dict
    disclosure_id: str | None


def recorded_decision(session: Session, decision_id: str) -> RecordedDecision | None:
    event = session.scalar(select(AuditEvent).where(AuditEvent.kind == "decision",
                                                    AuditEvent.ref == decision_id))
    if event is None:
        return None
    sent = session.scalar(select(Disclosure.id).where(Disclosure.decision_id == decision_id))
    return RecordedDecision(event.at, payload_of(event), sent)
