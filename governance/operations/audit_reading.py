"""Reading the audit trail is audited too: one row per page shown, per export and per
integrity check, naming the filters (never one row per event read)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from governance import audit
from governance.audit import AuditRefused, ChainKey, Verification
from governance.errors import Unavailable

VIEWED, EXPORTED, VERIFIED = "audit.viewed", "audit.exported", "audit.verified"
SHOWN_PROBLEMS = 100  # a verification's audit row names at most this many problems


@dataclass
class RecordAuditReading:
    """``kind`` (audit.viewed or audit.exported) by ``actor``, with what was read. If the trail
    cannot be appended the reading is refused (503): nobody reads it unrecorded."""

    actor: str
    kind: str
    payload: dict
    now: datetime

    def execute(self, session: Session) -> None:
        try:
            audit.append(session, self.kind, self.payload, actor=self.actor, at=self.now)
            session.commit()
        except AuditRefused as exc:
            session.rollback()
            raise Unavailable(f"reading the audit trail could not be recorded: {exc}. Run "
                              "the integrity check, or `flask governance audit verify`.") from None


@dataclass
class VerifyAuditTrail:
    """Check the whole chain with the service's key, then record the check and its result.
    A chain too broken to append to (its head gone, another key) still gets its result shown:
    ``recorded`` says whether the check could be written."""

    actor: str
    key: ChainKey | None
    now: datetime

    def execute(self, session: Session) -> tuple[Verification, bool]:
        result = audit.verify(session, self.key)
        payload = {"rows": result.rows, "intact": not result.problems,
                   "problems": len(result.problems),
                   "first_problems": [str(p) for p in result.problems[:SHOWN_PROBLEMS]],
                   "keyed_from": result.keyed_from,
                   "key_id": self.key.key_id if self.key else None,
                   "head_seq": result.head_seq, "head_hash": result.head_hash}
        try:
            audit.append(session, VERIFIED, payload, actor=self.actor, at=self.now)
            session.commit()
        except AuditRefused:
            session.rollback()
            return result, False
        return result, True
