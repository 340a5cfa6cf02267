"""Many access-review items decided at once by one reviewer (the console's ``Submit decisions``
and ``Accept recommendations``).

Every item passes the same rules as ``DecideReviewItem`` (an open item, never the reviewer's
own access, a program where they review) before anything is written: one refused item refuses
the whole submission, naming it, so a reviewer never wonders which half went through. Then
each item is decided and audited on its own row, revokes end their access at once, and the
policy revision moves once for all of them, in one transaction.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance import audit
from governance.db import API
from governance.errors import GovernanceError, listing
from governance.models import PolicyState, ReviewItem
from governance.notify import Notifier, deliver
from governance.operations.common import active_actor
from governance.operations.constraints import require_reviewer
from governance.operations.errors import Invalid
from governance.operations.notices import review_revoked
from governance.operations.review_campaigns import item_document
from governance.operations.review_items import (
    DECISIONS,
    check_decidable,
    end_access,
    record_decision,
)
from governance.operations.state import bump_revision

LOCK_CHUNK = 500  # ids per locking SELECT (well under every database's parameter limit)


@dataclass(frozen=True)
class ItemDecision:
    """One item's choice: ``keep`` or ``revoke``, with an optional note."""

    item_id: str
    decision: str
    note: str | None = None


@dataclass
class DecideReviewItems:
    actor: str
    decisions: Sequence[ItemDecision]
    now: datetime
    via: str = API  # CONSOLE when a signed-in reviewer submitted the form
    notifier: Notifier | None = field(default=None, kw_only=True)  # told after the commit

    def execute(self, session: Session) -> list[ReviewItem]:
        actor = active_actor(session, self.actor)
        if not self.decisions:
            raise Invalid("decisions: choose Keep or Revoke for at least one item",
                          {"decisions": "none chosen"})
        locked = locked_items(session, [d.item_id for d in self.decisions])
        reviewer_here = _memoised_reviewer_check(session, actor, self.now)
        problems: dict[str, GovernanceError] = {}
        for d in self.decisions:
            try:
                if d.decision not in DECISIONS:
                    raise Invalid("decision: keep or revoke", {"decision": "keep|revoke"})
                check_decidable(session, locked.get(d.item_id), d.item_id, actor, self.now,
                                reviewer_here)
            except GovernanceError as exc:
                problems[d.item_id] = exc
        if problems:
            first = next(iter(problems.values()))
            details = {item_id: exc.message for item_id, exc in problems.items()}
            raise type(first)(listing(details), details, status=first.status)
        return self._decide(session, actor, locked)

    def _decide(self, session: Session, actor: str, locked: dict[str, ReviewItem]
                ) -> list[ReviewItem]:
        decided, changes, rows = [], [], []
        for d in self.decisions:
            item = locked[d.item_id]
            record_decision(item, actor, d.decision, d.note, self.now)
            if d.decision == "revoke":
                changes += end_access(session, item, actor, self.now, f"revoked by {actor}")
            rows.append(audit.new_row("review.item_decided",
                                      {**item_document(item), "via": self.via}, actor=actor,
                                      subject=item.user_id, ref=item.id, at=self.now))
            decided.append(item)
        if changes:
            bump_revision(session, changes)
        audit.append_rows(session, rows)
        # Written before the commit expires the items (read after, each would be a query).
        told = review_revoked([i for i in decided if i.decision == "revoke"], actor, self.now)
        session.commit()
        if self.notifier is not None:  # each holder whose access ended, once
            deliver(self.notifier, session, *told)
        return decided


def locked_items(session: Session, item_ids: list[str]) -> dict[str, ReviewItem]:
    """The items, locked until the transaction ends, in id order (two reviewers submitting
    overlapping lists lock in the same order, so they wait rather than deadlock). SQLite has
    no row locks: its write lock is taken first, as ``locked_row`` does."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(PolicyState).where(PolicyState.id == 1)
                        .values(updated_at=PolicyState.updated_at))
    wanted = sorted(set(item_ids))
    found = {}
    for start in range(0, len(wanted), LOCK_CHUNK):
        found.update((i.id, i) for i in session.scalars(
            select(ReviewItem).where(ReviewItem.id.in_(wanted[start:start + LOCK_CHUNK]))
            .order_by(ReviewItem.id).with_for_update()
            .execution_options(populate_existing=True)))
    return found


def _memoised_reviewer_check(session: Session, actor: str, now: datetime
                             ) -> Callable[[str | None], None]:
    """``require_reviewer`` asked once per program, however many items are in it."""
    answers: dict[str | None, GovernanceError | None] = {}

    def check(program: str | None) -> None:
        if program not in answers:
            try:
                require_reviewer(session, actor, program, now,
                                 "only a reviewer of this program reviews access here")
                answers[program] = None
            except GovernanceError as exc:
                answers[program] = exc
        if answers[program] is not None:
            raise answers[program]

    return check
