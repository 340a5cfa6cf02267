"""When each role assignment was last used, for access reviews, kept off the hot path.

A decision that releases a field under an assignment notes it here; the row's ``last_used_at``
is written at most once an hour per assignment and process, so the hot path usually only does a
dictionary lookup.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from governance.models import RoleAssignment

log = logging.getLogger(__name__)
RESOLUTION = timedelta(hours=1)
PREFIX = "assignment:"


class UsageTracker:
    def __init__(self) -> None:
        self._written: dict[int, datetime] = {}
        self._lock = threading.Lock()

    def note(self, engine: Engine, bases: Iterable[dict[str, list[str]]], now: datetime) -> None:
        names = {grant for basis in bases for grants in basis.values() for grant in grants}
        used = {int(name[len(PREFIX):]) for name in names if name.startswith(PREFIX)}
        with self._lock:
            stale = [a for a in used if now - self._written.get(a, datetime.min) >= RESOLUTION]
            for assignment in stale:
                self._written[assignment] = now
        if not stale:
            return
        try:
            with engine.begin() as connection:
                connection.execute(update(RoleAssignment).where(RoleAssignment.id.in_(stale))
                                   .values(last_used_at=now))
        except SQLAlchemyError:
            # The decision is already answered and audited; a missed "last used" only makes a
            # review recommendation more cautious.
            log.warning("could not record last use of assignments %s", stale, exc_info=True)
