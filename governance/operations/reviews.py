"""Access review campaigns, their deadlines, and the periodic run-due job.

``RunDue`` applies every deadline that has passed: pending override requests lapse, approved
overrides that ran out are marked expired (the pipeline already ignores them), those ending within
the hour are announced once, campaigns past their due date apply ``on_no_decision``, and roles with
``review_every_days`` get a campaign when one is due. It holds a database lock while it works, so
cron may start it every minute and two runs never act twice.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso, to_naive_utc
from governance.db import API, WORKFLOW
from governance.ids import new_id
from governance.models import (
    Override,
    PolicyState,
    Program,
    ReviewCampaign,
    ReviewItem,
    Role,
    RoleAssignment,
)
from governance.notify import Notice, Notifier, deliver
from governance.operations.common import active_actor, locked_row, optional_text
from governance.operations.constraints import refuse_self_action, require_reviewer, require_status
from governance.operations.elevation import override_document
from governance.operations.errors import Invalid, NotFound
from governance.operations.notices import (
    override_expired,
    override_expiring,
    override_lapsed,
    review_assigned,
    review_revoked,
)
from governance.operations.state import bump_revision
from governance.policy.patterns import MAX_ID_LENGTH
from governance.policy.snapshot import Window

AUTO_CAMPAIGN_DAYS = 14
MAX_UNUSED_DAYS = 3650  # ten years: further back would overflow a date
RUN_DUE_LOCK = 7_240_001  # advisory lock key for run-due on PostgreSQL
ON_NO_DECISION = ("revoke", "keep")
DECISIONS = ("keep", "revoke")


def item_document(i: ReviewItem) -> dict:
    return {"id": i.id, "status": i.status, "campaign": i.campaign_id, "kind": i.kind,
            "user": i.user_id, "role": i.role_id, "program": i.program_id,
            "assignment_id": i.assignment_id, "override_id": i.override_id,
            "last_used_at": iso(i.last_used_at), "recommendation": i.recommendation,
            "decision": i.decision, "decided_by": i.decided_by, "note": i.note}


def campaign_document(c: ReviewCampaign, items: list[ReviewItem]) -> dict:
    return {"id": c.id, "status": c.status, "roles": c.roles, "programs": c.programs,
            "due": iso(c.due), "on_no_decision": c.on_no_decision,
            "items": [item_document(i) for i in items]}



def _due(value: object) -> datetime:
    try:
        return to_naive_utc(datetime.fromisoformat(str(value)))
    except ValueError:
        raise Invalid("due: an ISO 8601 date or date-time", {"due": "not a date"}) from None
    except OverflowError:  # a zone offset that carries it past the year 9999
        raise Invalid("due: outside the years 1 to 9999 once in UTC",
                      {"due": "outside the years 1 to 9999 once in UTC"}) from None


def _scope(session: Session, roles: list[str], programs: list[str]) -> None:
    """A campaign's roles must be live elevated roles and its programs live programs: a
    misspelt id would open a campaign that silently reviews nothing."""
    errors = {}
    for name, values, model, what in (("roles", roles, Role, "a live elevated role"),
                                      ("programs", programs, Program, "a live program")):
        for index, value in enumerate(values):
            row = session.get(model, value) if len(value) <= MAX_ID_LENGTH else None
            if row is None or row.retired_at is not None or (
                    model is Role and not row.elevated):
                errors[f"{name}[{index}]"] = f"not {what}"
    if errors:
        raise Invalid.naming(errors)


def open_campaign(session: Session, actor: str, roles: list[str], programs: list[str],
                  due: datetime, on_no_decision: str, now: datetime,
                  unused_days: int = 30) -> ReviewCampaign:
    """Create the campaign and one item per elevated assignment (and active override) in scope:
    one read of the assignments in scope with their last use, one batched insert of the items
    (a campaign of thousands of items makes no object or statement per item)."""
    campaign = ReviewCampaign(id=new_id("rvc"), created_by=actor, created_at=now, roles=roles,
                              programs=programs, due=due, on_no_decision=on_no_decision,
                              unused_days=unused_days, status="open")
    session.add(campaign)
    session.flush()
    rows = [*_assignment_items(session, campaign, now),
            *_override_items(session, campaign, now)]
    if rows:  # NULLs written as such, so the rows stay alike and go in one batch
        session.execute(insert(ReviewItem).execution_options(render_nulls=True), rows)
    return campaign


def _assignment_items(session: Session, campaign: ReviewCampaign, now: datetime
                      ) -> list[dict]:
    """An item for each live, active assignment of an elevated role in the campaign's scope."""
    elevated = set(session.scalars(select(Role.id).where(Role.elevated.is_(True),
                                                         Role.retired_at.is_(None))))
    query = select(RoleAssignment.id, RoleAssignment.user_id, RoleAssignment.role_id,
                   RoleAssignment.program_id, RoleAssignment.valid_from,
                   RoleAssignment.valid_until, RoleAssignment.last_used_at,
                   RoleAssignment.created_at).where(
        RoleAssignment.ended_at.is_(None),
        RoleAssignment.role_id.in_(sorted(elevated & set(campaign.roles or elevated))))
    if campaign.programs:
        query = query.where(RoleAssignment.program_id.in_(campaign.programs))
    return [_item(campaign, now, kind="assignment", user_id=a.user_id, assignment_id=a.id,
                  role_id=a.role_id, program_id=a.program_id, last_used_at=a.last_used_at,
                  recommendation=_recommend(a.last_used_at, a.created_at, now,
                                            campaign.unused_days))
            for a in session.execute(query)
            if Window(a.id, a.valid_from, a.valid_until).active(now)]


