"""POST /api/v1/filter: the record comes back with every field that is not allowed removed."""
from __future__ import annotations

RECORD = {"identity": {"name": "Jo Doe", "dob": "1990-01-01"},
          "contact": {"phone": "555-0100"},
          "clinical": {"diagnosis": "F32.1", "hiv_status": "negative"},
          "sud": {"screening": {"tool": "AUDIT-C", "score": 7}},
          "unknown": {"thing": 1}}
BASE = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing"}


def test_filter_removes_fields_not_allowed(api):
    body = api.post("/api/v1/filter", json={**BASE, "fields": "*", "record": RECORD}).json
    assert body["record"] == {"identity": {"name": "Jo Doe", "dob": "1990-01-01"},
                              "contact": {"phone": "555-0100"}}
    assert body["removed"] == ["clinical.diagnosis", "clinical.hiv_status", "sud.screening",
                               "unknown.thing"]
    assert body["decision"] == "partial" and body["decision_id"].startswith("dec_")


def test_filter_defaults_to_the_fields_the_record_carries(api):
    body = api.post("/api/v1/filter", json={**BASE, "record": RECORD}).json
    assert body["allowed"] == ["contact.phone", "identity.dob", "identity.name"]
    assert body["denied"]["unknown.thing"] == "unknown_field"
    assert body["denied"]["sud.screening"] == "no_role_grant"
    assert "sud" not in body["record"]


def test_field_allowed_but_not_requested_is_removed(api):
    body = api.post("/api/v1/filter", json={**BASE, "fields": ["identity.name"],
                                            "record": RECORD}).json
    assert body["record"] == {"identity": {"name": "Jo Doe"}}
    assert "identity.dob" in body["removed"]


def test_filter_for_a_stranger_returns_nothing(api):
    body = api.post("/api/v1/filter", json={**BASE, "subject": "ghost", "record": RECORD}).json
    assert body["record"] == {} and body["decision"] == "deny"


def test_filter_needs_a_record_object(api):
    for record in (None, [1], "x"):
        payload = {**BASE, "fields": "*"}
        if record is not None:
            payload["record"] = record
        response = api.post("/api/v1/filter", json=payload)
        assert response.status_code == 400
        assert "record" in response.json["error"]["details"]


def test_flat_or_unknown_keys_are_decided_and_removed(api):
    body = api.post("/api/v1/filter", json={**BASE, "record": {
        "name": "Jo", "identity": {"name": "Jo", "Full Name": "Jo Doe"}}}).json
    assert body["record"] == {"identity": {"name": "Jo"}}
    assert body["denied"]["name"] == "unknown_field"
    assert sorted(body["removed"]) == ["identity.Full Name", "name"]


def test_record_without_any_field_id_needs_fields(api):
    response = api.post("/api/v1/filter", json={**BASE, "record": {"Full Name": "Jo"}})
    assert response.status_code == 400
    assert "record" in response.json["error"]["details"]
