"""The direct decision route answers exactly as the Flask view does, and hands it every error."""
from __future__ import annotations

import io

import pytest
from werkzeug.test import Client

from governance.api.direct import DirectDecisions
from governance.config import from_environment
from tests.conftest import new_key
from tests.web.test_api_errors import GOOD, audit_rows

DISCLOSE = {**GOOD, "action": "disclose", "purpose": "housing_referral",
            "recipient": "city_housing", "bundle": "housing_referral_standard",
            "fields": ["identity.name", "contact.phone", "health.diagnoses"]}
EXPORT = {**GOOD, "subject": "sam", "action": "export", "purpose": "operations",
          "fields": ["identity.name", "identity.ssn_last4"]}
JSON = "application/json"


def cases(keys: dict[str, str]) -> list[tuple[str, dict, bytes | dict]]:
    """(name, headers, body): what callers send, right and wrong."""
    decide = {"Authorization": f"Bearer {keys['decide']}", "Content-Type": JSON}
    return [
        ("view", decide, GOOD),
        ("export", decide, EXPORT),
        ("disclose", decide, DISCLOSE),
        ("request id echoed", {**decide, "X-Request-ID": "req-7"}, GOOD),
        ("json with charset", {**decide, "Content-Type": "application/json; charset=utf-8"},
         GOOD),
        ("no key", {"Content-Type": JSON}, GOOD),
        ("unknown key", {**decide, "Authorization": "Bearer ntk_AAAAAAAAAAAA_" + "x" * 43},
         GOOD),
        ("not bearer", {**decide, "Authorization": f"Basic {keys['decide']}"}, GOOD),
        ("key without decide", {**decide, "Authorization": f"Bearer {keys['manage']}"}, GOOD),
        ("text body", {**decide, "Content-Type": "text/plain"}, b'{"subject": "alice"}'),
        ("malformed json", decide, b'{"subject": '),
        ("json list", decide, b'["alice"]'),
        ("json null", decide, b"null"),
        ("empty body", decide, b""),
        ("unknown purpose", decide, {**GOOD, "purpose": "curiosity"}),
        ("unknown member", decide, {**GOOD, "purpse": "treatment"}),
    ]


def send(client: Client, headers: dict, body: bytes | dict):
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body}
    return client.post("/api/v1/decisions", headers=headers, **kwargs)


def comparable(response) -> tuple[int, dict, object]:
    body = response.get_json(silent=True)
    if isinstance(body, dict):
        body.pop("decision_id", None)
    headers = {k: v for k, v in response.headers.items() if k != "Content-Length"}
    return response.status_code, headers, body


def test_direct_route_answers_as_the_flask_view_does(org_app):
    assert isinstance(org_app.wsgi_app, DirectDecisions)  # the standalone default
    keys = {"decide": new_key(org_app, "decide"), "manage": new_key(org_app, "manage")}
    handed_to_flask = []
    org_app.before_request(lambda: handed_to_flask.append(1))
    direct, flask_only = Client(org_app), Client(org_app.wsgi_app.wrapped)
    for name, headers, body in cases(keys):
        before, flask_calls = audit_rows(org_app), len(handed_to_flask)
        answer = send(direct, headers, body)
        written = audit_rows(org_app) - before
        answered_directly = len(handed_to_flask) == flask_calls
        expected = send(flask_only, headers, body)
        assert comparable(answer) == comparable(expected), name
        # A decision is answered directly with one audit row; every error comes from Flask
        # and writes nothing.
        assert (answer.status_code == 200) == answered_directly, name
        assert written == (1 if answer.status_code == 200 else 0), name
    assert comparable(send(direct, *cases(keys)[3][1:]))[1]["X-Request-ID"] == "req-7"


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
