"""A user's notifications: the unread count (the console's header, every page) and the list,
newest first in keyset pages, each one index range on ``(user_id, ...)`` however long the
inbox; and what became since of the requests they are about."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from governance.models import Escalation, Notification, Override

# What a notice is about, as the page's filter offers it (events of a host's own notifier
# show under "everything" only).
ABOUT = {
    "decide": ("Requests to decide", ("override.requested", "escalation.requested",
                                      "break_glass.used")),
    "mine": ("Decisions on my requests", ("override.approved", "override.denied",
                                          "override.lapsed", "escalation.approved",
                                          "escalation.denied")),
    "ending": ("Access ending", ("override.expiring", "override.expired", "override.revoked",
                                 "review.access_revoked")),
    "reviews": ("Access reviews", ("review.item_assigned", "review.item_overdue",
                                   "review.no_reviewer")),
}
CATEGORY_OF = {event: key for key, (_, events) in ABOUT.items() for event in events}
# Where one acts on a notice of each category: the console page's endpoint (also its path under
# the console, as in ``/console/approvals``) and its link label. Others lead to the dashboard
# (the inbox page) or, in an e-mail, to the Notifications page.
ACT_ON = {"decide": ("approvals", "Approvals"), "mine": ("requests", "Requests"),
          "ending": ("requests", "Requests"), "reviews": ("reviews", "Reviews")}


@dataclass(frozen=True)
class InboxFilter:
    unread_only: bool = False
    about: str | None = None  # a key of ABOUT


def unread_count(session: Session, user: str) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user, Notification.read_at.is_(None)))


def _where(user: str, wanted: InboxFilter) -> list:
    conditions = [Notification.user_id == user]
    if wanted.unread_only:
        conditions.append(Notification.read_at.is_(None))
    if wanted.about:
        conditions.append(Notification.event.in_(ABOUT[wanted.about][1]))
    return conditions


def count(session: Session, user: str, wanted: InboxFilter) -> int:
    return session.scalar(select(func.count()).select_from(Notification).where(
        *_where(user, wanted)))


def inbox_page(session: Session, user: str, wanted: InboxFilter, limit: int,
               before: Notification | None = None) -> list[Notification]:
    """Up to ``limit`` of ``user``'s notifications, newest first, older than ``before``."""
    query = select(Notification).where(*_where(user, wanted))
    if before is not None:
        query = query.where(or_(Notification.created_at < before.created_at,
                                and_(Notification.created_at == before.created_at,
                                     Notification.id < before.id)))
    return list(session.scalars(query.order_by(Notification.created_at.desc(),
                                               Notification.id.desc()).limit(limit)))


def own(session: Session, user: str, notification_id: str) -> Notification | None:
    """The notification, if it is ``user``'s (anyone else's reads as absent)."""
    row = session.get(Notification, notification_id) if len(notification_id) <= 64 else None
    return row if row is not None and row.user_id == user else None


@dataclass(frozen=True)
class Outcome:
    status: str  # pending, active (an override), approved (an escalation), denied, revoked,
    #   expired (ran out), lapsed (nobody decided in time)
    by: str | None
    until: datetime | None

    @property
    def text(self) -> str:
        """In words, for the line under the notice ("Now: ...")."""
        by = f" by {self.by}" if self.by and self.by != "system" else ""
        until = f"{self.until:%d %b %Y, %H:%M} UTC" if self.until else ""
        return {"pending": "waiting for a decision",
                "active": f"approved{by}, active until {until}",
                "approved": f"approved{by}, valid until {until}",
                "denied": f"denied{by}", "revoked": f"ended early{by}",
                "lapsed": "lapsed: nobody decided in time",
                "expired": "ended: its time ran out"}.get(self.status, self.status)


def outcomes(session: Session, refs: set[str], now: datetime) -> dict[str, Outcome]:
    """Where the overrides and escalations named by ``refs`` stand now (one read per kind),
    so an approver sees that a colleague already decided what they were told of."""
    found: dict[str, Outcome] = {}
    overrides = sorted(r for r in refs if r.startswith(("ovr_", "brk_")))
    if overrides:
        for o in session.scalars(select(Override).where(Override.id.in_(overrides))):
            status = o.status
            if status == "approved":
                status = "expired" if o.expires_at and o.expires_at <= now else "active"
            elif status == "expired" and o.approved_at is None:
                status = "lapsed"
            found[o.id] = Outcome(status, o.resolved_by if o.kind == "override" else None,
                                  o.expires_at if status == "active" else None)
    escalations = sorted(r for r in refs if r.startswith("esc_"))
    if escalations:
        for e in session.scalars(select(Escalation).where(Escalation.id.in_(escalations))):
            status = "expired" if e.status == "approved" and e.expires_at and \
                e.expires_at <= now else e.status
            found[e.id] = Outcome(status, e.decided_by,
                                  e.expires_at if status == "approved" else None)
    return found