def _override_items(session: Session, campaign: ReviewCampaign, now: datetime) -> list[dict]:
    """Active overrides are reviewed with a program-wide campaign, not a role-limited one.
    A break-glass use is not: it has its own review, opened when the glass was broken."""
    if campaign.roles:
        return []
    query = select(Override.id, Override.user_id, Override.program_id).where(
        Override.kind == "override", Override.status == "approved", Override.expires_at > now)
    if campaign.programs:
        query = query.where(Override.program_id.in_(campaign.programs))
    return [_item(campaign, now, kind="override", user_id=o.user_id, override_id=o.id,
                  program_id=o.program_id, recommendation="keep")
            for o in session.execute(query)]


def _item(campaign: ReviewCampaign, now: datetime, **values: object) -> dict:
    """A review_item row for the batched insert, every row with the same keys."""
    return {"id": new_id("rvi"), "campaign_id": campaign.id, "created_at": now,
            "status": "open", "assignment_id": None, "override_id": None, "role_id": None,
            "last_used_at": None, **values}


def _recommend(last_used: datetime | None, created: datetime, now: datetime, days: int) -> str:
    """Revoke what has not been used for ``days`` (or ever, once it is that old)."""
    reference = last_used or created
    return "revoke" if reference is None or reference < now - timedelta(days=days) else "keep"


@dataclass(frozen=True)
class CampaignRequest:
    """What a campaign reviews (roles and/or programs; neither means every elevated role), by
    when, and what an undecided item becomes. Built from JSON (``from_json``) or a form; what a
    front end could not read is in ``problems``."""

    roles: tuple[str, ...]
    programs: tuple[str, ...]
    due: datetime | None
    on_no_decision: str | None
    unused_days: int = 30
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict) -> CampaignRequest:
        problems: dict[str, str] = {}
        lists = {}
        for name in ("roles", "programs"):
            value = body.get(name) or []
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                lists[name] = tuple(value)
            else:
                lists[name], problems[name] = (), "a list of ids"
        unused_days = body.get("unused_days", 30)
        if not isinstance(unused_days, int) or isinstance(unused_days, bool) \
                or not 0 <= unused_days <= MAX_UNUSED_DAYS:
            problems["unused_days"] = f"must be an integer from 0 to {MAX_UNUSED_DAYS}"
            unused_days = 30
        due = None
        try:
            due = _due(body.get("due"))
        except Invalid as exc:
            problems.update(exc.details)
        on_no_decision = body.get("on_no_decision")
        if on_no_decision not in ON_NO_DECISION:
            problems["on_no_decision"], on_no_decision = "revoke or keep", None
        return cls(lists["roles"], lists["programs"], due, on_no_decision, unused_days,
                   problems)


