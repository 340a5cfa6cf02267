"""Decide a request and write its audit row; nothing is answered unless the row commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from governance import audit
from governance.audit_writer import AuditWriter
from governance.ids import new_id
from governance.policy.pipeline import Outcome, decide
from governance.policy.request import DecisionRequest
from governance.policy.snapshot import Snapshot


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


def decide_and_record(snapshot: Snapshot, request: DecisionRequest, now: datetime, *,
                      writer: AuditWriter, engine: Engine, caller: str,
                      via: str = "api") -> RecordedDecision:
    """Decide, append the decision to the audit chain durably, then answer.

    RequestError (bad input) propagates untouched and writes nothing; a store failure raises
    StoreUnavailable and no decision is returned.
    """
    outcome = decide(snapshot, request, now)
    decision = RecordedDecision(new_id("dec"), outcome)
    payload = {"request": request.as_dict(), **decision.as_dict(), "basis": outcome.basis,
               "caller": caller, "via": via}
    row = audit.new_row("decision", payload, actor=caller, subject=request.subject,
                        participant=request.participant, ref=decision.decision_id, at=now)
    try:
        writer.write(engine, row)
    except SQLAlchemyError as exc:
        raise StoreUnavailable("the decision could not be written to the audit trail") from exc
    return decision
