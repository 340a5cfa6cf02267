"""Marking one's own notifications read: opening one, or "Mark all read".

Audited as ``notification.read`` (who was told what, and when they saw it, is evidence that the
people who could act knew), once per call that changed something: opening a notice already
read writes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from governance import audit
from governance.db import CONSOLE
from governance.models import Notification
from governance.operations.common import active_actor


@dataclass
class MarkNotificationsRead:
    """The actor's own unread notifications, these ``ids`` (None: every one), are read now;
    someone else's id changes nothing. Answers how many were marked."""

    actor: str
    now: datetime
    ids: tuple[str, ...] | None = None
    via: str = CONSOLE

    def execute(self, session: Session) -> int:
        actor = active_actor(session, self.actor)
        query = update(Notification).where(Notification.user_id == actor,
                                           Notification.read_at.is_(None))
        if self.ids is not None:
            query = query.where(Notification.id.in_(list(self.ids)))
        marked = session.execute(query.values(read_at=self.now)).rowcount
        if marked:
            audit.append(session, "notification.read",
                         {"marked": marked, "which": list(self.ids) if self.ids else "all",
                          "via": self.via}, actor=actor, subject=actor, at=self.now)
        session.commit()
        return marked
