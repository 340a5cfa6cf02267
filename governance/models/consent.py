"""Participant consents. An amendment is a new version; a revocation affects later decisions."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, EndMixin, Id, SourceMixin, id_column


class Consent(SourceMixin, EndMixin, Base):
    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_participant", "participant_id", "ended_at"),)
    id: Mapped[str] = id_column()
    participant_id: Mapped[str] = mapped_column(Id)
    partners: Mapped[list] = mapped_column(default=list)
    partner_types: Mapped[list] = mapped_column(default=list)
    purposes: Mapped[list] = mapped_column(default=list)
    fields: Mapped[list] = mapped_column(default=list)
    exclude_labels: Mapped[list] = mapped_column(default=list)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes: Mapped[str | None] = mapped_column(Id)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(128))
    revoked_via: Mapped[str | None] = mapped_column(String(16))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    # ended_* (EndMixin): superseded by an amendment, or no longer in the file.
    # A renewal trigger (hospitalization, change_of_provider, participant_request) flags the
    # consent for staff; it stays in force until renewed, amended or revoked.
    needs_renewal: Mapped[str | None] = mapped_column(String(32))
    renewal_flagged_at: Mapped[datetime | None]
