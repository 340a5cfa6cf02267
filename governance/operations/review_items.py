"""One access-review item decided (``DecideReviewItem``): the rules every decision passes,
and what a revoke ends at once.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from governance import audit
from governance.db import WORKFLOW
from governance.models import Override, ReviewItem, RoleAssignment
from governance.notify import Notifier, deliver
from governance.operations.common import active_actor, locked_row, optional_text
from governance.operations.constraints import refuse_self_action, require_reviewer, require_status
from governance.operations.errors import Invalid, NotFound
from governance.operations.notices import review_revoked
from governance.operations.review_campaigns import item_document
from governance.operations.state import bump_revision

DECISIONS = ("keep", "revoke")


def _revoke(session: Session, item: ReviewItem, actor: str, now: datetime, why: str) -> None:
    """Revoke takes effect at once: the assignment ends, the override is revoked. No later
    apply or directory sync brings the assignment back (its end is the workflow's)."""
    changes = end_access(session, item, actor, now, why)
    if changes:
        bump_revision(session, changes)


def end_access(session: Session, item: ReviewItem, actor: str, now: datetime, why: str
                ) -> list[tuple[str, str]]:
    """End what ``item`` reviews; the policy changes to announce (one bump for many items)."""
    changes = []
    if item.assignment_id is not None:
        session.execute(update(RoleAssignment).where(
            RoleAssignment.id == item.assignment_id, RoleAssignment.ended_at.is_(None))
            .values(ended_at=now, ended_by=actor, ended_via=WORKFLOW,
                    end_reason=f"access review {item.campaign_id}: {why}"))
        changes.append(("assignments", item.user_id))
    if item.override_id is not None and item.kind == "override":
        session.execute(update(Override).where(Override.id == item.override_id,
                                               Override.status == "approved")
                        .values(status="revoked", resolved_at=now, resolved_by=actor))
        changes.append(("overrides", item.user_id))
    return changes


def check_decidable(session: Session, item: ReviewItem | None, item_id: str, actor: str,
                    now: datetime, reviewer_here: Callable[[str | None], None] | None = None
                    ) -> ReviewItem:
    """The rules every decision passes: an open campaign item, not the reviewer's own access,
    in a program where the reviewer approves overrides or escalations (``reviewer_here`` may
    answer that last one from what it already asked)."""
    if item is None or item.campaign_id is None:
        raise NotFound(f"no review item '{item_id}'")
    require_status(item.status, "open", f"review item '{item.id}' is already decided")
    refuse_self_action(actor, item.user_id, "nobody reviews their own access",
                       "the reviewed user")
    if reviewer_here is not None:
        reviewer_here(item.program_id)
    else:
        require_reviewer(session, actor, item.program_id, now,
                         "only a reviewer of this program reviews access here")
    return item


def record_decision(item: ReviewItem, actor: str, decision: str, note: object,
                     now: datetime) -> None:
    item.status, item.decision = "decided", decision
    item.note = optional_text(note, "note")
    item.decided_by, item.decided_at = actor, now


@dataclass
class DecideReviewItem:
    item_id: str
    actor: str
    decision: object
    note: str | None
    now: datetime
    notifier: Notifier | None = field(default=None, kw_only=True)  # told after the commit

    def execute(self, session: Session) -> ReviewItem:
        actor = active_actor(session, self.actor)
        if self.decision not in DECISIONS:
            raise Invalid("decision: keep or revoke", {"decision": "keep|revoke"})
        item = check_decidable(session, locked_row(session, ReviewItem, self.item_id),
                               self.item_id, actor, self.now)
        record_decision(item, actor, str(self.decision), self.note, self.now)
        if self.decision == "revoke":
            _revoke(session, item, actor, self.now, f"revoked by {actor}")
        document = item_document(item)
        audit.append(session, "review.item_decided", document, actor=actor,
                     subject=item.user_id, ref=item.id, at=self.now)
        session.commit()
        if self.notifier is not None and self.decision == "revoke":
            deliver(self.notifier, session, *review_revoked([item], actor, self.now))
        return item

