"""Group commit for decision audit rows.

A decision is answered only after its audit row is durable. Requests that arrive while another
thread of the same process is committing queue their rows; the next committer takes them all in
one transaction (one round trip on PostgreSQL), so under load there is one commit per batch, not
per request, and a lone request pays for exactly one commit.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from governance.audit import write_rows

MAX_BATCH = 500


@dataclass
class _Pending:
    row: dict
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class AuditWriter:
    def __init__(self) -> None:
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def write(self, engine: Engine, row: dict) -> None:
        """Return once ``row`` is committed; raise the store's error if it could not be."""
        item = _Pending(row)
        with self._queue_lock:
            self._queue.append(item)
        while not item.done.is_set():
            if self._commit_lock.acquire(blocking=False):
                try:
                    self._drain(engine)
                finally:
                    self._commit_lock.release()
            else:
                item.done.wait(0.001)
        if item.error is not None:
            raise item.error

    def _drain(self, engine: Engine) -> None:
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            if not batch:
                return
            try:
                commit(engine, [item.row for item in batch])
            except SQLAlchemyError as exc:
                for item in batch:
                    item.error = exc
            for item in batch:
                item.done.set()


def commit(engine: Engine, rows: list[dict]) -> None:
    """Append and commit ``rows`` on a connection of their own."""
    if engine.dialect.name == "postgresql":
        # One statement in autocommit: the function call is its own (durable) transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            write_rows(connection, rows)
        return
    with engine.begin() as connection:
        write_rows(connection, rows)
