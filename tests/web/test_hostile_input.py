"""Hostile input from outside (contract section 7): every malformed request a named 4xx,
nothing allowed, nothing half-written; limits on bodies, ids, nesting and time."""
from __future__ import annotations

import io
import json
import sqlite3
import time

import pytest
from sqlalchemy import func, select

from governance import decisions
from governance.extension import state
from governance.models import AuditEvent
from governance.policy import request as request_module
from tests.conftest import apply_file, new_key

GOOD = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.name"]}
EVALUATION = {"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"},
              "resource": {"type": "participant_record", "id": "p-100",
                           "properties": {"program": "housing", "fields": ["identity.name"]}}}
DECISION_PATHS = ["/api/v1/decisions", "/access/v1/evaluation"]


def post_raw(api, path: str, body: bytes, **headers):
    return api.post(path, data=body, headers={"Content-Type": "application/json", **headers})


def audit_rows(app) -> int:
    with app.app_context():
        count = state(app).session.scalar(select(func.count()).select_from(AuditEvent))
        state(app).session.rollback()
        return count


def body_for(path: str, request: dict) -> dict:
    if path == "/api/v1/decisions":
        return request
    return {**EVALUATION, "subject": {"type": "user", "id": request["subject"]},
            "resource": {**EVALUATION["resource"], "id": request["participant"],
                         "properties": {"program": request["program"],
                                        "fields": request["fields"]}}}


@pytest.mark.parametrize("path", DECISION_PATHS)
@pytest.mark.parametrize("body,code", [
    (b'{"subject": "alice", "subject": "bo", "action": "view", "participant": "p-100", '
     b'"program": "housing", "fields": ["identity.name"]}', "malformed_json"),
    (b'{"subject": "\\ud800", "action": "view", "participant": "p-100", "program": "housing", '
     b'"fields": ["identity.name"]}', "malformed_json"),
    (b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}", "malformed_json"),
    (b'{"x": ' + b"[" * 3000 + b"]" * 3000 + b"}", "malformed_json"),
    (b"", "malformed_json"),
    (b"null", "malformed_json"),
])
def test_malformed_bodies_are_named_400s_and_write_nothing(api, org_app, path, body, code):
    before = audit_rows(org_app)
    response = post_raw(api, path, body)
    assert response.status_code == 400, response.data
    assert response.json["error"]["code"] == code
    assert audit_rows(org_app) == before


@pytest.mark.parametrize("path", DECISION_PATHS)
def test_a_body_over_the_limit_is_a_413_before_anything_is_decided(api, org_app, path):
    before = audit_rows(org_app)
    padding = "x" * (1 << 20)
    body = json.dumps({**body_for(path, GOOD), "pad": padding}).encode()
    response = post_raw(api, path, body)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "body_too_large"
    assert response.json["error"]["details"]["limit_bytes"] == 1 << 20
    assert audit_rows(org_app) == before


def post_chunked(api, path: str, body: bytes):
    """As gunicorn hands on a chunked body: no Content-Length, the stream ends where it ends."""
    return api.post(path, input_stream=io.BytesIO(body),
                    headers={"Content-Type": "application/json",
                             "Transfer-Encoding": "chunked"},
                    environ_overrides={"wsgi.input_terminated": True})


@pytest.mark.parametrize("path", [*DECISION_PATHS, "/api/v1/overrides"])
def test_a_chunked_body_over_the_limit_is_a_413_not_a_cut_body(api, org_app, path):
    before = audit_rows(org_app)
    body = json.dumps({**body_for(path, GOOD), "pad": "x" * (1 << 20)}).encode()
    response = post_chunked(api, path, body)
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == "body_too_large"
    assert audit_rows(org_app) == before


def test_a_chunked_body_within_the_limit_is_read_whole(api):
    response = post_chunked(api, "/api/v1/decisions", json.dumps(GOOD).encode())
    assert response.status_code == 200, response.json
    assert response.json["allowed"] == ["identity.name"]


def test_body_limit_is_configurable_and_the_batch_names_its_own(make_app, backend):
    app = make_app(backend, GOVERNANCE_MAX_BODY_BYTES=300)
    apply_file(app)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app)}"
    assert client.post("/api/v1/decisions", json=GOOD).status_code == 200
    long = {**GOOD, "justification": "j" * 400}
    assert client.post("/api/v1/decisions", json=long).status_code == 413
    batch = {"evaluations": [EVALUATION] * 5}  # over 300 bytes, under the batch limit
    response = client.post("/access/v1/evaluations", json=batch)
    assert response.status_code == 200 and len(response.json["evaluations"]) == 5


