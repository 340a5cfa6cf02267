"""The console's organisation file: keep an upload from its review to its apply, audit an
export. (The apply itself is ApplyOrganisation.)"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from governance import audit
from governance.models import OrgFileUpload

KEPT_FOR = timedelta(days=1)  # an upload nobody applied within a day is dropped


def file_digest(data: bytes) -> str:
    """The SHA-256 of the file as uploaded (what ``sha256sum`` prints for it)."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class KeepUploadedFile:
    """Keep a validated upload by its digest (again: a new upload of the same file renews it)
    and drop the uploads older than a day."""

    text: str
    name: str | None
    actor: str
    now: datetime

    def execute(self, session: Session) -> str:
        data = self.text.encode()
        digest = file_digest(data)
        session.execute(delete(OrgFileUpload).where(
            OrgFileUpload.uploaded_at < self.now - KEPT_FOR))
        row = session.get(OrgFileUpload, digest)
        if row is None:
            session.add(OrgFileUpload(digest=digest, name=self.name, text=self.text,
                                      size=len(data), uploaded_by=self.actor,
                                      uploaded_at=self.now))
        else:
            row.name, row.uploaded_by, row.uploaded_at = self.name, self.actor, self.now
        session.commit()
        return digest


def kept_upload(session: Session, digest: str, now: datetime) -> OrgFileUpload | None:
    """The upload with ``digest``, unless it is older than a day."""
    row = session.get(OrgFileUpload, digest)
    return row if row is not None and row.uploaded_at >= now - KEPT_FOR else None


@dataclass
class RecordOrgExport:
    """An organisation file was downloaded: it names every user, participant and consent."""

    actor: str
    fmt: str
    policy_version: str
    now: datetime

    def execute(self, session: Session) -> None:
        audit.append(session, "org.exported", {"format": self.fmt,
                                               "policy_version": self.policy_version},
                     actor=self.actor, ref=self.policy_version or None, at=self.now)
        session.commit()
