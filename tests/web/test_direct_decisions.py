"""The direct decision route answers exactly as the Flask views do, and hands them every error."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from werkzeug.test import Client

from governance.api.direct import DirectDecisions
from governance.audit import payload_of
from governance.config import from_environment
from governance.extension import state
from governance.models import AuditEvent
from tests.conftest import new_key
from tests.web.test_api_errors import GOOD, audit_rows

DISCLOSE = {**GOOD, "action": "disclose", "purpose": "housing_referral",
            "recipient": "city_housing", "bundle": "housing_referral_standard",
            "fields": ["identity.name", "contact.phone", "health.diagnoses"]}
EXPORT = {**GOOD, "subject": "sam", "action": "export", "purpose": "operations",
          "fields": ["identity.name", "identity.ssn_last4"]}
JSON = "application/json"




def authzen(body: dict) -> dict:
    """The same request as an AuthZEN evaluation."""
    context = {k: body[k] for k in ("purpose", "recipient", "bundle") if k in body}
    return {"subject": {"type": "user", "id": body["subject"]}, "action": {"name": body["action"]},
            "resource": {"type": "participant_record", "id": body["participant"],
                         "properties": {"program": body["program"], "fields": body["fields"]}},
            "context": context}


PATHS = {"/api/v1/decisions": lambda body: body, "/access/v1/evaluation": authzen}


def cases(keys: dict[str, str], as_path) -> list[tuple[str, dict, bytes | dict]]:  # noqa: ANN001
    """(name, headers, body): what callers send, right and wrong."""
    decide = {"Authorization": f"Bearer {keys['decide']}", "Content-Type": JSON}
    good = as_path(GOOD)
    return [
        ("view", decide, good),
        ("export", decide, as_path(EXPORT)),
        ("disclose", decide, as_path(DISCLOSE)),
        ("request id echoed", {**decide, "X-Request-ID": "req-7"}, good),
        ("json with charset", {**decide, "Content-Type": "application/json; charset=utf-8"},
         good),
        ("no key", {"Content-Type": JSON}, good),
        ("unknown key", {**decide, "Authorization": "Bearer ntk_AAAAAAAAAAAA_" + "x" * 43},
         good),
        ("not bearer", {**decide, "Authorization": f"Basic {keys['decide']}"}, good),
        ("key without decide", {**decide, "Authorization": f"Bearer {keys['manage']}"}, good),
        ("text body", {**decide, "Content-Type": "text/plain"}, b'{"subject": "alice"}'),
        ("malformed json", decide, b'{"subject": '),
        ("json list", decide, b'["alice"]'),
        ("json null", decide, b"null"),
        ("empty body", decide, b""),
        ("unknown purpose", decide, as_path({**GOOD, "purpose": "curiosity"})),
        ("missing member", decide, {k: v for k, v in good.items() if k != "action"}),
    ]


def send(client: Client, path: str, headers: dict, body: bytes | dict):
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
    return client.post(path, headers=headers, **kwargs)


def last_payload(app) -> dict:
    with app.app_context():
        event = state(app).session.scalars(
            select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
        return payload_of(event)


def comparable(response) -> tuple[int, dict, object]:
    body = response.get_json(silent=True)
    if isinstance(body, dict):  # the decision id is new each time (AuthZEN: in the context)
        body.pop("decision_id", None)
        if isinstance(body.get("context"), dict):
            body["context"].pop("decision_id", None)
    headers = {k: v for k, v in response.headers.items() if k != "Content-Length"}
    return response.status_code, headers, body


@pytest.mark.parametrize("path", PATHS)
def test_direct_route_answers_as_the_flask_view_does(org_app, path):
    assert isinstance(org_app.wsgi_app, DirectDecisions)  # the standalone default
    keys = {"decide": new_key(org_app, "decide"), "manage": new_key(org_app, "manage")}
    handed_to_flask = []
    org_app.before_request(lambda: handed_to_flask.append(1))
    direct, flask_only = Client(org_app), Client(org_app.wsgi_app.wrapped)
    for name, headers, body in cases(keys, PATHS[path]):
        before, flask_calls = audit_rows(org_app), len(handed_to_flask)
        answer = send(direct, path, headers, body)
        written, row = audit_rows(org_app) - before, last_payload(org_app)
        answered_directly = len(handed_to_flask) == flask_calls
        expected = send(flask_only, path, headers, body)
        assert comparable(answer) == comparable(expected), name
        if written:  # the audit rows agree too, but for the decision's id
            flask_row = last_payload(org_app)
            assert {**row, "decision_id": None} == {**flask_row, "decision_id": None}, name
        # A decision is answered directly with one audit row; every error comes from Flask
        # and writes nothing.
        assert (answer.status_code == 200) == answered_directly, name
        assert written == (1 if answer.status_code == 200 else 0), name
        if name == "request id echoed":
            assert answer.headers["X-Request-ID"] == "req-7"


def test_a_body_without_length_goes_to_flask(org_app):
    key = new_key(org_app, "decide")
    response = Client(org_app).post(
        "/api/v1/decisions", input_stream=io.BytesIO(b'{"subject": "alice"}'),
        headers={"Authorization": f"Bearer {key}", "Content-Type": JSON,
                 "Transfer-Encoding": "chunked"})
    assert response.status_code == 400  # Flask read it and named what is missing


def test_off_unless_configured(make_app):
    app = make_app("sqlite", GOVERNANCE_DIRECT_DECISIONS=False)
    assert not isinstance(app.wsgi_app, DirectDecisions)


@pytest.mark.parametrize("text,value", [("true", True), ("0", False), (" Off ", False)])
def test_environment_flag(monkeypatch, text, value):
    monkeypatch.setenv("GOVERNANCE_DIRECT_DECISIONS", text)
    assert from_environment()["GOVERNANCE_DIRECT_DECISIONS"] is value


def test_environment_flag_rejects_anything_else(monkeypatch):
    monkeypatch.setenv("GOVERNANCE_DIRECT_DECISIONS", "maybe")
    with pytest.raises(RuntimeError, match="GOVERNANCE_DIRECT_DECISIONS must be true or false"):
        from_environment()