@pytest.mark.parametrize("member", ["subject", "participant", "program", "purpose"])
def test_ids_longer_than_200_characters_are_refused_by_name(api, member):
    response = api.post("/api/v1/decisions", json={**GOOD, "purpose": "treatment",
                                                   member: "a" * 201})
    assert response.status_code == 400
    assert response.json["error"]["details"][member] == "too long (at most 200 characters)"


def test_a_field_id_longer_than_200_characters_is_refused_and_not_echoed(api):
    response = api.post("/api/v1/decisions", json={**GOOD, "fields": ["a." + "b" * 250]})
    assert response.status_code == 400
    assert response.json["error"]["details"]["fields[0]"].startswith("too long")
    assert "b" * 250 not in response.get_data(as_text=True)


def test_an_unknown_subject_of_200_characters_is_decided_and_audited(api, org_app):
    subject = "u" * 200
    response = api.post("/api/v1/decisions", json={**GOOD, "subject": subject})
    assert response.status_code == 200
    assert response.json["denied"] == {"identity.name": "subject_inactive"}
    with org_app.app_context():
        row = state(org_app).session.scalar(select(AuditEvent).where(
            AuditEvent.ref == response.json["decision_id"]))
        assert row.subject == subject


@pytest.mark.timeout(60)
@pytest.mark.parametrize("path", DECISION_PATHS)
def test_patterns_of_many_stars_are_decided_at_once(api, path):
    fields = ["*" * 50 + "x", "i*" * 60 + "q", "*.*" * 60]
    started = time.monotonic()
    response = api.post(path, json=body_for(path, {**GOOD, "fields": fields}))
    assert response.status_code == 200
    assert time.monotonic() - started < 10  # a backtracking matcher takes minutes here
    answer = response.json if path == "/api/v1/decisions" else response.json["context"]
    assert "identity.name" not in answer["allowed"] or fields[2] == "*.*" * 60


@pytest.mark.timeout(60)
def test_an_approved_override_of_many_star_patterns_cannot_slow_decisions(api):
    pattern = "*" * 40 + "*".join("identity.name") + "*" * 40  # a regex would backtrack

    response = api.post("/api/v1/overrides", json={
        "actor": "nick", "program": "housing", "participant": "p-100",
        "fields": [pattern], "actions": ["view"], "reason": "cover", "minutes": 60})
    assert response.status_code == 201, response.json
    approved = api.post(f"/api/v1/overrides/{response.json['id']}/approve", json={"actor": "sam"})
    assert approved.status_code == 200, approved.json
    started = time.monotonic()
    answer = api.post("/api/v1/decisions", json={**GOOD, "subject": "nick", "fields": ["*"]})
    assert answer.status_code == 200
    assert "identity.name" in answer.json["allowed"]
    assert time.monotonic() - started < 5


def test_authzen_refuses_unknown_context_and_property_members(api, org_app):
    before = audit_rows(org_app)
    misspelt = {**EVALUATION, "action": {"name": "disclose"},
                "context": {"purpose": "housing_referral", "recipient": "city_housing",
                            "bundel": "housing_referral_standard"}}
    response = api.post("/access/v1/evaluation", json=misspelt)
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"context.bundel": "unknown member"}
    extra = {**EVALUATION, "resource": {**EVALUATION["resource"], "properties": {
        "program": "housing", "fields": ["identity.name"], "feilds": ["*"]}}}
    response = api.post("/access/v1/evaluation", json=extra)
    assert response.json["error"]["details"] == {"resource.properties.feilds": "unknown member"}
    batch = api.post("/access/v1/evaluations", json={"evaluations": [EVALUATION, misspelt]})
    assert batch.status_code == 200
    first, second = batch.json["evaluations"]
    assert first["decision"] is True and second["decision"] is False
    assert second["context"]["error"]["details"] == {"context.bundel": "unknown member"}
    assert audit_rows(org_app) == before + 1  # only the good item was decided
    ignored = {**EVALUATION, "subject": {**EVALUATION["subject"], "properties": {"x": 1}},
               "action": {"name": "view", "properties": {"y": 2}}}
    assert api.post("/access/v1/evaluation", json=ignored).json["decision"] is True
    not_objects = {**EVALUATION, "subject": {**EVALUATION["subject"], "properties": "admin"},
                   "action": {"name": "view", "properties": ["x"]}}
    response = api.post("/access/v1/evaluation", json=not_objects)
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"subject.properties": "must be an object",
                                                 "action.properties": "must be an object"}


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example:5000", ""])
@pytest.mark.parametrize("path", ["/api/v1/decisions", "/.well-known/authzen-configuration",
                                  "/healthz"])
