"""Checks shared by the workflow operations."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.audit import payload_of
from governance.models import AuditEvent, PolicyState, User
from governance.operations.approvers import is_reviewer, may_approve  # noqa: F401 (moved)
from governance.operations.errors import Invalid, NotFound, Refused


def require_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{name}: required, a non-empty string", {name: "required"})
    return value.strip()


def optional_text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name}: must be a string", {name: "must be a string"})
    return value.strip() or None


def active_actor(session: Session, actor: object) -> str:
    """The acting user (vouched for by the calling application) must exist and be active."""
    name = require_text(actor, "actor")
    user = session.get(User, name)
    if user is None or not user.active:
        raise Refused(f"actor '{name}' is not an active user", {"actor": "unknown or inactive"})
    return name


def load_decision(session: Session, decision_id: object) -> dict:
    """A decision as the audit trail recorded it (404 if there is none)."""
    ref = require_text(decision_id, "decision_id")
    event = session.scalar(select(AuditEvent).where(AuditEvent.kind == "decision",
                                                    AuditEvent.ref == ref))
    if event is None:
        raise NotFound(f"no decision '{ref}'", {"decision_id": "unknown"})
    return payload_of(event)


def locked_row(session: Session, model, object_id: str):
    """The row, locked against concurrent resolution until the transaction ends (None if absent).

    PostgreSQL locks the row (FOR UPDATE). SQLite has no row locks, so the whole database's
    write lock is taken first; the row is then read fresh, after any writer that got there first.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(PolicyState).where(PolicyState.id == 1)
                        .values(updated_at=PolicyState.updated_at))
    return session.scalar(select(model).where(model.__mapper__.primary_key[0] == object_id)
                          .with_for_update().execution_options(populate_existing=True))
