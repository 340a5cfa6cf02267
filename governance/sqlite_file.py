"""SQLite helpers for the hot path: connections of our own beside SQLAlchemy's pool.

``SqliteReader`` reads the policy revision without a session (a pool checkout, a transaction
and its rollback cost about 70 us; this read about 3 us). ``WalCheckpointer`` copies the
write-ahead log into the database file from a background thread: left to SQLite, every
thousandth page written makes one decision pay for copying all of them and its fsync (5-9 ms,
the p99).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from urllib.parse import quote

log = logging.getLogger(__name__)
# The writer still checkpoints at this many pages (SQLite's default), but finds nearly all of
# them already copied, so it pays little; its next commit then starts the log over from the
# first page. A longer log only grows the file, and a commit that grows the file pays more
# for its fsync (an extra 0.2 ms per decision here, until a log of 20,000 pages was full).
WRITER_AUTOCHECKPOINT = 1000


def sqlite_file(url) -> str | None:  # noqa: ANN001 - a SQLAlchemy URL
    """The database file of a SQLite URL; None for memory or URI databases (only the
    session's own connections see those)."""
    if url.get_backend_name() != "sqlite" or url.query:
        return None
    database = url.database
    return None if not database or database == ":memory:" else database


def connect(path: str) -> sqlite3.Connection:
    """An autocommit connection to an existing file (mode=rw: never creates one)."""
    return sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, check_same_thread=False,
                           isolation_level=None)


class SqliteReader:
    """A single-value query on a connection of its own: one per process, shared by its
    threads under a lock; after a fork the child opens its own."""

    def __init__(self, path: str, sql: str) -> None:
        self.path, self.sql = path, sql
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0

    def read(self) -> int | None:
        """The value, or None if the file cannot be read (the caller asks the session)."""
        with self._lock:
            try:
                if self._connection is None or self._pid != os.getpid():
                    self._connection = connect(self.path)
                    self._pid = os.getpid()
                row = self._connection.execute(self.sql).fetchone()
            except sqlite3.Error:
                self._connection = None
                return None
        return row[0] if row else 0

    def close(self) -> None:
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None


class WalCheckpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval`` seconds while the database
    is being written, often enough that little is left for the writer's own checkpoint at
    ``WRITER_AUTOCHECKPOINT`` pages.
    The thread ends after ``idle_rounds`` rounds with nothing new and is started again by the
    next ``poke`` (so idle processes, and forked children, hold no thread)."""

    def __init__(self, path: str, interval: float = 0.02, idle_rounds: int = 10) -> None:
        self.path, self.interval, self.idle_rounds = path, interval, idle_rounds
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0

    def poke(self) -> None:
        """After a commit: make sure the thread is running."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name="governance-wal-checkpoint")
                self._thread.start()

    def _run(self) -> None:
        try:
            connection = connect(self.path)
        except sqlite3.Error as exc:
            log.warning("WAL checkpointer cannot open %s: %s", self.path, exc)
            return
        try:
            last, idle = None, 0
            while idle < self.idle_rounds:
                time.sleep(self.interval)
                state = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self.checkpoints += 1
                idle = idle + 1 if state == last else 0
                last = state
        except sqlite3.Error as exc:  # the next poke starts over
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            connection.close()
