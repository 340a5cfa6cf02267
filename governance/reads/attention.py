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
from governance.operations.approvers import ApprovalScope, approval_scope, reviewing_scope

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


def _counted(session: Session, query, order, shown: int, offset: int = 0  # noqa: ANN001
             ) -> Queue:
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    if not count:
        return EMPTY
    return Queue(count, list(session.scalars(query.order_by(*order).offset(offset)
                                             .limit(shown))))


def _in_program(column, program: str | None):  # noqa: ANN001, ANN202
    """Narrowed to one program when a page filters by it."""
    return true() if program is None else column == program


def _in_scope(column, scope: ApprovalScope):  # noqa: ANN001, ANN202
    """The SQL condition for ``scope``: everywhere, or one of its programs."""
    if scope.everywhere:
        return true()
    return column.in_(sorted(p for p in scope.programs if p is not None))


def overrides_to_decide(session: Session, user: str, now: datetime, *, pending_minutes: int,
                        shown: int = SHOWN, offset: int = 0, program: str | None = None
                        ) -> Queue:
    """Pending override requests ``user`` may approve or deny: not lapsed, not their own."""
    scope = approval_scope(session, user, "override", now)
    if not scope:
        return EMPTY
    query = select(Override).where(
        Override.kind == "override", Override.status == "pending", Override.user_id != user,
        Override.requested_at > now - timedelta(minutes=pending_minutes),
        _in_scope(Override.program_id, scope), _in_program(Override.program_id, program))
    return _counted(session, query, (Override.requested_at, Override.id), shown, offset)


def overrides_lapsed(session: Session, user: str, now: datetime, *, pending_minutes: int,
                     within_days: int = 7, shown: int = SHOWN, offset: int = 0,
                     program: str | None = None) -> Queue:
    """Override requests ``user`` could have decided that lapsed without a decision in the
    last ``within_days`` (whether or not ``reviews run-due`` has marked them yet), newest
    first: shown as expired, no longer decidable."""
    scope = approval_scope(session, user, "override", now)
    if not scope:
        return EMPTY
    lapse = now - timedelta(minutes=pending_minutes)
    query = select(Override).where(
        Override.kind == "override", Override.user_id != user,
        Override.requested_at > lapse - timedelta(days=within_days),
        or_((Override.status == "pending") & (Override.requested_at <= lapse),
            (Override.status == "expired") & Override.approved_at.is_(None)),
        _in_scope(Override.program_id, scope), _in_program(Override.program_id, program))
    return _counted(session, query, (Override.requested_at.desc(), Override.id), shown,
                    offset)


def escalations_to_decide(session: Session, user: str, now: datetime, *, shown: int = SHOWN,
                          offset: int = 0, program: str | None = None) -> Queue:
    """Pending escalations ``user`` may approve or deny (never their own)."""
    scope = approval_scope(session, user, "escalation", now)
    if not scope:
        return EMPTY
    query = select(Escalation).where(Escalation.status == "pending",
                                     Escalation.user_id != user,
                                     _in_scope(Escalation.program_id, scope),
                                     _in_program(Escalation.program_id, program))
    return _counted(session, query, (Escalation.requested_at, Escalation.id), shown, offset)


def break_glass_to_review(session: Session, user: str, now: datetime, *,
                          everywhere: bool = False, shown: int = SHOWN, offset: int = 0,
                          program: str | None = None) -> Queue:
    """Break-glass uses awaiting their after-the-fact review where ``user`` reviews (or
    everywhere, for a compliance officer reading the whole queue); never their own."""
    scope = ApprovalScope(True, frozenset()) if everywhere else reviewing_scope(
        session, user, now)
    if not scope:
        return EMPTY
    query = select(ReviewItem).where(ReviewItem.kind == "break_glass",
                                     ReviewItem.status == "open", ReviewItem.user_id != user,
                                     _in_scope(ReviewItem.program_id, scope),
                                     _in_program(ReviewItem.program_id, program))
    return _counted(session, query, (ReviewItem.created_at, ReviewItem.id), shown, offset)


@dataclass(frozen=True)
class DueItem:
    item: ReviewItem
    due: datetime


def review_items_to_decide(session: Session, user: str, now: datetime, *columns,  # noqa: ANN201
                           scope: ApprovalScope | None = None):
    """The select of open items of open campaigns that ``user`` may decide (never their own
    access), with ``columns`` besides the item and its campaign's due date; None when ``user``
    reviews nowhere (``scope``: their ``reviewing_scope``, when the caller has it already).
    The Reviews page filters and pages it; the dashboard counts it."""
    scope = scope if scope is not None else reviewing_scope(session, user, now)
    if not scope:
        return None
    return (select(ReviewItem, ReviewCampaign.due, *columns)
            .join(ReviewCampaign, ReviewCampaign.id == ReviewItem.campaign_id)
            .where(ReviewCampaign.status == "open", ReviewItem.status == "open",
                   ReviewItem.user_id != user, _in_scope(ReviewItem.program_id, scope)))


def review_items_due(session: Session, user: str, now: datetime, *, shown: int = SHOWN
                     ) -> Queue:
    """Open items of open access-review campaigns that ``user`` may decide, soonest due first."""
    query = review_items_to_decide(session, user, now)
    if query is None:
        return EMPTY
    count = session.scalar(select(func.count()).select_from(query.subquery()))
    if not count:
        return EMPTY
    rows = session.execute(query.order_by(ReviewCampaign.due, ReviewItem.user_id,
                                          ReviewItem.id).limit(shown))
    return Queue(count, [DueItem(item, due) for item, due in rows])


@dataclass(frozen=True)
class OverdueCampaign:
    campaign: ReviewCampaign
    undecided: int


def overdue_campaigns(session: Session, now: datetime, *, shown: int = SHOWN) -> Queue:
    """Open campaigns whose due date has passed (the next ``reviews run-due`` applies their
    ``on_no_decision`` to what is still undecided), the longest overdue first."""
    query = select(ReviewCampaign).where(ReviewCampaign.status == "open",
                                         ReviewCampaign.due <= now)
    found = _counted(session, query, (ReviewCampaign.due, ReviewCampaign.id), shown)
    if not found.count:
        return EMPTY
    undecided = dict(session.execute(
        select(ReviewItem.campaign_id, func.count())
        .where(ReviewItem.campaign_id.in_([c.id for c in found.items]),
               ReviewItem.status == "open").group_by(ReviewItem.campaign_id)).all())
    return Queue(found.count, [OverdueCampaign(c, undecided.get(c.id, 0)) for c in found.items])


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
                      shown: int = SHOWN, offset: int = 0, participant: str | None = None,
                      flagged_only: bool = False) -> Queue:
    """Current consents flagged for renewal or in force and ending within ``within_days``,
    soonest ending first (flagged ones without an end last); ``offset`` pages the list (the
    Consents page), ``participant`` and ``flagged_only`` narrow it."""
    ending = (Consent.valid_until > now) & (Consent.valid_until <= now + timedelta(
        days=within_days))
    query = select(Consent).where(
        Consent.ended_at.is_(None), Consent.status == "active",
        Consent.needs_renewal.is_not(None) if flagged_only
        else or_(Consent.needs_renewal.is_not(None), ending))
    if participant:
        query = query.where(Consent.participant_id == participant)
    return _counted(session, query, (Consent.valid_until.is_(None), Consent.valid_until,
                                     Consent.participant_id, Consent.id), shown, offset)
