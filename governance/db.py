"""Declarative base for Need-to-Know's own tables.

The models live on their own metadata (not on a Flask-SQLAlchemy ``db.Model``) so that a host
application can mount the extension with *its* ``db``: queries run through the host's
``db.session`` and engine, while Alembic manages only our tables.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(), dict: JSON, list: JSON}


def release_session(session) -> None:  # noqa: ANN001 - a Session or scoped_session
    """End the session's transaction after a failure, whatever state its connection is in:
    a rollback on a dead connection raises, and left for the context's teardown it would
    turn a 503 into a 500; such a connection is dropped from the pool instead."""
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone
        try:
            session.invalidate()
        except Exception:  # noqa: BLE001 - nothing more can be done with it
            pass


Id = String(64)


def id_column(**kw) -> Mapped[str]:
    return mapped_column(Id, primary_key=True, **kw)


class SourceMixin:
    """Who owns a row: the org file ('file'), the API, the console or the directory sync."""

    source: Mapped[str] = mapped_column(String(16), default="file")


# Where a row came from (``source``) and what ended it (``ended_via``). An owner (the file, the
# directory) never undoes what anything else ended: a person's or a review's decision at run
# time, or the other owner's leaver (contract section 2).
FILE, DIRECTORY, API, CONSOLE, CLI, WORKFLOW = "file", "directory", "api", "console", "cli", \
    "workflow"


class EndMixin:
    """Who or what ended a time-stamped row, when and why."""

    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(128))
    ended_via: Mapped[str | None] = mapped_column(String(16))
    end_reason: Mapped[str | None] = mapped_column(Text)

    def end(self, at: datetime, by: str, via: str, reason: str) -> None:
        self.ended_at, self.ended_by, self.ended_via, self.end_reason = at, by, via, reason[:2000]

    def ended_outside(self, owner: str) -> bool:
        """Ended by something other than ``owner``, which therefore may not bring it back."""
        return self.ended_at is not None and self.ended_via != owner
