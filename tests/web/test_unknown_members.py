"""A request body member the API does not know is a 400 naming it, on every call: a misspelt
member is never read, so taking the request without it could widen access."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from governance.api.openapi import SPEC_FILE
from governance.extension import state
from governance.models import AuditEvent, Override

SPEC = json.loads(SPEC_FILE.read_text())
WRITES = {"post", "put", "patch"}
# Members sent with a value, not null, so that the view reaches its member check.
FILLED = {"record": {}}
OVERRIDE = {"actor": "alice", "program": "housing", "fields": ["identity.*"],
            "actions": ["view"], "reason": "covering for bob", "minutes": 60}


def counts(app) -> tuple[int, int]:
    with app.app_context():
        session = state(app).session
        return tuple(session.scalar(select(func.count()).select_from(model))
                     for model in (Override, AuditEvent))


def schema(ref: str) -> dict:
    return SPEC["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def documented_members(body_schema: dict) -> set[str]:
    """Every member a request body schema defines, through its ``allOf`` parts."""
    if "$ref" in body_schema:
        return documented_members(schema(body_schema["$ref"]))
    members = set(body_schema.get("properties", {}))
    for part in body_schema.get("allOf", []):
        members |= documented_members(part)
    return members


def body_schema(path: str, method: str) -> dict:
    operation = SPEC["paths"][path][method]
    return operation["requestBody"]["content"]["application/json"]["schema"]


def api_writes(app) -> list[tuple[str, str]]:
    """(method, OpenAPI path) of every route under /api/v1 that takes a body."""
    return sorted({(method.lower(), re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
                   for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
                   for method in rule.methods if method.lower() in WRITES})


def test_misspelt_participant_does_not_make_an_override_program_wide(api, org_app):
    before = counts(org_app)
    response = api.post("/api/v1/overrides", json={**OVERRIDE, "partcipant": "p-100"})
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["details"] == {"partcipant": "unknown member"}
    assert "partcipant" in error["message"]
    assert counts(org_app) == before  # nothing requested, nothing audited


def test_every_unknown_member_is_named(api):
    response = api.post("/api/v1/overrides/ovr_x/approve",
                        json={"actor": "sam", "nte": "ok", "reason": "typo"})
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"nte": "unknown member",
                                                 "reason": "unknown member"}


def test_thousands_of_unknown_members_name_twenty_and_count_the_rest(api):
    """The answer never outgrows the request."""
    body = {"actor": "sam", **{f"k{n}": 1 for n in range(5000)}}
    response = api.post("/api/v1/overrides/ovr_x/approve", json=body)
    assert response.status_code == 400
    details = response.json["error"]["details"]
    assert len(details) == 21 and details["..."] == "4980 more unknown members"
    assert len(response.get_data()) < 2000


def test_every_write_refuses_an_unknown_member_and_knows_its_documented_ones(api, org_app):
    """Each body-taking route, sent every member its document defines (null) and one more:
    the one more, and only it, is named unknown. A new route without the check, or one whose
    code and document disagree on a member, fails here."""
    writes = api_writes(org_app)
    assert ("post", "/api/v1/overrides") in writes and len(writes) >= 20
    for method, path in writes:
        members = documented_members(body_schema(path, method))
        url = re.sub(r"\{verdict\}", "approve", path).replace("{", "x_").replace("}", "")
        response = api.open(url, method=method.upper(),
                            json={**{m: FILLED.get(m) for m in members}, "zz_unknown": 1})
        assert response.status_code == 400, (path, response.json)
        details = response.json["error"]["details"]
        assert details.get("zz_unknown") == "unknown member", (path, details)
        refused = {k for k, v in details.items() if v == "unknown member"}
        assert refused == {"zz_unknown"}, (path, refused)


def test_the_document_closes_every_api_request_body(org_app):
    for method, path in api_writes(org_app):
        body = body_schema(path, method)
        closed = schema(body["$ref"])
        assert closed.get("additionalProperties") is False \
            or closed.get("unevaluatedProperties") is False, path


@pytest.mark.parametrize("path,body,unknown", [
    ("/api/v1/break-glass", {"actor": "alice", "participant": "p-100", "program": "housing",
                             "reason": "overdose", "minutes": 60}, "minutes"),
    ("/api/v1/reviews/campaigns", {"actor": "rita", "program": ["housing"],
                                   "due": "2026-12-31", "on_no_decision": "revoke"}, "program"),
    ("/api/v1/users/bob/disable", {"actor": "admin", "reason": "left", "until": "x"}, "until"),
])
def test_a_workflow_with_an_unknown_member_writes_nothing(api, org_app, path, body, unknown):
    before = counts(org_app)
    response = api.post(path, json=body)
    assert response.status_code == 400
    assert response.json["error"]["details"] == {unknown: "unknown member"}
    assert counts(org_app) == before
