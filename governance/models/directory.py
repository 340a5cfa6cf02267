"""Workforce accounts and their time-stamped role assignments."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, EndMixin, Id, SourceMixin, id_column


class User(SourceMixin, Base):
    __tablename__ = "user_account"
    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(Text)  # argon2, local sign-in only
    # The directory entry: its stable id (entryUUID, objectGUID) follows renames; its DN is
    # where sign-in binds.
    directory_uuid: Mapped[str | None] = mapped_column(String(64), unique=True)
    directory_dn: Mapped[str | None] = mapped_column(Text)
    # Sign-in failures in the current window, and the lock they caused (contract section 8).
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    failures_since: Mapped[datetime | None]
    locked_until: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    # Who disabled the account, when, why and through what (contract section 2: an apply or a
    # sync never re-enables an account disabled by anything but itself).
    disabled_at: Mapped[datetime | None]
    disabled_by: Mapped[str | None] = mapped_column(String(128))
    disabled_via: Mapped[str | None] = mapped_column(String(16))
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoleAssignment(SourceMixin, EndMixin, Base):
    """User holds role in program (NULL program for organisation-scope roles).

    ``valid_from``/``valid_until`` is the declared window; ``ended_at`` records removal. A row is
    never updated in place, so the table is the assignment history.
    """

    __tablename__ = "role_assignment"
    __table_args__ = (Index("ix_role_assignment_user", "user_id", "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(Id)
    role_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str | None] = mapped_column(Id)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(128))
    # When a decision last released a field under this assignment (kept to the hour).
    last_used_at: Mapped[datetime | None]


class DirectorySync(Base):
    """Where the last directory sync left off (one row). A changed-only sync reads what changed
    after ``high_water`` (``modifyTimestamp`` on OpenLDAP, ``uSNChanged`` on Active Directory)
    from the same ``server``; anything else is a full sync."""

    __tablename__ = "directory_sync"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    server: Mapped[str | None] = mapped_column(Text)
    high_water: Mapped[str | None] = mapped_column(String(64))
    last_full_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    summary: Mapped[dict] = mapped_column(default=dict)
