"""Decide a request and write its audit row; nothing is answered unless the row commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from governance import audit
from governance.audit_writer import STORE_ERRORS, AuditWriter
from governance.ids import new_id
from governance.policy.pipeline import Outcome, decide
from governance.policy.request import DecisionRequest
from governance.policy.snapshot import Snapshot

if TYPE_CHECKING:
    from governance.extension import GovernanceState


class StoreUnavailable(RuntimeError):
    """The store (or the audit trail) could not be read or written: fail closed."""


@dataclass
class RecordedDecision:
    decision_id: str
    outcome: Outcome

    def as_dict(self) -> dict:
        o = self.outcome
        return {"decision_id": self.decision_id, "decision": o.decision, "allowed": o.allowed,
                "denied": o.denied, "obligations": o.obligations,
                "policy_version": o.policy_version}


def decide_unrecorded(snapshot: Snapshot, request: DecisionRequest, now: datetime, *,
                      caller: str, via: str) -> tuple[RecordedDecision, dict]:
    """Decide and prepare the audit row; the decision must not be answered before
    ``record`` has committed that row. RequestError (bad input) propagates and writes nothing."""
    outcome = decide(snapshot, request, now)
    decision = RecordedDecision(new_id("dec"), outcome)
    payload = {"request": request.as_dict(), **decision.as_dict(), "basis": outcome.basis,
               "caller": caller, "via": via}
    row = audit.new_row("decision", payload, actor=caller, subject=request.subject,
                        participant=request.participant, ref=decision.decision_id, at=now)
    return decision, row


def decide_recorded(governance: GovernanceState, snapshot: Snapshot,
                    requests: list[DecisionRequest], *, caller: str,
                    via: str) -> list[RecordedDecision]:
    """Decide ``requests`` and return once their audit rows are committed (one transaction);
    notes which role assignments were used, for access reviews."""
    now = governance.clock()
    decided = [decide_unrecorded(snapshot, request, now, caller=caller, via=via)
               for request in requests]
    commit_decided(governance, decided, now)
    return [decision for decision, _ in decided]


def commit_decided(governance: GovernanceState, decided: list[tuple[RecordedDecision, dict]],
                   now: datetime) -> None:
    """Commit the audit rows of ``decided`` (one transaction), then note which role
    assignments they used, for access reviews."""
    engine = governance.db.engine
    record([row for _, row in decided], writer=governance.writer, engine=engine)
    governance.usage.note(engine, [d.outcome.basis for d, _ in decided], now)


def record(rows: list[dict], *, writer: AuditWriter, engine: Engine) -> None:
    """Commit decision rows durably (group commit), or raise StoreUnavailable."""
    if not rows:
        return
    try:
        writer.write(engine, rows)
    except STORE_ERRORS as exc:
        raise StoreUnavailable("the decision could not be written to the audit trail") from exc
