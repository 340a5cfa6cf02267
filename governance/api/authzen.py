"""OpenID AuthZEN Authorization API 1.0 over the same decisions.

Mapping: subject.id = user, action.name = action, resource.type = ``participant_record``,
resource.id = participant, resource.properties.fields/.program, context.purpose/.recipient/
.bundle/.justification/.escalation. ``decision`` is true only when every field is allowed.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify

from governance import jsontext
from governance.api.http import ApiError, json_object, require_key
from governance.decisions import RecordedDecision, Recorder, decide_unrecorded
from governance.errors import Invalid, listing
from governance.extension import state
from governance.policy.request import DecisionRequest, RequestError, parse_decision_request

bp = Blueprint("governance_authzen", __name__)

RESOURCE_TYPE = "participant_record"
CONTEXT_MEMBERS = ("purpose", "recipient", "bundle", "justification", "escalation")
PROPERTY_MEMBERS = ("program", "fields")
SEMANTICS = ("execute_all", "deny_on_first_deny", "permit_on_first_permit")
TUPLE = ("subject", "action", "resource", "context")


@bp.get("/.well-known/authzen-configuration")
def configuration():
    base = current_app.config["GOVERNANCE_BASE_URL"].rstrip("/")  # never the request's Host
    return jsonify({
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    })


@bp.post("/access/v1/evaluation")
@require_key("decide")
def evaluation():
    return jsontext.response(_single(json_object()))


@bp.post("/access/v1/evaluations")
@require_key("decide")
def evaluations():
    body = json_object()
    items = body.get("evaluations")
    if items is None or items == []:
        return jsontext.response(_single(body))  # answered as a single evaluation
    if not isinstance(items, list):
        raise Invalid.naming({"evaluations": "must be an array"})
    limit = current_app.config["GOVERNANCE_MAX_BATCH"]
    if len(items) > limit:
        raise Invalid.naming({"evaluations": f"at most {limit} per request"})
    semantic = _semantic(body.get("options"))
    defaults = {k: body[k] for k in TUPLE if k in body}
    recorder = Recorder(state())
    results: list[RecordedDecision | dict] = []
    for item in items:
        result = _decide_item(recorder, defaults, item)
        results.append(result)
        allowed = isinstance(result, RecordedDecision) and result.outcome.decision == "allow"
        if semantic == "deny_on_first_deny" and not allowed:
            break
        if semantic == "permit_on_first_permit" and allowed:
            break
    recorder.commit()
    answers = [answer_of(r) if isinstance(r, RecordedDecision) else r for r in results]
    if semantic == "deny_on_first_deny" and not answers[-1]["decision"]:
        answers[-1].setdefault("context", {})["reason"] = "deny_on_first_deny"
    return jsontext.response({"evaluations": answers})


def _single(body: dict) -> dict:
    recorder = Recorder(state())
    decision = _decide(recorder, to_decision_request(body))
    recorder.commit()
    return answer_of(decision)


def _decide(recorder: Recorder, decision_request: DecisionRequest) -> RecordedDecision:
    """Decide and hand the audit row to ``recorder``; nothing is answered before it commits."""
    try:
        decided = decide_unrecorded(g.governance_snapshot, decision_request, recorder.now,
                                    caller=g.governance_key, via="authzen",
                                    deadline=recorder.deadline)
    except RequestError as exc:
        raise _renamed(exc) from None
    recorder.add(decided)
    return decided[0]


def _decide_item(recorder: Recorder, defaults: dict, item: object) -> RecordedDecision | dict:
    """One batch item: a malformed item is ``decision: false`` with the error in its context."""
    if not isinstance(item, dict):
        return _item_error({"evaluations[]": "must be an object"})
    merged = {**defaults, **{k: item[k] for k in TUPLE if k in item}}
    try:
        return _decide(recorder, to_decision_request(merged))
    except (RequestError, ApiError) as exc:
        return _item_error(exc.details or {"request": exc.message}, exc.message)


def _item_error(details: dict, message: str | None = None) -> dict:
    message = message or listing(details)
    return {"decision": False,
            "context": {"error": {"status": 400, "message": message, "details": details}}}


def answer_of(recorded: RecordedDecision) -> dict:
    """A recorded decision as an AuthZEN evaluation answer."""
    answer = recorded.as_dict()
    return {"decision": answer["decision"] == "allow",
            "context": {k: answer[k] for k in ("decision_id", "allowed", "denied",
                                                "obligations", "policy_version")}
            | {"outcome": answer["decision"]}}


def to_decision_request(body: dict) -> DecisionRequest:
    """Map an AuthZEN 4-tuple onto a decision request, naming every malformed member."""
    errors: dict[str, str] = {}
    subject = _member(body, "subject", errors, ("type", "id"))
    action = _member(body, "action", errors, ("name",))
    resource = _member(body, "resource", errors, ("type", "id"))
    context = body.get("context", {})
    if not isinstance(context, dict):
        errors["context"] = "must be an object"
        context = {}
    if resource and resource.get("type") != RESOURCE_TYPE and "resource.type" not in errors:
        errors["resource.type"] = f"must be '{RESOURCE_TYPE}'"
    properties = (resource or {}).get("properties", {})
    if not isinstance(properties, dict):
        properties = {}  # named by _member
    # The mapping reads these members: a misspelt one (``bundel``) would silently widen a
    # disclosure, so it is refused as /api/v1/decisions refuses it.
    for name, members, known in (("context", context, CONTEXT_MEMBERS),
                                 ("resource.properties", properties, PROPERTY_MEMBERS)):
        for member in members:
            if member not in known:
                errors[f"{name}.{str(member)[:200]}"] = "unknown member"
    if errors:
        raise RequestError(errors)
    data = {"subject": subject["id"], "action": action["name"], "participant": resource["id"],
            "program": properties.get("program"), "fields": properties.get("fields")}
    data.update({k: context[k] for k in CONTEXT_MEMBERS if context.get(k) is not None})
    try:
        return parse_decision_request(data)
    except RequestError as exc:
        raise _renamed(exc) from None


def _renamed(exc: RequestError) -> RequestError:
    """Report problems by their AuthZEN paths (``resource.id``, not ``participant``)."""
    return RequestError({_authzen_path(k): v for k, v in exc.details.items()})


def _member(body: dict, name: str, errors: dict, keys: tuple[str, ...]) -> dict | None:
    value = body.get(name)
    if not isinstance(value, dict):
        errors[name] = "required, an object" if value is None else "must be an object"
        return None
    for key in keys:
        if not isinstance(value.get(key), str) or not value[key]:
            errors[f"{name}.{key}"] = "required, a non-empty string"
    if "properties" in value and not isinstance(value["properties"], dict):
        errors[f"{name}.properties"] = "must be an object"
    return value


def _authzen_path(member: str) -> str:
    mapping = {"subject": "subject.id", "action": "action.name", "participant": "resource.id",
               "program": "resource.properties.program", "fields": "resource.properties.fields"}
    head, _, rest = member.partition("[")
    if head in mapping:
        return mapping[head] + (f"[{rest}" if rest else "")
    return f"context.{member}" if member in CONTEXT_MEMBERS else member


def _semantic(options: object) -> str:
    if options is None:
        return "execute_all"
    if not isinstance(options, dict):
        raise Invalid.naming({"options": "must be an object"})
    semantic = options.get("evaluations_semantic", "execute_all")
    if semantic not in SEMANTICS:
        raise Invalid.naming({"options.evaluations_semantic":
                              f"must be one of {', '.join(SEMANTICS)}"})
    return semantic

