"""The append-only, hash-chained audit trail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base


class AuditEvent(Base):
    """One decision or change. ``hash`` links it to ``prev_hash`` (``governance.audit.link``),
    so any edit, deletion or reordering breaks the chain at a row ``audit verify`` can name."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_ref", "ref"),
        # The console's pages, newest first, are one range read of one of these: a person's
        # events in chain order, a kind's or a time range's by time (migration 0011).
        Index("ix_audit_event_kind_at", "kind", "at", "seq"),
        Index("ix_audit_event_participant", "participant", "seq"),
        Index("ix_audit_event_subject", "subject", "seq"),
        Index("ix_audit_event_actor", "actor", "seq"),
        Index("ix_audit_event_at", "at", "seq"),
    )
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                     primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    participant: Mapped[str | None] = mapped_column(String(200))
    ref: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's tip (one row). Writers lock it, so rows are appended strictly in order and a
    truncated tail is detected too. ``key_id`` fingerprints the key of a keyed chain, whose
    rows from ``keyed_from`` on are linked with HMAC."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    keyed_from: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
