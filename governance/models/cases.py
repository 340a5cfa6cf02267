"""Participants, their program enrolments and staff case involvements."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, EndMixin, Id, SourceMixin, id_column


class Participant(SourceMixin, Base):
    __tablename__ = "participant"
    id: Mapped[str] = id_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrollment(SourceMixin, Base):
    __tablename__ = "enrollment"
    __table_args__ = (Index("ix_enrollment_participant", "participant_id", "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Id)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class Involvement(SourceMixin, EndMixin, Base):
    """User is on the participant's case in a program between ``valid_from`` and ``valid_until``."""

    __tablename__ = "involvement"
    __table_args__ = (Index("ix_involvement_pair", "user_id", "participant_id", "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(Id)
    participant_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str] = mapped_column(Id)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
