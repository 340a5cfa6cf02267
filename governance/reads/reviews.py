"""What the Reviews page reads: campaigns with their progress, the items a reviewer may decide
(filtered and paged in SQL), one campaign's items. Read only; decisions go through
``operations.review_items`` and ``operations.review_decisions``.

Progress is counted with one grouped statement over the campaigns (or programs) shown, so a
campaign of thousands of items costs a handful of rows, never the items themselves.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from governance.models import Override, ReviewCampaign, ReviewItem, RoleAssignment, User
from governance.operations.approvers import ApprovalScope
from governance.reads.access import Page
from governance.reads.attention import review_items_to_decide, reviewing_scope

CAMPAIGN_STATES = ("open", "overdue", "closed")
RECOMMENDATIONS = ("keep", "revoke")
ITEM_STATES = ("open", "keep", "revoke")


@dataclass
class Progress:
    """How far a campaign (or one program of it) has got."""

    kept: int = 0
    revoked: int = 0
    kept_by_rule: int = 0  # decided by ``on_no_decision`` at the due date, not by a person
    revoked_by_rule: int = 0
    undecided: int = 0

    @property
    def total(self) -> int:
        return self.kept + self.revoked + self.kept_by_rule + self.revoked_by_rule \
            + self.undecided

    @property
    def decided(self) -> int:
        return self.total - self.undecided

    def add(self, status: str, decision: str | None, by_rule: bool, n: int) -> None:
        if status == "open":
            self.undecided += n
        elif decision == "revoke":
            if by_rule:
                self.revoked_by_rule += n
            else:
                self.revoked += n
        elif by_rule:
            self.kept_by_rule += n
        else:
            self.kept += n


@dataclass(frozen=True)
class CampaignRow:
    campaign: ReviewCampaign
    progress: Progress
    overdue: bool


def _offset(page: int, per_page: int) -> int:
    return (max(1, page) - 1) * per_page


def _by_rule():  # noqa: ANN202
    return case((ReviewItem.decided_by == "system", 1), else_=0)


def progress_of(session: Session, campaign_ids: list[str]) -> dict[str, Progress]:
    """Each campaign's progress, in one grouped statement."""
    found = {c: Progress() for c in campaign_ids}
    if campaign_ids:
        rule = _by_rule()  # one expression in both places: PostgreSQL matches them by text
        for campaign_id, status, decision, by_rule, n in session.execute(
                select(ReviewItem.campaign_id, ReviewItem.status, ReviewItem.decision,
                       rule, func.count())
                .where(ReviewItem.campaign_id.in_(campaign_ids))
                .group_by(ReviewItem.campaign_id, ReviewItem.status, ReviewItem.decision,
                          rule)):
            found[campaign_id].add(status, decision, bool(by_rule), n)
    return found


def progress_per_program(session: Session, campaign_id: str) -> dict[str | None, Progress]:
    """One campaign's progress in each program it reviews."""
    found: dict[str | None, Progress] = {}
    rule = _by_rule()
    for program, status, decision, by_rule, n in session.execute(
            select(ReviewItem.program_id, ReviewItem.status, ReviewItem.decision, rule,
                   func.count())
            .where(ReviewItem.campaign_id == campaign_id)
            .group_by(ReviewItem.program_id, ReviewItem.status, ReviewItem.decision, rule)):
        found.setdefault(program, Progress()).add(status, decision, bool(by_rule), n)
    return dict(sorted(found.items(), key=lambda kv: kv[0] or ""))


def campaigns_page(session: Session, now: datetime, *, state: str | None, page: int,
                   per_page: int) -> Page:
    """Campaigns in ``state`` (open, overdue, closed; None for all): open ones first, each
    group soonest due first, with their progress."""
    query = select(ReviewCampaign)
    if state == "open":
        query = query.where(ReviewCampaign.status == "open", ReviewCampaign.due > now)
    elif state == "overdue":
        query = query.where(ReviewCampaign.status == "open", ReviewCampaign.due <= now)
    elif state == "closed":
        query = query.where(ReviewCampaign.status == "closed")
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    campaigns = list(session.scalars(query.order_by(
        case((ReviewCampaign.status == "open", 0), else_=1), ReviewCampaign.due.desc(),
        ReviewCampaign.id).offset(_offset(page, per_page)).limit(per_page)))
    progress = progress_of(session, [c.id for c in campaigns])
    return Page([CampaignRow(c, progress[c.id], c.status == "open" and c.due <= now)
                 for c in campaigns], total, page, per_page)


@dataclass(frozen=True)
class ItemRow:
    """One item as a reviewer sees it: whose access, its last use now, when it ends."""

    item: ReviewItem
    due: datetime
    user_name: str | None
    last_used_at: datetime | None  # the assignment's latest use (the item keeps the one at open)
    ends_at: datetime | None  # the assignment's declared end, or the override's expiry
    on_no_decision: str
    unused_days: int


