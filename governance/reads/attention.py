"""What waits for one user now: the overrides and escalations they may decide (never their
own), the access-review items and break-glass uses they may close, and the consents to renew.

Each queue is counted in SQL and listed only up to ``shown`` rows, so a queue of thousands costs
one count and one short page. Who may decide follows ``operations.approvers`` and the same rules
the operations apply, so nothing is listed that its page would then refuse.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, true
from sqlalchemy.orm import Session

from governance.models import Consent, Escalation, Override, ReviewCampaign, ReviewItem
from governance.operations.approvers import REVIEWS, ApprovalScope, approval_scope

SHOWN = 5
RENEW_WITHIN_DAYS = 30


@dataclass(frozen=True)
class Queue:
    """How many wait, and the first few of them (oldest or soonest due first)."""

    count: int
    items: list

    @property
    def more(self) -> int:
        return self.count - len(self.items)


EMPTY = Queue(0, [])


def _counted(session: Session, query, order, shown: int) -> Queue:  # noqa: ANN001
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    if not count:
        return EMPTY
    return Queue(count, list(session.scalars(query.order_by(*order).limit(shown))))


def _in_scope(column, scope: ApprovalScope):  # noqa: ANN001, ANN202
    """The SQL condition for ``scope``: everywhere, or one of its programs."""
    if scope.everywhere:
        return true()
    return column.in_(sorted(p for p in scope.programs if p is not None))


def reviewing_scope(session: Session, user: str, now: datetime) -> ApprovalScope:
    """Where ``user`` reviews (approves overrides or escalations): who closes reviews."""
    scopes = [approval_scope(session, user, what, now) for what in REVIEWS]
    return ApprovalScope(any(s.everywhere for s in scopes),
                         frozenset().union(*(s.programs for s in scopes)))


def overrides_to_decide(session: Session, user: str, now: datetime, *, pending_minutes: int,
                        shown: int = SHOWN) -> Queue:
    """Pending override requests ``user`` may approve or deny: not lapsed, not their own."""
    scope = approval_scope(session, user, "override", now)
    if not scope:
        return EMPTY
    query = select(Override).where(
        Override.kind == "override", Override.status == "pending", Override.user_id != user,
        Override.requested_at > now - timedelta(minutes=pending_minutes),
        _in_scope(Override.program_id, scope))
    return _counted(session, query, (Override.requested_at, Override.id), shown)


def escalations_to_decide(session: Session, user: str, now: datetime, *, shown: int = SHOWN
                          ) -> Queue:
    """Pending escalations ``user`` may approve or deny (never their own)."""
    scope = approval_scope(session, user, "escalation", now)
    if not scope:
        return EMPTY
    query = select(Escalation).where(Escalation.status == "pending",
                                     Escalation.user_id != user,
                                     _in_scope(Escalation.program_id, scope))
    return _counted(session, query, (Escalation.requested_at, Escalation.id), shown)


def break_glass_to_review(session: Session, user: str, now: datetime, *,
                          everywhere: bool = False, shown: int = SHOWN) -> Queue:
    """Break-glass uses awaiting their after-the-fact review where ``user`` reviews (or
    everywhere, for a compliance officer reading the whole queue); never their own."""
    scope = ApprovalScope(True, frozenset()) if everywhere else reviewing_scope(
        session, user, now)
    if not scope:
        return EMPTY
    query = select(ReviewItem).where(ReviewItem.kind == "break_glass",
                                     ReviewItem.status == "open", ReviewItem.user_id != user,
                                     _in_scope(ReviewItem.program_id, scope))
    return _counted(session, query, (ReviewItem.created_at, ReviewItem.id), shown)


@dataclass(frozen=True)
class DueItem:
    item: ReviewItem
    due: datetime


def review_items_due(session: Session, user: str, now: datetime, *, shown: int = SHOWN
                     ) -> Queue:
    """Open items of open access-review campaigns that ``user`` may decide, soonest due first."""
    scope = reviewing_scope(session, user, now)
    if not scope:
        return EMPTY
    query = (select(ReviewItem, ReviewCampaign.due)
             .join(ReviewCampaign, ReviewCampaign.id == ReviewItem.campaign_id)
             .where(ReviewCampaign.status == "open", ReviewItem.status == "open",
                    ReviewItem.user_id != user, _in_scope(ReviewItem.program_id, scope)))
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    if not count:
        return EMPTY
    rows = session.execute(query.order_by(ReviewCampaign.due, ReviewItem.user_id,
                                          ReviewItem.id).limit(shown))
    return Queue(count, [DueItem(item, due) for item, due in rows])


@dataclass(frozen=True)
class OwnRequests:
    overrides: Queue
    escalations: Queue
    break_glass: Queue

    @property
    def count(self) -> int:
        return self.overrides.count + self.escalations.count + self.break_glass.count


def own_requests(session: Session, user: str, now: datetime, *, pending_minutes: int,
                 shown: int = SHOWN) -> OwnRequests:
    """What ``user`` asked for that waits on somebody else: override requests and escalations
    not yet decided, break-glass uses not yet reviewed."""
    return OwnRequests(
        _counted(session, select(Override).where(
            Override.kind == "override", Override.status == "pending", Override.user_id == user,
            Override.requested_at > now - timedelta(minutes=pending_minutes)),
            (Override.requested_at, Override.id), shown),
        _counted(session, select(Escalation).where(Escalation.status == "pending",
                                                   Escalation.user_id == user),
                 (Escalation.requested_at, Escalation.id), shown),
        _counted(session, select(ReviewItem).where(
            ReviewItem.kind == "break_glass", ReviewItem.status == "open",
            ReviewItem.user_id == user), (ReviewItem.created_at, ReviewItem.id), shown))


def consents_to_renew(session: Session, now: datetime, *, within_days: int = RENEW_WITHIN_DAYS,
                      shown: int = SHOWN) -> Queue:
    """Current consents flagged for renewal or in force and ending within ``within_days``,
    soonest ending first (flagged ones without an end last)."""
    query = select(Consent).where(
        Consent.ended_at.is_(None), Consent.status == "active",
        or_(Consent.needs_renewal.is_not(None),
            (Consent.valid_until > now)
            & (Consent.valid_until <= now + timedelta(days=within_days))))
    return _counted(session, query, (Consent.valid_until.is_(None), Consent.valid_until,
                                     Consent.participant_id, Consent.id), shown)