@dataclass(frozen=True)
class OpenedCampaign:
    campaign: ReviewCampaign
    items: list[ReviewItem]


@dataclass
class OpenCampaign:
    actor: str
    request: CampaignRequest
    now: datetime
    notifier: Notifier = field(kw_only=True)  # told after the commit
    via: str = field(default=API, kw_only=True)  # the front end, kept in the audit row

    def execute(self, session: Session) -> OpenedCampaign:
        actor = active_actor(session, self.actor)
        wanted = self.request
        errors = dict(wanted.problems)
        if "due" not in errors and wanted.due <= self.now:
            errors["due"] = "must be in the future"
        if errors:
            raise Invalid.naming(errors)
        _scope(session, list(wanted.roles), list(wanted.programs))
        campaign = open_campaign(session, actor, list(wanted.roles), list(wanted.programs),
                                 wanted.due, wanted.on_no_decision, self.now,
                                 wanted.unused_days)
        items = campaign_items(session, campaign.id)
        for item in items:
            # Handed back loaded and detached: this commit and each notice's would expire
            # them, and reading one again would cost a query per item.
            session.expunge(item)
        summary = {k: v for k, v in campaign_document(campaign, []).items() if k != "items"}
        audit.append(session, "review.campaign_opened",
                     summary | {"items": len(items), "via": self.via},
                     actor=actor, ref=campaign.id, at=self.now)
        session.commit()
        deliver(self.notifier, session, *review_assigned(session, campaign, items, self.now))
        return OpenedCampaign(campaign, items)


def campaign_items(session: Session, campaign_id: str) -> list[ReviewItem]:
    return list(session.scalars(select(ReviewItem).where(ReviewItem.campaign_id == campaign_id)
                                .order_by(ReviewItem.user_id, ReviewItem.id)))


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


