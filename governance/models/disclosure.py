"""What was actually sent to a partner, under which decision and permission."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, Id, id_column


class Disclosure(Base):
    __tablename__ = "disclosure"
    __table_args__ = (Index("ix_disclosure_participant_at", "participant_id", "at"),
                      Index("ix_disclosure_decision", "decision_id"))
    id: Mapped[str] = id_column()
    decision_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    participant_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Id)
    recipient_id: Mapped[str] = mapped_column(Id)
    purpose_id: Mapped[str] = mapped_column(Id)
    basis: Mapped[str] = mapped_column(String(32))
    bundle_id: Mapped[str | None] = mapped_column(Id)
    channel: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list] = mapped_column(default=list)
    withheld: Mapped[dict] = mapped_column(default=dict)
    # {"consents": [...], "escalations": [...], "legal_basis": "required_by_law" | None}
    permission: Mapped[dict] = mapped_column(default=dict)
    justification: Mapped[str | None] = mapped_column(Text)
    accountable: Mapped[bool] = mapped_column(Boolean, default=False)
    obligations: Mapped[list] = mapped_column(default=list)
    # Emergency and break-glass disclosures are reviewed after the fact.
    review_status: Mapped[str | None] = mapped_column(String(16))
    review_finding: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None]
