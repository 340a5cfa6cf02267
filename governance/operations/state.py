"""Tell every worker that the policy changed."""
from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from governance.clock import utcnow
from governance.models import PolicyState


def bump_revision(session: Session, version: str | None = None) -> None:
    values: dict = {"revision": PolicyState.revision + 1, "updated_at": utcnow()}
    if version is not None:
        values["version"] = version
    session.execute(update(PolicyState).where(PolicyState.id == 1).values(**values))