def test_a_host_header_not_allowed_is_a_400(api, host, path):
    method = api.post if path == "/api/v1/decisions" else api.get
    response = method(path, json=GOOD, headers={"Host": host})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "host_not_allowed"


def test_allowed_hosts_follow_the_base_url_and_the_setting(make_app, backend):
    app = make_app(backend, GOVERNANCE_BASE_URL="https://pdp.example.org")
    client = app.test_client()
    for host in ("pdp.example.org", "localhost:8000", "127.0.0.1", "[::1]:5000"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    listed = make_app(backend, GOVERNANCE_ALLOWED_HOSTS="gw.internal, pdp.example.org")
    client = listed.test_client()
    assert client.get("/healthz", headers={"Host": "gw.internal:443"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 400


def test_every_path_answers_with_the_security_headers_json_outside_the_console(org_app):
    client = org_app.test_client()
    root = client.get("/")  # the standalone service's root is the console's door
    assert root.status_code == 302 and root.headers["X-Frame-Options"] == "DENY"
    for path in ("/nothing-here", "/static/x.js", "/api/v1/nothing", "/console/nothing"):
        response = client.get(path)
        assert response.status_code == 404, path
        if path.startswith("/console/"):  # the console's own error page
            assert response.mimetype == "text/html"
            assert "Back to the console" in response.get_data(as_text=True)
        else:
            assert response.json["error"]["code"] == "not_found"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers  # not configured


def test_hsts_is_sent_when_configured(make_app, backend, tmp_path):
    app = make_app(backend, GOVERNANCE_HSTS_SECONDS=31536000)
    apply_file(app)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app)}"
    for response in (client.get("/healthz"), client.get("/missing"),
                     client.post("/api/v1/decisions", json=GOOD)):  # the direct route too
        assert response.headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains")


class SlowClock:
    """``time`` for the decision service, a second later at every reading: a request given
    the shortest timeout allowed (1 ms) is always late."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


@pytest.mark.parametrize("path", DECISION_PATHS + ["/access/v1/evaluations"])
def test_a_request_not_decided_in_time_is_a_503_never_an_allow(make_app, backend, path,
                                                                 monkeypatch):
    app = make_app(backend, GOVERNANCE_DECISION_TIMEOUT_MS=1)
    apply_file(app)
    monkeypatch.setattr(decisions, "time", SlowClock())
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app)}"
    before = audit_rows(app)
    body = ({"evaluations": [EVALUATION, EVALUATION]} if path.endswith("evaluations")
            else body_for(path, GOOD))
    response = client.post(path, json=body)
    assert response.status_code == 503
    assert response.json["error"]["code"] == "decision_timeout"
    assert set(response.json) == {"error"}  # no decision, nothing allowed
    assert audit_rows(app) == before


@pytest.mark.parametrize("value", [0, -1, 600_001, "2000", 1.5, True, None])
def test_a_decision_timeout_that_cannot_work_is_refused_at_start_up(make_app, value):
    """0 would answer every decision 503: refused, naming the setting and its range."""
    with pytest.raises(RuntimeError, match="^GOVERNANCE_DECISION_TIMEOUT_MS must be a whole "
                                           "number from 1 to 600000, not "):
        make_app("sqlite", GOVERNANCE_DECISION_TIMEOUT_MS=value)


def test_caches_stay_bounded_in_bytes_whatever_ids_callers_send(api):
    cache = request_module._checked_fields
    for i in range(300):
        fields = [f"g{i}.{'x' * 190}{j:03d}" for j in range(100)]  # 100 ids of ~196 chars
        assert api.post("/api/v1/decisions", json={**GOOD, "fields": fields}
                        ).status_code == 200
    assert cache.held_bytes <= 4 << 20


@pytest.mark.parametrize("path, body", [
    ("/api/v1/reviews/items/nope/decide", {"actor": "sam", "decision": "keep"}),  # 404
    ("/api/v1/users/nick/disable", {"actor": "nick", "reason": "x"}),  # 422, self
    ("/api/v1/overrides/nope/approve", {"actor": "sam"}),  # 404
])
def test_a_refused_request_leaves_no_lock_on_the_store(make_app, path, body):
    """The operation took SQLite's write lock (to read its row fresh) before refusing: the
    refusal ends the transaction at once, so another process may write straight away."""
    app = make_app("sqlite")
    apply_file(app)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide', 'manage')}"
    with app.test_request_context():  # as a host app's (or pytest-flask's) outer context
        assert client.post(path, json=body).status_code in (404, 422)
        other = sqlite3.connect(app.config["GOVERNANCE_DATABASE_URL"].removeprefix(
            "sqlite:///"), timeout=0)
        other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the lock stayed
        other.rollback()
        other.close()
