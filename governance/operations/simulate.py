"""SimulateDecision: decide a request with its trail, audited as a simulation.

The simulator (console) and ``POST /api/v1/decisions/explain`` run the pipeline exactly as a
decision does, but nothing is released: the audit row is of kind ``decision.simulated``, never
``decision``, so a simulation cannot back an escalation or a disclosure, does not count in the
decision figures, and does not mark any assignment as used (access reviews read that).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from governance import audit
from governance.ids import new_id
from governance.policy.explain import Explanation, explain
from governance.policy.request import DecisionRequest
from governance.policy.snapshot import Snapshot
from governance.reads.access import explanation_facts

KIND = "decision.simulated"


@dataclass
class Simulation:
    simulation_id: str
    explanation: Explanation

    def as_dict(self) -> dict:
        o = self.explanation.outcome
        return {"simulation_id": self.simulation_id, "simulated": True,
                "decision": o.decision, "allowed": o.allowed, "denied": o.denied,
                "obligations": o.obligations, "policy_version": o.policy_version,
                "trail": self.explanation.trail_dict()}


@dataclass
class SimulateDecision:
    request: DecisionRequest
    actor: str  # the signed-in user (console) or the API key's name
    via: str  # "console" or "api"

    def execute(self, session: Session, snapshot: Snapshot, now: datetime) -> Simulation:
        """Explain the request (RequestError for bad input, nothing written) and commit its
        audit row; answered only once that row is committed."""
        explanation = explain(snapshot, self.request, now,
                              explanation_facts(session, snapshot, self.request.subject))
        simulation = Simulation(new_id("sim"), explanation)
        o = explanation.outcome
        audit.append(session, KIND, {
            "request": self.request.as_dict(), "simulation_id": simulation.simulation_id,
            "decision": o.decision, "allowed": o.allowed, "denied": o.denied,
            "obligations": o.obligations, "policy_version": o.policy_version,
            "basis": o.basis, "no_rule_matched": explanation.no_rule_matched,
            "via": self.via}, actor=self.actor, subject=self.request.subject,
            participant=self.request.participant, ref=simulation.simulation_id, at=now)
        session.commit()
        return simulation