@dataclass
class RunDue:
    now: datetime
    pending_minutes: int = 1440
    notices: list[Notice] = field(default_factory=list)
    notifier: Notifier | None = None  # told after the commit (the notices stay listed)
    # One audit row per item acted on, naming the item, the action and its cause.
    _rows: list[dict] = field(default_factory=list, init=False)

    def execute(self, session: Session) -> dict:
        self._lock(session)
        done = {"pending_expired": self._lapse_pending(session),
                "overrides_expired": self._expire_overrides(session),
                "expiry_warnings": self._warn(session),
                "review_reminders": self._remind(session),
                "campaigns_closed": self._close_campaigns(session),
                "campaigns_opened": self._open_scheduled(session)}
        if any(done.values()):
            self._rows.append(audit.new_row("reviews.run_due", done, actor="system",
                                            at=self.now))
            audit.append_rows(session, self._rows)
        session.commit()
        if self.notifier is not None:
            deliver(self.notifier, session, *self.notices)
        return done

    def _audit(self, kind: str, document: dict, cause: str, *, subject: str | None = None,
               ref: str | None = None) -> None:
        self._rows.append(audit.new_row(kind, {**document, "cause": cause}, actor="system",
                                        subject=subject, ref=ref or document.get("id"),
                                        at=self.now))

    def _lock(self, session: Session) -> None:
        """One run at a time: an advisory lock on PostgreSQL, the write lock on SQLite."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": RUN_DUE_LOCK})
        else:
            session.execute(update(PolicyState).where(PolicyState.id == 1)
                            .values(updated_at=PolicyState.updated_at))

    def _lapse_pending(self, session: Session) -> int:
        cutoff = self.now - timedelta(minutes=self.pending_minutes)
        rows = session.scalars(select(Override).where(Override.status == "pending",
                                                      Override.requested_at <= cutoff)).all()
        for o in rows:
            o.status, o.resolved_at, o.resolved_by = "expired", self.now, "system"
            document = override_document(o, self.now)
            self._audit("override.lapsed", document,
                        f"pending for more than {self.pending_minutes} minutes without a "
                        "decision", subject=o.user_id)
            self.notices.append(override_lapsed(o, self.pending_minutes, document, self.now))
        return len(rows)

    def _expire_overrides(self, session: Session) -> int:
        rows = session.scalars(select(Override).where(Override.status == "approved",
                                                      Override.expires_at <= self.now)).all()
        for o in rows:
            o.status = "expired"
            self._audit("override.expired", override_document(o, self.now),
                        f"its time ran out at {iso(o.expires_at)}", subject=o.user_id)
            self.notices.append(override_expired(o, override_document(o, self.now), self.now))
        if rows:
            bump_revision(session, [("overrides", o.user_id) for o in rows])
        return len(rows)

    def _warn(self, session: Session) -> int:
        rows = session.scalars(select(Override).where(
            Override.status == "approved", Override.warned_at.is_(None),
            Override.expires_at > self.now,
            Override.expires_at <= self.now + timedelta(hours=1))).all()
        for o in rows:
            o.warned_at = self.now
            self._audit("override.expiry_warned", override_document(o, self.now),
                        "ends within the hour: its holder was told", subject=o.user_id)
            self.notices.append(override_expiring(o, override_document(o, self.now), self.now))
        return len(rows)

    def _remind(self, session: Session) -> int:
        """Once, a day before the due date, tell reviewers which items are still undecided."""
        campaigns = session.scalars(select(ReviewCampaign).where(
            ReviewCampaign.status == "open", ReviewCampaign.reminded_at.is_(None),
            ReviewCampaign.due > self.now,
            ReviewCampaign.due <= self.now + timedelta(days=1))).all()
        for campaign in campaigns:
            campaign.reminded_at = self.now
            waiting = [i for i in campaign_items(session, campaign.id) if i.status == "open"]
            self._audit("review.reminder_sent", {"id": campaign.id, "undecided": len(waiting)},
                        "due within a day: reviewers were reminded")
            self.notices += review_assigned(session, campaign, waiting, self.now,
                                            event="review.item_overdue",
                                            prefix="Due within a day: ")
        return len(campaigns)

    def _close_campaigns(self, session: Session) -> int:
        campaigns = session.scalars(select(ReviewCampaign).where(
            ReviewCampaign.status == "open", ReviewCampaign.due <= self.now)).all()
        for campaign in campaigns:
            revoked = []
            for item in campaign_items(session, campaign.id):
                if item.status != "open":
                    continue
                item.status, item.decision = "decided", campaign.on_no_decision
                item.decided_by, item.decided_at = "system", self.now
                item.note = "no decision by the due date"
                rule = f"no decision by the due date (on_no_decision: {campaign.on_no_decision})"
                if campaign.on_no_decision == "revoke":
                    _revoke(session, item, "system", self.now, rule)
                    revoked.append(item)
                self._audit("review.item_decided", item_document(item),
                            f"access review {campaign.id}: {rule}", subject=item.user_id)
            campaign.status, campaign.closed_at = "closed", self.now
            self._audit("review.campaign_closed", {"id": campaign.id}, "its due date passed")
            self.notices += review_revoked(revoked, "system", self.now)
        return len(campaigns)

    def _open_scheduled(self, session: Session) -> int:
        """Roles with review_every_days get a campaign when their last one is that old."""
        opened = 0
        campaigns = session.scalars(select(ReviewCampaign)).all()
        for role in session.scalars(select(Role).where(Role.review_every_days.is_not(None),
                                                       Role.retired_at.is_(None))):
            last = max((c.created_at for c in campaigns if not c.roles or role.id in c.roles),
                       default=None)
            if last is None or last <= self.now - timedelta(days=role.review_every_days):
                campaign = open_campaign(session, "system", [role.id], [],
                                         self.now + timedelta(days=AUTO_CAMPAIGN_DAYS), "keep",
                                         self.now)
                self._audit("review.campaign_opened", {"id": campaign.id, "roles": [role.id]},
                            f"role {role.id} is reviewed every {role.review_every_days} days")
                session.flush()
                self.notices += review_assigned(session, campaign,
                                                campaign_items(session, campaign.id), self.now)
                opened += 1
        return opened

