"""Tell every worker of every instance that the policy changed, and what changed."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from governance.clock import utcnow
from governance.models import PolicyChange, PolicyState

CHANNEL = "governance_policy"
EVERYTHING = ("all", None)


def bump_revision(session: Session, changes: Iterable[tuple[str, str | None]] = (EVERYTHING,),
                  *, version: str | None = None) -> int:
    """Advance the revision inside the caller's transaction and record what it changed.

    ``changes`` are (scope, key) pairs, e.g. ("consents", "p-100"); ("all", None) makes
    workers rebuild their snapshot. On PostgreSQL a NOTIFY (delivered at commit) wakes every
    listening worker at once.
    """
    values: dict = {"revision": PolicyState.revision + 1, "updated_at": utcnow()}
    if version is not None:
        values["version"] = version
    session.execute(update(PolicyState).where(PolicyState.id == 1).values(**values))
    revision = session.scalar(select(PolicyState.revision).where(PolicyState.id == 1))
    now = utcnow()
    session.execute(insert(PolicyChange), [
        {"revision": revision, "scope": scope, "key": key, "at": now}
        for scope, key in dict.fromkeys(changes)])
    # The extension's after_commit hook tells this process's engine at once.
    session.info["governance_revision"] = revision
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :revision)"),
                        {"channel": CHANNEL, "revision": str(revision)})
    return revision


PROVISIONING_LOCK = 7_240_002  # advisory lock key shared by apply and the directory sync


def provisioning_lock(session: Session) -> None:
    """Serialise an apply and a directory sync (each reads, plans and writes the same users and
    assignments): an advisory lock on PostgreSQL, the database's write lock on SQLite. Both
    last until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PROVISIONING_LOCK})
    else:
        session.execute(update(PolicyState).where(PolicyState.id == 1)
                        .values(updated_at=PolicyState.updated_at))
