"""Decide a request and write its audit row; nothing is answered unless the row commits."""
from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from governance import audit
from governance.errors import Unavailable
from governance.ids import new_id
from governance.policy.pipeline import Outcome, decide
from governance.policy.request import DecisionRequest
from governance.policy.snapshot import Snapshot

if TYPE_CHECKING:
    from governance.extension import GovernanceState


class StoreUnavailable(Unavailable):
    """The store (or the audit trail) could not be read or written: fail closed."""


class DecisionTimeout(Unavailable):
    """The request could not be decided within GOVERNANCE_DECISION_TIMEOUT_MS: fail closed."""

    code = "decision_timeout"


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
                      caller: str, via: str, deadline: float | None = None
                      ) -> tuple[RecordedDecision, dict]:
    """Decide and prepare the audit row; the decision must not be answered before
    a Recorder has committed that row. RequestError (bad input) propagates and writes nothing;
    so does DecisionTimeout once ``time.monotonic()`` passes ``deadline``."""
    outcome = decide(snapshot, request, now)
    if deadline is not None and time.monotonic() > deadline:
        raise DecisionTimeout("the request could not be decided in time; nothing was allowed")
    decision = RecordedDecision(new_id("dec"), outcome)
    payload = {"request": request.as_dict(), **decision.as_dict(), "basis": outcome.basis,
               "caller": caller, "via": via}
    row = audit.new_row("decision", payload, actor=caller, subject=request.subject,
                        participant=request.participant, ref=decision.decision_id, at=now)
    return decision, row


def decide_recorded(governance: GovernanceState, snapshot: Snapshot,
                    requests: list[DecisionRequest], *, caller: str,
                    via: str) -> list[RecordedDecision]:
    """Decide ``requests`` and return once their audit rows are committed."""
    recorder = Recorder(governance)
    for request in requests:
        recorder.add(decide_unrecorded(snapshot, request, recorder.now, caller=caller, via=via,
                                       deadline=recorder.deadline))
    return recorder.commit()


class Recorder:
    """Collects the decisions of one request and commits their audit rows.

    A large batch hands every ``CHUNK`` rows to the writer's helper thread as soon as they are
    decided, so the store's share of the work (PostgreSQL on the other core, the disk flush)
    overlaps the deciding of the rest; ``commit`` still returns only once every row is
    committed, and raises StoreUnavailable if any could not be.
    """

    CHUNK = 250

    def __init__(self, governance: GovernanceState) -> None:
        self.governance, self.now = governance, governance.clock()
        self.deadline = (time.monotonic()
                         + int(governance.config["GOVERNANCE_DECISION_TIMEOUT_MS"]) / 1000)
        self.decided: list[RecordedDecision] = []
        self._rows: list[dict] = []  # not yet handed to the writer
        self._started: list[Future] = []

    def add(self, decided: tuple[RecordedDecision, dict]) -> None:
        decision, row = decided
        self.decided.append(decision)
        self._rows.append(row)
        if len(self._rows) >= self.CHUNK:
            self._started.append(self.governance.writer.write_soon(self.engine, self._rows))
            self._rows = []

    @property
    def engine(self) -> Engine:
        return self.governance.db.engine

    def commit(self) -> list[RecordedDecision]:
        """Commit what is left, wait for every started chunk, then note which role
        assignments were used (for access reviews). After a failure no later chunk is
        written: those not begun are cancelled and the one running is waited for, so nothing
        of a batch answered 503 reaches the trail after the answer."""
        failure: BaseException | None = None
        if self._rows:
            if self._started:  # behind the started chunks, in order, on the helper thread
                self._started.append(self.governance.writer.write_soon(self.engine, self._rows))
            else:  # the common case: one request, one commit, on this thread
                try:
                    self.governance.writer.write(self.engine, self._rows)
                except Exception as exc:  # noqa: BLE001 - any failure to append fails closed
                    failure = exc
            self._rows = []
        for started in self._started:
            if failure is not None and started.cancel():
                continue
            error = started.exception()  # waits while it runs
            failure = failure or error
        if failure is not None:
            raise StoreUnavailable("the decision could not be written to the audit trail"
                                   ) from failure
        self.governance.usage.note(self.engine, (d.outcome.basis for d in self.decided),
                                   self.now)
        return self.decided
