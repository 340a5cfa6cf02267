"""Organisation files uploaded in the console, kept by their SHA-256 from review to apply."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from governance.db import Base


class OrgFileUpload(Base):
    """The exact text an administrator reviewed (its dry-run plan), so the apply runs it and
    nothing else; pruned a day after its upload."""

    __tablename__ = "org_file_upload"
    __table_args__ = (Index("ix_org_file_upload_uploaded_at", "uploaded_at"),)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    uploaded_at: Mapped[datetime]
