"""The catalogue: programs, fields, purposes, roles and their grants, partners, bundles."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base, EndMixin, Id, SourceMixin, id_column


class CatalogEntry(SourceMixin):
    """Catalogue rows are retired, never deleted, so history and old audit rows still resolve."""

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]


class Program(CatalogEntry, Base):
    __tablename__ = "program"
    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))


class Field(CatalogEntry, Base):
    __tablename__ = "field"
    id: Mapped[str] = id_column()
    sensitivity: Mapped[str] = mapped_column(String(20))
    labels: Mapped[list] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)


class Purpose(CatalogEntry, Base):
    __tablename__ = "purpose"
    id: Mapped[str] = id_column()
    basis: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)


class Role(CatalogEntry, Base):
    __tablename__ = "role"
    id: Mapped[str] = id_column()
    name: Mapped[str | None] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16))
    elevated: Mapped[bool] = mapped_column(Boolean, default=False)
    review_every_days: Mapped[int | None] = mapped_column(Integer)
    approves: Mapped[list] = mapped_column(default=list)
    console: Mapped[list] = mapped_column(default=list)  # console powers: admin, auditor, reviewer
    max_override_minutes: Mapped[int | None] = mapped_column(Integer)
    eligible_overrides: Mapped[list] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)


class CasbinRule(Base):
    """Casbin policy lines. ``p`` lines are the role matrix: (role, field pattern, action)."""

    __tablename__ = "casbin_rule"
    __table_args__ = (Index("ix_casbin_rule_line", "ptype", "v0", "v1", "v2"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ptype: Mapped[str] = mapped_column(String(8))
    v0: Mapped[str] = mapped_column(String(255), default="")
    v1: Mapped[str] = mapped_column(String(255), default="")
    v2: Mapped[str] = mapped_column(String(255), default="")
    v3: Mapped[str] = mapped_column(String(255), default="")
    v4: Mapped[str] = mapped_column(String(255), default="")
    v5: Mapped[str] = mapped_column(String(255), default="")

    def values(self) -> list[str]:
        vals = [self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        while vals and vals[-1] == "":
            vals.pop()
        return vals


class ConsoleGrantEdit(EndMixin, Base):
    """A grant line the console's role matrix added or removed (contract sections 2 and 9).

    Like any run-time decision it outranks the org file: an apply that would undo it reports a
    conflict and leaves it, until the file agrees (the edit is then settled, ended by the file)
    or the apply is given ``--replace-console-edits``. A later edit of the same line in the
    console ends this one.
    """

    __tablename__ = "console_grant_edit"
    __table_args__ = (Index("ix_console_grant_edit_line", "role_id", "action", "field_pattern",
                            "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_id: Mapped[str] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(16))
    field_pattern: Mapped[str] = mapped_column(String(255))
    op: Mapped[str] = mapped_column(String(8))  # add | remove
    made_at: Mapped[datetime]
    made_by: Mapped[str] = mapped_column(String(128))
    policy_version: Mapped[str | None] = mapped_column(String(32))  # the version it made


class Partner(CatalogEntry, Base):
    __tablename__ = "partner"
    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    standard: Mapped[bool] = mapped_column(Boolean, default=True)
    channels: Mapped[list] = mapped_column(default=list)
    address: Mapped[str | None] = mapped_column(Text)


class Bundle(CatalogEntry, Base):
    __tablename__ = "bundle"
    id: Mapped[str] = id_column()
    purpose_id: Mapped[str] = mapped_column(Id)
    partner_types: Mapped[list] = mapped_column(default=list)
    required: Mapped[list] = mapped_column(default=list)
    optional: Mapped[list] = mapped_column(default=list)
    prohibited: Mapped[list] = mapped_column(default=list)
    description: Mapped[str | None] = mapped_column(Text)


class DirectoryGroupRole(CatalogEntry, Base):
    """An LDAP group whose members the directory sync gives a role (in a program)."""

    __tablename__ = "directory_group_role"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_dn: Mapped[str] = mapped_column(String(500))
    role_id: Mapped[str] = mapped_column(Id)
    program_id: Mapped[str | None] = mapped_column(Id)
    # The directory is the only source of this role in this program: the sync also ends
    # assignments of it that the file, the API or the console made.
    authoritative: Mapped[bool] = mapped_column(Boolean, default=False)