@dataclass(frozen=True)
class ItemFilter:
    campaign: str | None = None
    program: str | None = None
    recommendation: str | None = None  # keep | revoke
    person: str | None = None  # part of a user id or name

    def as_args(self) -> dict[str, str]:
        """The filters that are set, as a page's query string has them."""
        return {k: v for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class Reviewer:
    """Who asks, and where they review (read once per page, however many lists it shows)."""

    session: Session
    user: str
    now: datetime
    scope: ApprovalScope

    @classmethod
    def of(cls, session: Session, user: str, now: datetime) -> Reviewer:
        return cls(session, user, now, reviewing_scope(session, user, now))


_ITEM_COLUMNS = (User.name, func.coalesce(RoleAssignment.last_used_at, ReviewItem.last_used_at),
                 func.coalesce(RoleAssignment.valid_until, Override.expires_at),
                 ReviewCampaign.on_no_decision, ReviewCampaign.unused_days)


def _joined(query):  # noqa: ANN001, ANN202
    return (query.outerjoin(User, User.id == ReviewItem.user_id)
            .outerjoin(RoleAssignment, RoleAssignment.id == ReviewItem.assignment_id)
            .outerjoin(Override, Override.id == ReviewItem.override_id))


def _filtered(query, wanted: ItemFilter):  # noqa: ANN001, ANN202
    if wanted.campaign:
        query = query.where(ReviewItem.campaign_id == wanted.campaign)
    if wanted.program:
        query = query.where(ReviewItem.program_id == wanted.program)
    if wanted.recommendation:
        query = query.where(ReviewItem.recommendation == wanted.recommendation)
    if wanted.person:
        text = wanted.person.lower()
        query = query.where(or_(func.lower(ReviewItem.user_id).contains(text, autoescape=True),
                                func.lower(User.name).contains(text, autoescape=True)))
    return query


def _to_decide(reviewer: Reviewer, wanted: ItemFilter, *columns):  # noqa: ANN202
    """The items the reviewer may decide under ``wanted`` (None: they review nowhere); the
    user table is joined only when a person is searched for or ``columns`` need it."""
    query = review_items_to_decide(reviewer.session, reviewer.user, reviewer.now, *columns,
                                   scope=reviewer.scope)
    if query is None:
        return None
    if columns:
        query = _joined(query)
    elif wanted.person:
        query = query.outerjoin(User, User.id == ReviewItem.user_id)
    return _filtered(query, wanted)


def _count(session: Session, query) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def items_to_decide(reviewer: Reviewer, wanted: ItemFilter, *, page: int, per_page: int
                    ) -> Page:
    """The open items the reviewer may decide (never their own access), soonest due first."""
    counted = _to_decide(reviewer, wanted)
    if counted is None:
        return Page([], 0, page, per_page)
    query = _to_decide(reviewer, wanted, *_ITEM_COLUMNS)
    session = reviewer.session
    rows = session.execute(query.order_by(ReviewCampaign.due, ReviewItem.user_id, ReviewItem.id)
                           .offset(_offset(page, per_page)).limit(per_page))
    return Page([ItemRow(*row) for row in rows], _count(session, counted), page, per_page)


def _recommended(reviewer: Reviewer, wanted: ItemFilter):  # noqa: ANN202
    return _to_decide(reviewer, ItemFilter(wanted.campaign, wanted.program, "revoke",
                                           wanted.person))


def recommended_revokes(reviewer: Reviewer, wanted: ItemFilter) -> list[str]:
    """Ids of the open items the reviewer may decide that are recommended for revoke (unused),
    within ``wanted``, in id order: what "Accept recommendations" decides."""
    query = _recommended(reviewer, wanted)
    if query is None:
        return []
    return list(reviewer.session.scalars(
        query.with_only_columns(ReviewItem.id).order_by(ReviewItem.id)))


def id_set_fingerprint(ids: list[str]) -> str:
    """The SHA-256 of a set of ids (sorted, one a line): a form carries the one it showed, so
    a changed set is refused even when its size is the same."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()


def own_items_under_review(session: Session, user: str) -> int:
    """How many of ``user``'s own accesses wait in open campaigns (others review them)."""
    return session.scalar(select(func.count()).select_from(ReviewItem).join(
        ReviewCampaign, ReviewCampaign.id == ReviewItem.campaign_id).where(
        ReviewCampaign.status == "open", ReviewItem.status == "open",
        ReviewItem.user_id == user)) or 0


def campaign_items(session: Session, campaign_id: str, *, state: str | None,
                   person: str | None, page: int, per_page: int) -> Page:
    """One campaign's items, each with who decided it: ``state`` open, keep or revoke."""
    query = _joined(select(ReviewItem, ReviewCampaign.due, *_ITEM_COLUMNS).join(
        ReviewCampaign, ReviewCampaign.id == ReviewItem.campaign_id)).where(
        ReviewItem.campaign_id == campaign_id)
    if state == "open":
        query = query.where(ReviewItem.status == "open")
    elif state in RECOMMENDATIONS:
        query = query.where(ReviewItem.status == "decided", ReviewItem.decision == state)
    query = _filtered(query, ItemFilter(person=person))
    total = _count(session, query)
    rows = session.execute(query.order_by(ReviewItem.user_id, ReviewItem.id)
                           .offset(_offset(page, per_page)).limit(per_page))
    return Page([ItemRow(*row) for row in rows], total, page, per_page)


def end_dates(session: Session, item_ids: list[str]) -> dict[str, datetime | None]:
    """When the access each item reviews ends by itself (None: it has no end date)."""
    if not item_ids:
        return {}
    return dict(session.execute(_joined(select(
        ReviewItem.id, func.coalesce(RoleAssignment.valid_until, Override.expires_at)))
        .where(ReviewItem.id.in_(item_ids))).all())
