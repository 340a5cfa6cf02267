"""Time-bounded elevated access (overrides, break-glass) and disclosure escalations."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, Id, id_column


class Override(Base):
    """A request for elevated access; ``kind`` is ``override`` or ``break_glass``.

    Active while status is ``approved`` and ``approved_at <= now < expires_at``.
    """

    __tablename__ = "override"
    __table_args__ = (Index("ix_override_user_status", "user_id", "status"),)
    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(16), default="override")
    user_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Id)
    participant_id: Mapped[str | None] = mapped_column(Id)
    fields: Mapped[list] = mapped_column(default=list)
    actions: Mapped[list] = mapped_column(default=list)
    reason: Mapped[str] = mapped_column(Text)
    minutes: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)
    # When the "expires in an hour" notice went out (so run-due sends it once).
    warned_at: Mapped[datetime | None]


class Escalation(Base):
    """Sign-off for a disclosure; once approved it covers the same request shape for 7 days."""

    __tablename__ = "escalation"
    __table_args__ = (Index("ix_escalation_match", "user_id", "participant_id", "status"),)
    id: Mapped[str] = id_column()
    decision_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(Id)
    participant_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Id)
    recipient_id: Mapped[str | None] = mapped_column(Id)
    purpose_id: Mapped[str | None] = mapped_column(Id)  # an export may name no purpose
    action: Mapped[str] = mapped_column(String(16), default="disclose")
    fields: Mapped[list] = mapped_column(default=list)
    justification: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
