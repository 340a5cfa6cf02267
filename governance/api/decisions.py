"""POST /api/v1/decisions, /decisions/explain and /filter: thin views over the decision service."""
from __future__ import annotations

from flask import Blueprint, g

from governance import jsontext
from governance.api.http import ApiError, json_body, json_object, require_key
from governance.decisions import RecordedDecision, decide_recorded
from governance.extension import state
from governance.operations.simulate import SimulateDecision
from governance.policy.filtering import filter_record, record_field_ids
from governance.policy.request import DecisionRequest, parse_decision_request

bp = Blueprint("governance_decisions", __name__, url_prefix="/api/v1")


def decide_all(requests: list[DecisionRequest], via: str) -> list[RecordedDecision]:
    """Decide against the snapshot the key was checked with; answer only once audited."""
    return decide_recorded(state(), g.governance_snapshot, requests, caller=g.governance_key,
                           via=via)


def record_one(request: DecisionRequest, via: str) -> RecordedDecision:
    return decide_all([request], via)[0]


@bp.post("/decisions")
@require_key("decide")
def decisions():
    request = parse_decision_request(json_body())
    return jsontext.response(record_one(request, "decisions").as_dict())


@bp.post("/decisions/explain")
@require_key("decide")
def explain():
    """The decision /decisions would answer, with its trail; audited as a simulation
    (``decision.simulated``), so nothing is released under it."""
    request = parse_decision_request(json_body())
    simulation = SimulateDecision(request, actor=g.governance_key, via="api").execute(
        state().session, g.governance_snapshot, state().clock())
    return jsontext.response(simulation.as_dict())


@bp.post("/filter")
@require_key("decide")
def filter_():
    body = json_object()
    source = body.get("record")
    if not isinstance(source, dict):
        raise ApiError(400, "invalid_request", "record: required, a JSON object",
                       {"record": "required, a JSON object"})
    catalogue = g.governance_snapshot.fields  # id -> info; used for `in`
    if "fields" not in body:
        # Default: decide exactly the fields the record carries.
        carried = record_field_ids(source, catalogue)
        if not carried:
            raise ApiError(400, "invalid_request", "record: carries no field ids; send fields",
                           {"record": "carries no field ids (keys like identity.name); "
                                      "send fields"})
        body = {**body, "fields": carried}
    request = parse_decision_request(body, extra=frozenset({"record"}))
    decision = record_one(request, "filter")
    filtered, removed = filter_record(source, set(decision.outcome.allowed), catalogue)
    return jsontext.response({**decision.as_dict(), "record": filtered, "removed": removed})
