"""POST /api/v1/decisions/explain: the decision /decisions gives, with its trail, audited as a
simulation and never as a decision."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent
from tests.conftest import new_key
from tests.web.test_openapi import check_against_spec

VIEW = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.*", "clinical.diagnosis"]}
DISCLOSE = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard",
            "fields": ["identity.name", "contact.phone", "clinical.diagnosis", "risk.dv_flag"]}
SAME_REQUESTS = [
    VIEW,
    DISCLOSE,
    {**DISCLOSE, "recipient": "acme_landlord"},  # escalate
    {**VIEW, "subject": "ghost"},
    {**VIEW, "participant": "p-300"},
    {**VIEW, "subject": "ivy"},  # involvement ended
    {**VIEW, "subject": "rita", "program": "behavioral_health", "fields": "*"},
    {**VIEW, "action": "export", "fields": "*"},
    {**VIEW, "subject": "sam", "action": "disclose", "purpose": "crisis_escalation",
     "recipient": "county_dhs", "justification": "imminent risk", "fields": ["contact.*"]},
]
ANSWER = ("decision", "allowed", "denied", "obligations", "policy_version")


def kinds(app) -> dict[str, int]:
    with app.app_context():
        rows = state(app).session.execute(
            select(AuditEvent.kind, func.count()).group_by(AuditEvent.kind)).all()
        state(app).session.rollback()
    return dict(rows)


@pytest.mark.parametrize("body", SAME_REQUESTS, ids=lambda b: f"{b['subject']}-{b['action']}")
def test_explain_answers_what_decisions_answers(api, body):
    explained = api.post("/api/v1/decisions/explain", json=body)
    decided = api.post("/api/v1/decisions", json=body)
    assert explained.status_code == decided.status_code == 200, explained.get_json()
    assert {k: explained.json[k] for k in ANSWER} == {k: decided.json[k] for k in ANSWER}
    assert explained.json["simulated"] is True
    assert explained.json["simulation_id"].startswith("sim_")
    assert "decision_id" not in explained.json
    trail = explained.json["trail"]
    assert set(trail["fields"]) >= set(decided.json["allowed"]) | set(decided.json["denied"])
    for field_id, reason in decided.json["denied"].items():
        assert trail["fields"][field_id]["result"] == reason
    for field_id in decided.json["allowed"]:
        assert trail["fields"][field_id]["result"] == "allowed"


def test_explain_writes_a_simulation_and_no_decision(org_app, api):
    before = kinds(org_app)
    answer = api.post("/api/v1/decisions/explain", json=VIEW).json
    after = kinds(org_app)
    assert after.get("decision", 0) == before.get("decision", 0)
    assert after["decision.simulated"] == before.get("decision.simulated", 0) + 1
    with org_app.app_context():
        row = state(org_app).session.scalar(select(AuditEvent).where(
            AuditEvent.kind == "decision.simulated"))
        assert row.ref == answer["simulation_id"]
        assert row.subject == "alice" and row.participant == "p-100"
        assert row.actor  # the key's name


def test_a_simulation_cannot_back_an_escalation(api):
    answer = api.post("/api/v1/decisions/explain",
                      json={**DISCLOSE, "recipient": "acme_landlord"}).json
    assert answer["decision"] == "escalate"
    refused = api.post("/api/v1/escalations", json={
        "actor": "alice", "decision_id": answer["simulation_id"], "justification": "x"})
    assert refused.status_code == 404


def test_trail_names_grant_assignment_involvement_consent_and_bundle(api):
    trail = api.post("/api/v1/decisions/explain", json=DISCLOSE).json["trail"]
    name = {s["kind"]: s for s in trail["fields"]["identity.name"]["steps"]}
    assert name["grant"]["text"] == "role case_manager grants disclose on identity.*"
    assert "alice holds case_manager in housing" in name["assignment"]["text"]
    assert name["assignment"]["ref"].startswith("assignment:")
    assert name["involvement"]["met"] and "p-100" in name["involvement"]["text"]
    assert name["bundle"]["met"] and name["consent"]["met"]
    assert name["consent"]["ref"].startswith("consent:cns_")
    diagnosis = {s["kind"]: s for s in trail["fields"]["clinical.diagnosis"]["steps"]}
    assert not diagnosis["bundle"]["met"] and "prohibits" in diagnosis["bundle"]["text"]
    kinds_ = [s["kind"] for s in trail["request"]]
    assert kinds_ == ["subject", "enrolment", "purpose", "recipient", "bundle"]


def test_trail_says_plainly_when_no_rule_matched(api):
    answer = api.post("/api/v1/decisions/explain", json={
        **VIEW, "subject": "bo", "program": "behavioral_health", "participant": "p-300",
        "fields": ["clinical.diagnosis", "billing.claims"]}).json
    assert answer["denied"] == {"clinical.diagnosis": "no_role_grant"}
    assert answer["trail"]["no_rule_matched"] == ["clinical.diagnosis"]
    step = answer["trail"]["fields"]["clinical.diagnosis"]["steps"][0]
    assert step["kind"] == "no_rule" and step["text"].startswith("No rule matched")


def test_trail_of_an_expired_involvement(api):
    answer = api.post("/api/v1/decisions/explain", json={**VIEW, "subject": "ivy"}).json
    steps = answer["trail"]["fields"]["identity.name"]["steps"]
    assert answer["trail"]["fields"]["identity.name"]["result"] == "no_case_involvement"
    assert steps[-1]["kind"] == "involvement" and not steps[-1]["met"]
    assert "ended 2026-10-01" in steps[-1]["text"]


def test_bad_input_is_a_400_and_writes_nothing(org_app, api):
    before = kinds(org_app)
    answer = api.post("/api/v1/decisions/explain", json={**VIEW, "action": "dance"})
    assert answer.status_code == 400
    assert "action" in answer.json["error"]["details"]
    unknown = api.post("/api/v1/decisions/explain", json={**DISCLOSE, "purpose": "curiosity"})
    assert unknown.status_code == 400 and "purpose" in unknown.json["error"]["details"]
    assert kinds(org_app) == before


@pytest.mark.parametrize("scopes, status", [((), 401), (("manage",), 403)])
def test_explain_needs_a_key_with_the_decide_scope(org_app, scopes, status):
    client = org_app.test_client()
    if scopes:
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(org_app, *scopes)}"
    answer = client.post("/api/v1/decisions/explain", json=VIEW)
    assert answer.status_code == status
    assert answer.json["error"]["code"] in ("unauthorized", "forbidden")


def test_the_direct_decision_path_leaves_explain_to_flask(make_app, backend):
    from tests.conftest import apply_file
    app = make_app(backend, GOVERNANCE_DIRECT_DECISIONS=True)
    apply_file(app)
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide')}"
    explained = client.post("/api/v1/decisions/explain", json=VIEW)
    decided = client.post("/api/v1/decisions", json=VIEW)
    assert explained.status_code == decided.status_code == 200
    assert "trail" in explained.json and "decision_id" in decided.json
    assert kinds(app)["decision"] == 1 and kinds(app)["decision.simulated"] == 1


@pytest.mark.parametrize("body, auth, status", [
    (VIEW, "key", 200), (DISCLOSE, "key", 200), ({**VIEW, "fields": ["nothing.*"]}, "key", 200),
    ({**VIEW, "action": "dance"}, "key", 400), (VIEW, None, 401), (VIEW, "manage", 403)],
    ids=["view", "disclose", "unknown-pattern", "invalid", "no-key", "manage-only"])
def test_explain_answers_as_the_openapi_document_says(org_app, api, body, auth, status):
    headers = {"X-Request-ID": "req-42"}
    if auth is None:
        api.environ_base.pop("HTTP_AUTHORIZATION")
    elif auth != "key":
        headers["Authorization"] = f"Bearer {new_key(org_app, auth)}"
    response = api.post("/api/v1/decisions/explain", json=body, headers=headers)
    assert response.status_code == status
    check_against_spec("/api/v1/decisions/explain", "post", response)


def test_the_step_a_reason_reports_is_marked_decisive(api):
    trail = api.post("/api/v1/decisions/explain", json=DISCLOSE).json["trail"]
    diagnosis = trail["fields"]["clinical.diagnosis"]["steps"]
    assert [s["kind"] for s in diagnosis if s.get("decisive")] == ["bundle"]
    assert any(s["kind"] == "consent" and not s["met"] for s in diagnosis)  # also not met
    assert not any(s.get("decisive") for s in trail["fields"]["identity.name"]["steps"])
    ghost = api.post("/api/v1/decisions/explain", json={**VIEW, "subject": "ghost"}).json
    last = ghost["trail"]["fields"]["identity.name"]["steps"][-1]
    assert (last["kind"], last["met"], last.get("decisive")) == ("subject", False, True)


def test_a_simulation_is_not_a_use_of_the_assignment(org_app, api):
    from governance.models import RoleAssignment

    def last_used():
        with org_app.app_context():
            value = state(org_app).session.scalar(select(RoleAssignment.last_used_at).where(
                RoleAssignment.user_id == "alice"))
            state(org_app).session.rollback()
        return value

    assert api.post("/api/v1/decisions/explain", json=VIEW).json["allowed"]
    assert last_used() is None  # an access review must not read a simulation as use
    assert api.post("/api/v1/decisions", json=VIEW).json["allowed"]
    assert last_used() is not None
