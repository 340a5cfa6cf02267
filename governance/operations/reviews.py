"""Access review deadlines: the periodic run-due job. Campaigns are opened in
``review_campaigns``, items decided in ``review_items``.

``RunDue`` applies every deadline that has passed: pending override requests lapse, approved
overrides that ran out are marked expired (the pipeline already ignores them), those ending within
the hour are announced once, campaigns past their due date apply ``on_no_decision``, and roles with
``review_every_days`` get a campaign when one is due. It holds a database lock while it works, so
cron may start it every minute and two runs never act twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso
from governance.models import Override, PolicyState, ReviewCampaign, Role
from governance.notify import Notice, Notifier, deliver
from governance.operations.notices import (
    override_expired,
    override_expiring,
    override_lapsed,
    review_assigned,
    review_revoked,
)
from governance.operations.overrides import override_document
from governance.operations.review_campaigns import campaign_items, item_document, open_campaign
from governance.operations.review_items import _revoke
from governance.operations.state import bump_revision

AUTO_CAMPAIGN_DAYS = 14
RUN_DUE_LOCK = 7_240_001  # advisory lock key for run-due on PostgreSQL


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
