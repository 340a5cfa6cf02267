"""Access review campaigns opened: what a campaign reviews (``CampaignRequest``), its items
(one per elevated assignment, and per active override, in scope), and their documents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso, to_naive_utc
from governance.db import API
from governance.ids import new_id
from governance.models import Override, Program, ReviewCampaign, ReviewItem, Role, RoleAssignment
from governance.notify import Notifier, deliver
from governance.operations.common import active_actor
from governance.operations.errors import Invalid
from governance.operations.notices import review_assigned
from governance.policy.patterns import MAX_ID_LENGTH
from governance.policy.snapshot import Window

MAX_UNUSED_DAYS = 3650  # ten years: further back would overflow a date
ON_NO_DECISION = ("revoke", "keep")


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

