"""Bad input is a 400 naming the problem, never a 500, never an allow, and writes nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent
from tests.conftest import new_key

GOOD = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.name"]}


def audit_rows(app) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.mark.parametrize("body,member", [
    ({**GOOD, "action": "dance"}, "action"),
    ({**GOOD, "action": None}, "action"),
    ({k: v for k, v in GOOD.items() if k != "subject"}, "subject"),
    ({**GOOD, "subject": ""}, "subject"),
    ({**GOOD, "subject": 42}, "subject"),
    ({**GOOD, "participant": ["p-100"]}, "participant"),
    ({k: v for k, v in GOOD.items() if k != "program"}, "program"),
    ({k: v for k, v in GOOD.items() if k != "fields"}, "fields"),
    ({**GOOD, "fields": []}, "fields"),
    ({**GOOD, "fields": "identity.name"}, "fields"),
    ({**GOOD, "fields": [42]}, "fields[0]"),
    ({**GOOD, "fields": ["identity.name", "bad field!"]}, "fields[1]"),
    ({**GOOD, "purpose": "curiosity"}, "purpose"),
    ({**GOOD, "bundle": "no_such_bundle"}, "bundle"),
    ({**GOOD, "action": "disclose", "recipient": "city_housing"}, "purpose"),
    ({**GOOD, "action": "disclose", "purpose": "treatment", "recipient": "riverside_clinic",
      "bundle": "housing_referral_standard"}, "bundle"),
    ({**GOOD, "purpse": "treatment"}, "purpse"),
    ({**GOOD, "justification": {"text": "x"}}, "justification"),
])
def test_invalid_decision_request_is_400_naming_the_member(api, org_app, body, member):
    before = audit_rows(org_app)
    response = api.post("/api/v1/decisions", json=body)
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "invalid_request"
    assert member in error["details"], error
    assert member in error["message"]
    assert audit_rows(org_app) == before


@pytest.mark.parametrize("data,content_type,code", [
    ('{"subject": ', "application/json", "malformed_json"),
    ("", "application/json", "malformed_json"),
    ("subject=alice", "application/x-www-form-urlencoded", "bad_content_type"),
    ('{"subject": "alice"}', "text/plain", "bad_content_type"),
    ("[1, 2]", "application/json", "invalid_request"),
    ("null", "application/json", "malformed_json"),
])
@pytest.mark.parametrize("path", ["/api/v1/decisions", "/api/v1/filter",
                                  "/access/v1/evaluation", "/access/v1/evaluations"])
def test_unparseable_bodies_are_400_json(api, path, data, content_type, code):
    response = api.post(path, data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.is_json
    assert response.json["error"]["code"] == code


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nonsense", "Basic YWxpY2U6eA==",
                                    "Bearer ntk_000000000000_" + "A" * 43])
def test_missing_or_bad_key_is_401_and_nothing_is_evaluated(org_app, header):
    client = org_app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    before = audit_rows(org_app)
    response = client.post("/api/v1/decisions", json=GOOD, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert audit_rows(org_app) == before


def test_key_with_a_wrong_secret_but_right_prefix_is_401(org_app):
    key = new_key(org_app, "decide")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    response = org_app.test_client().post("/api/v1/decisions", json=GOOD,
                                          headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


@pytest.mark.parametrize("scopes,method,path,status", [
    (("decide",), "post", "/api/v1/decisions", 200),
    (("manage",), "post", "/api/v1/decisions", 403),
    (("manage",), "post", "/access/v1/evaluation", 403),
    (("manage",), "post", "/api/v1/filter", 403),
    (("decide",), "get", "/api/v1/audit", 403),
    (("manage",), "get", "/api/v1/audit", 200),
])
def test_key_scopes(org_app, scopes, method, path, status):
    key = new_key(org_app, *scopes)
    client = org_app.test_client()
    kwargs = {"json": GOOD} if method == "post" else {}
    if path.startswith("/access"):
        kwargs = {"json": {"subject": {"type": "user", "id": "alice"},
                           "action": {"name": "view"},
                           "resource": {"type": "participant_record", "id": "p-100",
                                        "properties": {"program": "housing",
                                                       "fields": ["identity.name"]}}}}
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {key}"},
                                       **kwargs)
    assert response.status_code == status
    if status == 403:
        assert response.json["error"]["code"] == "forbidden"


def test_revoked_key_is_refused(org_app):
    from governance.operations.api_keys import RevokeApiKey

    key = new_key(org_app, "decide", name="short-lived")
    client = org_app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/decisions", json=GOOD, headers=headers).status_code == 200
    with org_app.app_context():
        RevokeApiKey("short-lived").execute(state(org_app).session)
    assert client.post("/api/v1/decisions", json=GOOD, headers=headers).status_code == 401


def test_keys_are_stored_only_as_digests(org_app):
    from governance.models import ApiKey

    key = new_key(org_app, "decide", name="digest-check")
    with org_app.app_context():
        row = state(org_app).session.scalar(select(ApiKey).where(ApiKey.name == "digest-check"))
        stored = " ".join(str(v) for v in (row.prefix, row.digest, row.name))
    assert key.split("_", 2)[2] not in stored  # the secret may itself hold "_"
    assert len(row.digest) == 64


def test_unknown_api_path_and_method_are_json(api):
    assert api.get("/api/v1/nothing-here").status_code == 404
    assert api.get("/api/v1/nothing-here").json["error"]["code"] == "not_found"
    response = api.get("/api/v1/decisions")
    assert response.status_code == 405 and response.is_json


def test_security_headers(api):
    response = api.post("/api/v1/decisions", json=GOOD)
    for header in ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy",
                   "Cache-Control", "Referrer-Policy"):
        assert header in response.headers


def test_healthz_needs_no_key(org_app):
    response = org_app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"
