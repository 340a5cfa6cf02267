"""Break-glass: activated by the user alone, for at most an hour, and always opening an
after-the-fact review item, which a reviewer of the program closes with a finding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import API
from governance.ids import new_id
from governance.models import Override, ReviewItem
from governance.notify import Notifier, deliver
from governance.operations import notices
from governance.operations.common import active_actor, locked_row
from governance.operations.constraints import (
    refuse_self_action,
    require_reason,
    require_reviewer,
    require_status,
)
from governance.operations.errors import Invalid, NotFound, Refused
from governance.operations.overrides import _roles_in, enrolled, override_document
from governance.operations.state import bump_revision

BREAK_GLASS_MINUTES = 60


@dataclass(frozen=True)
class BreakGlassRequest:
    """Emergency access to one enrolled participant's record, with the reason it cannot wait.
    Built from JSON by the API (``from_json``) or from a form; ``problems`` as for overrides."""

    program: str | None
    participant: str | None
    reason: str | None
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict) -> BreakGlassRequest:
        problems: dict[str, str] = {}
        values = {}
        for name in ("program", "participant", "reason"):
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                values[name] = value.strip()
            else:
                values[name] = None
                problems[name] = "required, a non-empty string"
        return cls(**values, problems=problems)


@dataclass(frozen=True)
class BreakGlassUse:
    """What a break-glass activation made: the override, its review item, and how often the
    user broke the glass in the last 30 days (``flagged`` at the alert threshold)."""

    override: Override
    review_item: ReviewItem
    uses_in_30_days: int
    flagged: bool


def break_glass_document(use: BreakGlassUse, now: datetime) -> dict:
    return {**override_document(use.override, now), "uses_in_30_days": use.uses_in_30_days,
            "flagged": use.flagged, "obligations": ["post_hoc_review"],
            "review_item": use.review_item.id}


@dataclass
class BreakGlass:
    actor: str
    request: BreakGlassRequest
    now: datetime
    alert_threshold: int = 3
    notifier: Notifier = field(kw_only=True)  # told after the commit
    via: str = field(default=API, kw_only=True)

    def execute(self, session: Session) -> BreakGlassUse:
        actor = active_actor(session, self.actor)
        wanted = self.request
        errors = dict(wanted.problems)
        if not errors and not enrolled(session, wanted.participant, wanted.program):
            errors["participant"] = "not enrolled in that program"
        if errors:
            raise Invalid.naming(errors)
        program, participant, reason = wanted.program, wanted.participant, wanted.reason
        if not _roles_in(session, actor, program, self.now):
            raise Refused(f"'{actor}' holds no role in '{program}'", {"actor": "no role here"})
        uses = 1 + session.scalar(select(func.count()).select_from(Override).where(
            Override.user_id == actor, Override.kind == "break_glass",
            Override.requested_at > self.now - timedelta(days=30)))
        row = Override(id=new_id("brk"), kind="break_glass", user_id=actor, program_id=program,
                       participant_id=participant, fields=["*"], actions=["view"],
                       reason=reason, minutes=BREAK_GLASS_MINUTES, status="approved",
                       requested_at=self.now, approved_at=self.now, resolved_by=actor,
                       expires_at=self.now + timedelta(minutes=BREAK_GLASS_MINUTES))
        session.add(row)
        review = ReviewItem(id=new_id("rvi"), kind="break_glass", user_id=actor,
                            override_id=row.id, program_id=program, status="open",
                            created_at=self.now)
        session.add(review)
        bump_revision(session, [("overrides", actor)])
        use = BreakGlassUse(row, review, uses, uses >= self.alert_threshold)
        document = break_glass_document(use, self.now)
        audit.append(session, "break_glass.used", {**document, "via": self.via},
                     actor=actor, subject=actor,
                     participant=participant, ref=row.id, at=self.now)
        session.commit()
        deliver(self.notifier, session, notices.break_glass_used(session, row, document,
                                                                  self.now))
        return use


@dataclass
class CloseReviewItem:
    """A reviewer of the program closes a break-glass review with a finding."""

    item_id: str
    actor: str
    finding: object
    now: datetime
    via: str = field(default=API, kw_only=True)

    def execute(self, session: Session) -> ReviewItem:
        actor = active_actor(session, self.actor)
        finding = require_reason(self.finding, "finding")
        item = locked_row(session, ReviewItem, self.item_id)
        if item is None or item.kind != "break_glass":
            raise NotFound(f"no break-glass review '{self.item_id}'")
        require_status(item.status, "open", "this review is already closed")
        refuse_self_action(actor, item.user_id, "nobody reviews their own break-glass use",
                           "the user")
        require_reviewer(session, actor, item.program_id, self.now,
                         "only a reviewer of this program closes this review")
        item.status, item.decision, item.note = "closed", "reviewed", finding
        item.decided_by, item.decided_at = actor, self.now
        audit.append(session, "break_glass.reviewed", {"item": item.id, "finding": finding,
                                                       "via": self.via},
                     actor=actor, subject=item.user_id, ref=item.override_id, at=self.now)
        session.commit()
        return item


def closed_review_document(item: ReviewItem) -> dict:
    return {"id": item.id, "status": item.status, "override": item.override_id,
            "finding": item.note, "reviewed_by": item.decided_by}
