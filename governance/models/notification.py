"""The in-app inbox: one row per recipient of each notice (``governance.notify.InboxNotifier``)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base, Id, id_column


class Notification(Base):
    """What one user was told, and when they opened it (``read_at``; None while unread).

    ``ref`` is the object the notice is about (an override, escalation or campaign id), so the
    page can say what became of it; the page to act on follows from ``event``.
    """

    __tablename__ = "notification"
    # The header's unread count, and the list newest first: each one index range per user.
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),
                      Index("ix_notification_user_created", "user_id", "created_at", "id"))
    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(Id)
    event: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    ref: Mapped[str | None] = mapped_column(Id)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
