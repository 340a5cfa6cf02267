"""AuthZEN Authorization API 1.0 over the same decisions."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, text

from governance import audit
from governance.decisions import Recorder
from governance.extension import state
from governance.models import AuditEvent


def evaluation(subject="alice", action="view", participant="p-100", program="housing",
               fields=("identity.name",), **context):
    body = {"subject": {"type": "user", "id": subject}, "action": {"name": action},
            "resource": {"type": "participant_record", "id": participant,
                         "properties": {"program": program, "fields": list(fields)}}}
    if context:
        body["context"] = context
    return body


def test_metadata_names_the_pdp_and_every_endpoint(make_app, backend):
    app = make_app(backend, GOVERNANCE_BASE_URL="https://pdp.example.org/")
    client = app.test_client()
    body = client.get("/.well-known/authzen-configuration").json
    base = body["policy_decision_point"]
    assert base == "https://pdp.example.org"  # from the configuration, not the Host header
    assert client.get("/.well-known/authzen-configuration",
                      headers={"Host": "pdp.example.org"}).json == body
    assert body["access_evaluation_endpoint"] == base + "/access/v1/evaluation"
    assert body["access_evaluations_endpoint"] == base + "/access/v1/evaluations"


def test_single_evaluation_true_only_when_every_field_allowed(api):
    allowed = api.post("/access/v1/evaluation", json=evaluation()).json
    assert allowed["decision"] is True
    assert allowed["context"]["allowed"] == ["identity.name"]
    assert allowed["context"]["decision_id"].startswith("dec_")
    partial = api.post("/access/v1/evaluation",
                       json=evaluation(fields=["identity.name", "clinical.diagnosis"])).json
    assert partial["decision"] is False
    assert partial["context"]["denied"] == {"clinical.diagnosis": "no_role_grant"}


def test_context_carries_purpose_recipient_bundle_and_obligations(api):
    body = api.post("/access/v1/evaluation", json=evaluation(
        action="disclose", fields=["identity.name", "contact.phone"],
        purpose="housing_referral", recipient="city_housing",
        bundle="housing_referral_standard")).json
    assert body["decision"] is True
    assert body["context"]["obligations"] == ["log_disclosure", "cover_sheet"]


def test_request_id_is_echoed(api):
    response = api.post("/access/v1/evaluation", json=evaluation(),
                        headers={"X-Request-ID": "bfe9eb29-ab87"})
    assert response.headers["X-Request-ID"] == "bfe9eb29-ab87"


@pytest.mark.parametrize("mutate,member", [
    (lambda b: b.pop("subject"), "subject"),
    (lambda b: b["subject"].pop("id"), "subject.id"),
    (lambda b: b.__setitem__("subject", "alice"), "subject"),
    (lambda b: b.pop("action"), "action"),
    (lambda b: b["action"].__setitem__("name", 7), "action.name"),
    (lambda b: b["action"].__setitem__("name", "delete"), "action.name"),
    (lambda b: b["resource"].__setitem__("type", "document"), "resource.type"),
    (lambda b: b["resource"].pop("id"), "resource.id"),
    (lambda b: b["resource"]["properties"].pop("fields"), "resource.properties.fields"),
    (lambda b: b["resource"]["properties"].pop("program"), "resource.properties.program"),
    (lambda b: b.__setitem__("context", []), "context"),
    (lambda b: b.__setitem__("context", {"purpose": "gossip"}), "context.purpose"),
])
def test_malformed_evaluation_is_400(api, mutate, member):
    body = evaluation()
    mutate(body)
    response = api.post("/access/v1/evaluation", json=body)
    assert response.status_code == 400
    assert member in response.json["error"]["details"], response.json


def test_batch_defaults_are_overridden_per_item_and_order_is_kept(api):
    body = {
        "subject": {"type": "user", "id": "alice"},
        "action": {"name": "view"},
        "resource": {"type": "participant_record", "id": "p-100",
                     "properties": {"program": "housing", "fields": ["identity.name"]}},
        "evaluations": [
            {},
            {"subject": {"type": "user", "id": "nick"}},
            {"resource": {"type": "participant_record", "id": "p-100",
                          "properties": {"program": "housing",
                                         "fields": ["clinical.diagnosis"]}}},
            {"subject": {"type": "user", "id": "sam"},
             "resource": {"type": "participant_record", "id": "p-100",
                          "properties": {"program": "housing",
                                         "fields": ["clinical.diagnosis"]}}},
        ],
    }
    results = api.post("/access/v1/evaluations", json=body).json["evaluations"]
    assert [r["decision"] for r in results] == [True, False, False, True]
    assert results[1]["context"]["denied"] == {"identity.name": "no_case_involvement"}


def test_malformed_item_is_false_and_the_batch_still_answers(api):
    body = {"evaluations": [evaluation(), {"subject": {"type": "user"}}, "junk",
                            evaluation(subject="sam")]}
    response = api.post("/access/v1/evaluations", json=body)
    assert response.status_code == 200
    results = response.json["evaluations"]
    assert [r["decision"] for r in results] == [True, False, False, True]
    assert results[1]["context"]["error"]["status"] == 400
    assert "subject.id" in results[1]["context"]["error"]["message"]


@pytest.mark.parametrize("semantic,expected", [
    ("execute_all", [True, False, True, False]),
    ("deny_on_first_deny", [True, False]),
    ("permit_on_first_permit", [True]),
])
def test_evaluation_semantics(api, semantic, expected):
    items = [evaluation(), evaluation(subject="nick"), evaluation(subject="sam"),
             evaluation(subject="lee")]
    body = {"evaluations": items, "options": {"evaluations_semantic": semantic}}
    results = api.post("/access/v1/evaluations", json=body).json["evaluations"]
    assert [r["decision"] for r in results] == expected


def test_permit_on_first_permit_skips_leading_denials(api):
    items = [evaluation(subject="nick"), evaluation(subject="alice"), evaluation(subject="sam")]
    body = {"evaluations": items, "options": {"evaluations_semantic": "permit_on_first_permit"}}
    results = api.post("/access/v1/evaluations", json=body).json["evaluations"]
    assert [r["decision"] for r in results] == [False, True]


@pytest.mark.parametrize("change,member", [
    ({"options": {"evaluations_semantic": "maybe"}}, "options.evaluations_semantic"),
    ({"options": ["execute_all"]}, "options"),
    ({"evaluations": {"a": 1}}, "evaluations"),
    ({"evaluations": [evaluation()] * 1001}, "evaluations"),
])
def test_a_malformed_batch_is_a_400_naming_the_member(api, change, member):
    response = api.post("/access/v1/evaluations", json={"evaluations": [evaluation()], **change})
    assert response.status_code == 400
    error = response.json["error"]
    assert list(error["details"]) == [member] and error["message"].startswith(member)


def test_a_body_that_is_not_an_object_is_named(api):
    response = api.post("/access/v1/evaluations", json=[evaluation()])
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"body": "must be a JSON object"}


def test_batch_without_evaluations_behaves_as_single(api):
    body = api.post("/access/v1/evaluations", json=evaluation()).json
    assert body["decision"] is True and "evaluations" not in body


def batch_of(size: int) -> dict:
    participants = ["p-100", "p-200", "p-300"]
    items = [{"resource": {"type": "participant_record", "id": participants[i % 3],
                           "properties": {"program": "housing", "fields": ["identity.name"]}}}
             for i in range(size)]
    return {"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"},
            "evaluations": items}


def decision_refs(app) -> list[str]:
    with app.app_context():
        return list(state(app).session.scalars(
            select(AuditEvent.ref).where(AuditEvent.kind == "decision")))


def test_batch_of_one_thousand_answers_in_order_once_every_row_is_committed(api, org_app):
    """Larger than Recorder.CHUNK, so its rows are committed in several pieces while it is
    still deciding: every answered decision has its row, and the chain holds."""
    results = api.post("/access/v1/evaluations", json=batch_of(1000)).json["evaluations"]
    assert [r["decision"] for r in results] == [i % 3 != 2 for i in range(1000)]
    refs = decision_refs(org_app)
    assert sorted(refs) == sorted(r["context"]["decision_id"] for r in results)
    with org_app.app_context():
        assert audit.verify(state(org_app).session).problems == []


def test_batch_whose_rows_cannot_all_be_written_answers_nothing(api, org_app, backend):
    """The store refuses rows after the first chunk: the batch is a 503 with no decision in
    it, the chain stays intact, and the next batch is answered."""
    with org_app.app_context():
        session = state(org_app).session
        limit = session.scalar(select(func.count()).select_from(AuditEvent)) + Recorder.CHUNK
        for statement in REFUSE_AFTER[backend]:
            session.execute(text(statement.replace("LIMIT", str(limit))))
        session.commit()
    response = api.post("/access/v1/evaluations", json=batch_of(3 * Recorder.CHUNK))
    assert response.status_code == 503
    assert response.json["error"]["code"] == "store_unavailable"
    assert "evaluations" not in response.json
    written = decision_refs(org_app)
    assert len(written) <= Recorder.CHUNK  # what the store took
    with org_app.app_context():
        session = state(org_app).session
        session.execute(text(ACCEPT_AGAIN[backend]))
        session.commit()
        time.sleep(0.3)  # a chunk still running after the answer would land now
        assert decision_refs(org_app) == written
        assert audit.verify(session).problems == []
    assert api.post("/access/v1/evaluations", json=batch_of(10)).status_code == 200


REFUSE_AFTER = {
    "sqlite": ["CREATE TRIGGER refuse_after BEFORE INSERT ON audit_event "
               "WHEN (SELECT count(*) FROM audit_event) >= LIMIT "
               "BEGIN SELECT RAISE(ABORT, 'audit trail full'); END"],
    "postgres": ["CREATE FUNCTION refuse_after() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                 "IF (SELECT count(*) FROM audit_event) >= LIMIT THEN "
                 "RAISE EXCEPTION 'audit trail full'; END IF; RETURN NEW; END $$",
                 "CREATE TRIGGER refuse_after BEFORE INSERT ON audit_event "
                 "FOR EACH ROW EXECUTE FUNCTION refuse_after()"],
}
ACCEPT_AGAIN = {"sqlite": "DROP TRIGGER refuse_after",
                "postgres": "DROP TRIGGER refuse_after ON audit_event"}
