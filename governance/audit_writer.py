"""Group commit for decision audit rows.

A decision is answered only after its audit row is durable. Requests that arrive while another
thread of the same process is committing queue their rows; the next committer takes them all in
one transaction (one round trip on PostgreSQL), so under load there is one commit per batch, not
per request, and a lone request pays for exactly one commit.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection, Engine

from governance.audit import write_rows
from governance.sqlite_file import WRITER_AUTOCHECKPOINT, WalCheckpointer, sqlite_file

MAX_BATCH = 2000  # rows per transaction
# A waiting request sleeps until a committer has taken its rows; this timeout is only a safety
# net (waking every millisecond to poll cost the waiting threads more CPU than the decisions).
SAFETY_WAIT = 0.05
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    rows: list[dict]
    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class AuditWriter:
    def __init__(self, durability: str = "fsync") -> None:
        self.durability = durability
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        # Only the thread holding the commit lock uses it: one connection per process, kept
        # open, so a decision pays no pool checkout or pre-ping round trip.
        self._connection: Connection | None = None
        self._pid = 0
        self.checkpointer: WalCheckpointer | None = None
        self._durable_call = False
        self._helper: ThreadPoolExecutor | None = None
        self._helper_pid = 0
        # For /healthz: when the last append succeeded and failed (monotonic), and why.
        self.last_success: float | None = None
        self.last_failure: float | None = None
        self.last_error: str | None = None

    def write(self, engine: Engine, rows: list[dict]) -> None:
        """Return once ``rows`` are committed; raise the store's error if they could not be."""
        item = _Pending(rows)
        with self._queue_lock:
            self._queue.append(item)
        while True:
            if self._commit_lock.acquire(blocking=False):
                try:
                    self._drain(engine)
                finally:
                    self._commit_lock.release()
                # Rows queued between our last look and the release would wait for nobody:
                # every committer looks again after releasing, and takes them or leaves them
                # to whoever holds the lock now.
                if item.done.is_set() and not self._queue:
                    break
            elif item.done.wait(SAFETY_WAIT):
                break
        if item.error is not None:
            raise item.error

    def write_soon(self, engine: Engine, rows: list[dict]) -> Future:
        """Start committing ``rows`` on this process's helper thread; the future's result (or
        the store's error) says when they are committed. Lets a large batch keep deciding
        while the store works on its first rows."""
        with self._queue_lock:
            if self._helper is None or self._helper_pid != os.getpid():  # threads don't fork
                self._helper = ThreadPoolExecutor(1, thread_name_prefix="audit-writer")
                self._helper_pid = os.getpid()
            helper = self._helper
        return helper.submit(self.write, engine, rows)

    def _drain(self, engine: Engine) -> None:
        while True:
            with self._queue_lock:
                batch, size = [], 0
                while self._queue and (not batch or size + len(self._queue[0].rows) <= MAX_BATCH):
                    batch.append(self._queue.pop(0))
                    size += len(batch[-1].rows)
            if not batch:
                return
            try:
                self._commit(engine, [row for item in batch for row in item.rows])
                self.last_success = time.monotonic()
            except BaseException as exc:
                # Whatever went wrong, nothing of this batch may stay half-written or hold the
                # store: roll back, drop the connection, and let the next batch start afresh.
                self._discard_connection()
                self.last_failure, self.last_error = time.monotonic(), _describe(exc)
                for item in batch:
                    item.error = exc
                log.error("audit append failed: %s", self.last_error)
                if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: go on up
                    raise
            finally:  # every waiting request is answered, whatever happened
                for item in batch:
                    item.done.set()

    def _commit(self, engine: Engine, rows: list[dict]) -> None:
        """Append and commit ``rows`` on the writer's own connection."""
        if self._connection is None or self._pid != os.getpid():
            self._connection = engine.connect()
            self._pid = os.getpid()
            self._durable_call = (engine.dialect.name == "postgresql"
                                  and self.durability == "fsync")
            if engine.dialect.name == "postgresql":
                # One statement in autocommit: the call is its own (durable) commit.
                self._connection = self._connection.execution_options(
                    isolation_level="AUTOCOMMIT")
                if self.durability == "commit":
                    self._connection.exec_driver_sql("SET synchronous_commit = off")
            else:
                self._tune_sqlite(engine)
        connection = self._connection
        write_rows(connection, rows, durable_call=self._durable_call)
        if connection.dialect.name != "postgresql":
            connection.connection.dbapi_connection.commit()
            if self.checkpointer is not None:
                self.checkpointer.poke()

    def _tune_sqlite(self, engine: Engine) -> None:
        assert self._connection is not None
        dbapi = self._connection.connection.dbapi_connection
        if self.durability == "commit":
            dbapi.execute("PRAGMA synchronous = NORMAL")
        path = sqlite_file(engine.url)
        if path is not None:
            if self.checkpointer is None or self.checkpointer.path != path:
                self.checkpointer = WalCheckpointer(path)
            dbapi.execute(f"PRAGMA wal_autocheckpoint = {WRITER_AUTOCHECKPOINT}")
        dbapi.commit()  # end any transaction the driver began

    @property
    def healthy(self) -> bool:
        """False while the last append failed and none has succeeded since."""
        return self.last_failure is None or (self.last_success or 0) > self.last_failure

    def failing_now(self, window: float = 10.0) -> bool:
        """Unhealthy, and the failure is recent: decisions are likely failing right now. (An
        old failure counts no more, so /healthz lets traffic back in to try again.)"""
        return not self.healthy and time.monotonic() - (self.last_failure or 0) < window

    def _discard_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.connection.dbapi_connection.rollback()
        except Exception:  # noqa: BLE001 - closing it below rolls back too
            pass
        try:
            connection.invalidate()
            connection.close()
        except Exception:  # noqa: BLE001 - the connection is gone either way
            log.debug("closing the audit connection failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
