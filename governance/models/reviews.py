"""Access review campaigns and their items (also the after-the-fact review of break-glass)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, Id, id_column


class ReviewCampaign(Base):
    __tablename__ = "review_campaign"
    id: Mapped[str] = id_column()
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    roles: Mapped[list] = mapped_column(default=list)
    programs: Mapped[list] = mapped_column(default=list)
    due: Mapped[datetime]
    on_no_decision: Mapped[str] = mapped_column(String(16))
    unused_days: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[str] = mapped_column(String(16), default="open")
    closed_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the "undecided items, due within a day" notice


class ReviewItem(Base):
    """One thing to keep or revoke: an elevated assignment, an active override, or a
    break-glass use awaiting its finding (``kind``)."""

    __tablename__ = "review_item"
    __table_args__ = (Index("ix_review_item_campaign", "campaign_id", "status"),)
    id: Mapped[str] = id_column()
    campaign_id: Mapped[str | None] = mapped_column(Id)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(Id)
    assignment_id: Mapped[int | None] = mapped_column(Integer)
    override_id: Mapped[str | None] = mapped_column(Id)
    role_id: Mapped[str | None] = mapped_column(Id)
    program_id: Mapped[str | None] = mapped_column(Id)
    last_used_at: Mapped[datetime | None]
    recommendation: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
