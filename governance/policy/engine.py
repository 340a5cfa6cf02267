"""Per-process holder of the compiled snapshot, kept current through the change feed.

Each request compares the store's revision with the snapshot's. On PostgreSQL a listener thread
(LISTEN governance_policy) keeps that revision in memory, so a request asks the database nothing;
on SQLite it is one single-row read on a connection the process keeps open for it (a WAL reader
sees every commit at once). When the revision moved, the worker reads
``policy_change`` since its own revision and reloads only the slices named there, or rebuilds
the whole snapshot after an org file apply.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from governance.models import PolicyChange
from governance.operations.state import CHANNEL
from governance.policy.loading import build_snapshot, patch_snapshot, read_state
from governance.policy.snapshot import Snapshot
from governance.sqlite_file import SqliteReader, sqlite_file

log = logging.getLogger(__name__)
PATCH_LIMIT = 500  # more changed keys than this: rebuild instead of patching
REVISION_SQL = "SELECT revision FROM policy_state WHERE id = 1"


class PolicyEngine:
    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        # How this process learns the store's revision: set up once per process (again in a
        # forked child, or after close()).
        self._watching_pid = 0
        self.listener: RevisionListener | None = None
        self.file_reader: SqliteReader | None = None

    def saw_revision(self, revision: int) -> None:
        """A write in this process committed ``revision``: no need to wait for its NOTIFY."""
        if self.listener is not None:
            self.listener.revision = max(self.listener.revision, revision)

    def close(self) -> None:
        self._watching_pid = 0
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
        if self.file_reader is not None:
            self.file_reader.close()
            self.file_reader = None

    def snapshot(self, session: Session) -> Snapshot:
        """The snapshot for the store's current revision."""
        if self._watching_pid != os.getpid():
            self.watch(session.get_bind())
        revision = self._revision(session)
        snap = self._snapshot
        if snap is not None and snap.revision >= revision:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.revision < revision:
                snap = self._catch_up(session, snap)
                self._snapshot = snap
        return snap

    def _revision(self, session: Session) -> int:
        listener = self.listener
        if listener is not None and listener.healthy():
            return listener.revision
        reader = self.file_reader
        if reader is not None:
            revision = reader.read()
            if revision is not None:
                return revision
        # No listener or reader (or it failed): through the session, which raises if the
        # store is unreachable.
        return session.connection().exec_driver_sql(REVISION_SQL).scalar() or 0

    def _catch_up(self, session: Session, snap: Snapshot | None) -> Snapshot:
        if snap is None:
            return build_snapshot(session)
        revision, _ = read_state(session)
        rows = session.execute(
            select(PolicyChange.revision, PolicyChange.scope, PolicyChange.key)
            .where(PolicyChange.revision > snap.revision, PolicyChange.revision <= revision)
        ).all()
        changes: dict[str, set[str]] = defaultdict(set)
        for _, scope, key in rows:
            changes[scope].add(key)
        complete = len({r[0] for r in rows}) == revision - snap.revision
        if (not complete or "all" in changes or None in set().union(*changes.values() or [set()])
                or sum(map(len, changes.values())) > PATCH_LIMIT):
            return build_snapshot(session)
        return patch_snapshot(session, snap, revision, changes)

    def watch(self, engine: Engine) -> None:
        """PostgreSQL: start the LISTEN thread; SQLite: open the revision reader."""
        self._watching_pid = os.getpid()
        if engine.dialect.name != "postgresql":
            path = sqlite_file(engine.url)
            self.file_reader = SqliteReader(path, REVISION_SQL) if path else None
            return
        self.listener = RevisionListener(engine.url)
        self.listener.start()


class RevisionListener(threading.Thread):
    """Keeps the store's policy revision in memory from PostgreSQL notifications."""

    def __init__(self, url) -> None:
        super().__init__(name="governance-policy-listener", daemon=True)
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.pid = os.getpid()
        self.revision = 0
        self._connected = threading.Event()
        self._stopping = threading.Event()

    def healthy(self) -> bool:
        return self._connected.is_set()

    def stop(self) -> None:
        self._stopping.set()
        self._connected.clear()

    def run(self) -> None:
        failed = False
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    row = conn.execute("SELECT revision FROM policy_state WHERE id = 1").fetchone()
                    self.revision = max(self.revision, row[0] if row else 0)
                    self._connected.set()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self.revision = max(self.revision, int(note.payload))
            except Exception as exc:  # noqa: BLE001 - any failure: requests read the store
                if self._connected.is_set() or not failed:
                    log.warning("policy listener cannot listen (%s); requests read the "
                                "revision from the store until it reconnects", exc)
                failed = True
            else:
                failed = False
            self._connected.clear()
            self._stopping.wait(1.0)
