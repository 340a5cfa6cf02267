"""Decide a request and write its audit row; nothing is answered unless the row commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from governance import audit
from governance.ids import new_id
from governance.policy.engine import PolicyEngine
from governance.policy.pipeline import Outcome, decide
from governance.policy.request import DecisionRequest


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


def decide_and_record(session: Session, engine: PolicyEngine, request: DecisionRequest,
                      now: datetime, *, caller: str, via: str = "api") -> RecordedDecision:
    """Decide, append the decision to the audit chain and commit (or raise StoreUnavailable).

    RequestError (bad input) propagates untouched and writes nothing.
    """
    try:
        snapshot = engine.snapshot(session)
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreUnavailable("the policy store cannot be read") from exc
    outcome = decide(snapshot, request, now)
    decision = RecordedDecision(new_id("dec"), outcome)
    payload = {"request": request.as_dict(), **decision.as_dict(), "basis": outcome.basis,
               "caller": caller, "via": via}
    try:
        audit.append(session, "decision", payload, actor=caller, subject=request.subject,
                     participant=request.participant, ref=decision.decision_id, at=now)
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        raise StoreUnavailable("the decision could not be written to the audit trail") from exc
    return decision
