"""Per-application holder of the compiled snapshot, rebuilt when the store's revision moves."""
from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from governance.policy.snapshot import Snapshot, build_snapshot, read_state


class PolicyEngine:
    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def snapshot(self, session: Session) -> Snapshot:
        """The snapshot for the store's current revision (one small read when unchanged)."""
        revision, _ = read_state(session)
        snap = self._snapshot
        if snap is not None and snap.revision == revision:
            return snap
        with self._lock:
            snap = self._snapshot
            if snap is None or snap.revision != revision:
                snap = build_snapshot(session)
                self._snapshot = snap
        return snap

    def invalidate(self) -> None:
        self._snapshot = None
