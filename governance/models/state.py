"""One row telling every worker which policy is current."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from governance.clock import utcnow
from governance.db import Base


class PolicyState(Base):
    """``revision`` grows on every change that can alter a decision (workers compare it to the
    revision their compiled snapshot was built from); ``version`` is the content hash of the
    policy rules that decisions report as ``policy_version``."""

    __tablename__ = "policy_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    version: Mapped[str] = mapped_column(String(64), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyChange(Base):
    """What a revision changed, so workers patch their snapshot instead of rebuilding it.

    ``scope`` names a slice (``consents`` of participant ``key``, ``assignments`` of user ``key``,
    ...) or ``all`` for a change that needs a full rebuild (an org file apply).
    """

    __tablename__ = "policy_change"
    __table_args__ = (Index("ix_policy_change_revision", "revision"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    scope: Mapped[str] = mapped_column(String(32))
    key: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)
