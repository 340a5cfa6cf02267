"""The workflow endpoints (consents, escalations, disclosures, accounting, sampling audit)
answer what the OpenAPI document declares: real requests, checked as in test_openapi.py."""
from __future__ import annotations

import pytest

from tests.conftest import new_key
from tests.web.test_openapi import (
    assert_unreachable_store_is_a_documented_503,
    check_against_spec,
)

NEW_CONSENT = {"actor": "alice", "participant": "p-200", "partners": ["city_housing"],
               "purposes": ["housing_referral"], "fields": ["identity.*", "contact.*"],
               "from": "2026-11-01", "until": "2027-11-01"}
REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "fields": ["identity.name", "contact.phone",
                                             "clinical.diagnosis"],
            "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard"}
PAYMENT = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
           "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}
EMERGENCY = {"subject": "dana", "action": "disclose", "participant": "p-100",
             "program": "behavioral_health", "fields": ["identity.name"],
             "purpose": "emergency", "recipient": "riverside_clinic", "justification": "overdose"}
SUD = {"subject": "dana", "action": "disclose", "participant": "p-300",
       "program": "behavioral_health", "fields": ["sud.screening"],
       "purpose": "care_coordination", "recipient": "riverside_clinic", "bundle": "care_handoff"}
WHOLE_RECORD = {"subject": "alice", "action": "export", "participant": "p-100",
                "program": "housing", "fields": "*", "purpose": "operations"}

CONSENT, ESCALATION = "/api/v1/consents/{consent}", "/api/v1/escalations/{escalation}"
ACCOUNTING = "/api/v1/participants/p-100/accounting"
# Steps some cases take first (each must succeed); "{last}" is then the id they answered.
AMEND = ("post", CONSENT + "/amend", {"actor": "alice", "exclude_labels": ["dv"]})
REVOKE = ("post", CONSENT + "/revoke", {"actor": "alice"})
FLAG = ("post", CONSENT + "/flag-renewal", {"actor": "alice", "trigger": "expiring"})
DENY = ("post", ESCALATION + "/deny", {"actor": "sam"})


def case(name, method, url, body=None, status=200, check=None, before=(), auth="key"):
    return pytest.param(method, url, body, status, check, before, auth, id=name)


def details(*members):
    return lambda r: set(members) <= set(r.json["error"]["details"])


def status_is(value):
    return lambda r: r.json["status"] == value


def send(actor, decision, channel, fields):
    return {"actor": actor, "decision_id": decision, "channel": channel, "fields": fields}


CASES = [
    # -- consents
    case("consent-create", "post", "/api/v1/consents",
         {**NEW_CONSENT, "partner_types": ["provider"], "exclude_labels": ["dv"], "note": "x"},
         201, lambda r: r.json["status"] == "active" and r.json["version"] == 1),
    case("consent-open-window", "post", "/api/v1/consents",
         {**NEW_CONSENT, "from": "2026-11-23T09:30:00Z", "until": None}, 201,
         lambda r: r.json["from"] == "2026-11-23T09:30:00Z" and "until" not in r.json),
    case("consent-unknown-member", "post", "/api/v1/consents", {**NEW_CONSENT, "colour": 1},
         400, details("colour")),
    case("consent-bad-terms", "post", "/api/v1/consents",
         {**NEW_CONSENT, "partners": ["nobody"], "purposes": ["gossip"],
          "until": "2026-01-01"}, 400, details("partners[0]", "purposes[0]", "until")),
    case("consent-no-recipient", "post", "/api/v1/consents", {**NEW_CONSENT, "partners": []},
         400, details("partners")),
    case("consent-no-actor", "post", "/api/v1/consents", {**NEW_CONSENT, "actor": " "}, 400,
         details("actor")),
    case("consent-not-an-object", "post", "/api/v1/consents", [NEW_CONSENT], 400),
    case("consent-content-type", "post", "/api/v1/consents", ("actor=alice", "text/plain"),
         400, lambda r: r.json["error"]["code"] == "bad_content_type"),
    case("consent-inactive-actor", "post", "/api/v1/consents", {**NEW_CONSENT, "actor": "x"},
         422, details("actor")),
    case("consent-no-key", "post", "/api/v1/consents", NEW_CONSENT, 401, auth=None),
    case("consent-decide-only", "get", "/api/v1/consents", None, 403, auth="decide"),
    case("consent-list", "get", "/api/v1/consents?participant=p-200", None, 200,
         lambda r: {c["status"] for c in r.json["consents"]} == {"active", "revoked",
                                                                 "expired"}),
    case("consent-list-renewal", "get", "/api/v1/consents?needs_renewal=true", None, 200,
         lambda r: [c["needs_renewal"] for c in r.json["consents"]] == ["expiring"],
         before=[FLAG]),
    case("consent-get", "get", CONSENT, None, 200, lambda r: r.json["history"] == []),
    case("consent-get-history", "get", "/api/v1/consents/{last}", None, 200,
         lambda r: [h["status"] for h in r.json["history"]] == ["superseded"], before=[AMEND]),
    case("consent-get-unknown", "get", "/api/v1/consents/cns_nope", None, 404),
    case("consent-amend", "post", CONSENT + "/amend",
         {"actor": "alice", "exclude_labels": ["dv"], "until": None}, 200,
         lambda r: r.json["version"] == 2 and "until" not in r.json),
    case("consent-amend-unknown-member", "post", CONSENT + "/amend",
         {"actor": "alice", "colour": "red"}, 400, details("colour")),
    case("consent-amend-superseded", "post", CONSENT + "/amend", {"actor": "alice"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "superseded"}, before=[AMEND]),
    case("consent-amend-unknown", "post", "/api/v1/consents/cns_nope/amend",
         {"actor": "alice"}, 404),
    case("consent-renew", "post", CONSENT + "/renew", {"actor": "alice", "until": "2028-11-01"},
         200, lambda r: r.json["until"] == "2028-11-01" and r.json["needs_renewal"] is None,
         before=[FLAG]),
    case("consent-renew-no-until", "post", CONSENT + "/renew", {"actor": "alice"}, 400,
         details("until")),
    case("consent-revoke", "post", CONSENT + "/revoke", {"actor": "alice", "reason": "asked"},
         200, lambda r: r.json["status"] == "revoked" and r.json["revoked_at"]),
    case("consent-revoke-twice", "post", CONSENT + "/revoke", {"actor": "alice"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "revoked"}, before=[REVOKE]),
    case("consent-flag-renewal", "post", CONSENT + "/flag-renewal",
         {"actor": "alice", "trigger": "hospitalization"}, 200,
         lambda r: r.json["needs_renewal"] == "hospitalization"),
    case("consent-flag-bad-trigger", "post", CONSENT + "/flag-renewal",
         {"actor": "alice", "trigger": "whim"}, 400, details("trigger")),
    case("consent-summary", "get", CONSENT + "/summary", None, 200,
         lambda r: "City Housing Authority" in r.json["summary"]),
    case("consent-summary-text", "get", CONSENT + "/summary?format=text", None, 200,
         lambda r: r.mimetype == "text/plain" and r.text.startswith("You agreed")),
    case("consent-summary-unknown", "get", "/api/v1/consents/cns_nope/summary", None, 404),
    case("consent-preview", "get",
         CONSENT + "/preview?bundle=housing_referral_standard&recipient=city_housing", None,
         200, lambda r: r.json["released"] == ["contact.phone", "identity.name"]),
    case("consent-preview-no-recipient", "get",
         CONSENT + "/preview?bundle=housing_referral_standard", None, 200,
         lambda r: r.json["recipient"] is None and r.json["released"] == []),
    case("consent-preview-no-bundle", "get", CONSENT + "/preview", None, 400,
         details("bundle")),
    # -- escalations
    case("escalation-request", "post", "/api/v1/escalations",
         {"actor": "rita", "decision_id": "{payment}", "justification": "claim dispute"},
         201, lambda r: r.json["status"] == "pending" and r.json["fields"] == ["identity.name"]),
    case("escalation-entire-record", "post", "/api/v1/escalations",
         {"actor": "alice", "decision_id": "{whole}", "justification": "court order"},
         201, lambda r: r.json["fields"] == ["*"] and r.json["action"] == "export"),
    case("escalation-nothing-waiting", "post", "/api/v1/escalations",
         {"actor": "alice", "decision_id": "{referral}", "justification": "x"}, 422,
         details("decision_id")),
    case("escalation-not-the-subject", "post", "/api/v1/escalations",
         {"actor": "alice", "decision_id": "{payment}", "justification": "x"}, 422,
         details("actor")),
    case("escalation-unknown-decision", "post", "/api/v1/escalations",
         {"actor": "rita", "decision_id": "dec_nope", "justification": "x"}, 404),
    case("escalation-no-justification", "post", "/api/v1/escalations",
         {"actor": "rita", "decision_id": "{payment}"}, 400, details("justification")),
    case("escalation-queue", "get", "/api/v1/escalations?approver=sam", None, 200,
         lambda r: [e["requester"] for e in r.json["escalations"]] == ["rita"]),
    case("escalation-queue-own", "get", "/api/v1/escalations?approver=rita", None, 200,
         lambda r: r.json["escalations"] == []),
    case("escalation-queue-no-approver", "get", "/api/v1/escalations", None, 400,
         details("approver")),
    case("escalation-get", "get", ESCALATION, None, 200, status_is("pending")),
    case("escalation-get-unknown", "get", "/api/v1/escalations/esc_nope", None, 404),
    case("escalation-approve", "post", ESCALATION + "/approve", {"actor": "sam", "note": "ok"},
         200, lambda r: r.json["status"] == "approved" and r.json["expires_at"]),
    case("escalation-deny", "post", ESCALATION + "/deny", {"actor": "sam"}, 200,
         status_is("denied")),
    case("escalation-self-approval", "post", ESCALATION + "/approve", {"actor": "rita"}, 422,
         lambda r: r.json["error"]["details"] == {"actor": "is the requester"}),
    case("escalation-not-an-approver", "post", ESCALATION + "/approve", {"actor": "alice"},
         422, details("actor")),
    case("escalation-second-decision", "post", ESCALATION + "/approve", {"actor": "sam"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "denied"}, before=[DENY]),
    case("escalation-unknown-verdict", "post", ESCALATION + "/maybe", {"actor": "sam"}, 404),
    case("escalation-unknown", "post", "/api/v1/escalations/esc_nope/approve",
         {"actor": "sam"}, 404),
    # -- disclosures
    case("disclosure", "post", "/api/v1/disclosures",
         send("alice", "{referral}", "secure_portal", ["identity.name"]), 201,
         lambda r: {w["field"]: w["reason"] for w in r.json["cover_sheet"]["withheld"]} == {
             "clinical.diagnosis": "bundle_prohibited", "contact.phone": "not_sent"}),
    case("disclosure-sud", "post", "/api/v1/disclosures",
         send("dana", "{sud}", "direct_message", ["sud.screening"]), 201,
         lambda r: "42 CFR part 2" in r.json["cover_sheet"]["redisclosure_notice"]),
    case("disclosure-outside-fields", "post", "/api/v1/disclosures",
         send("alice", "{referral}", "secure_portal", ["identity.name", "clinical.diagnosis"]),
         422, lambda r: r.json["error"]["details"] == {
             "fields": {"clinical.diagnosis": "bundle_prohibited"}}),
    case("disclosure-bad-channel", "post", "/api/v1/disclosures",
         send("alice", "{referral}", "email", ["identity.name"]), 422, details("channel")),
    case("disclosure-already-recorded", "post", "/api/v1/disclosures",
         send("alice", "{sent}", "secure_portal", ["identity.name"]), 409),
    case("disclosure-no-fields", "post", "/api/v1/disclosures",
         send("alice", "{referral}", "secure_portal", []), 400, details("fields")),
    case("disclosure-unknown-decision", "post", "/api/v1/disclosures",
         send("alice", "dec_nope", "secure_portal", ["identity.name"]), 404),
    case("disclosure-get", "get", "/api/v1/disclosures/{disclosure}", None, 200,
         lambda r: r.json["status"] == "closed" and r.json["cover_sheet"]["included"]),
    case("disclosure-get-open", "get", "/api/v1/disclosures/{emergency}", None, 200,
         lambda r: r.json["status"] == "open" and r.json["review_status"] == "pending"),
    case("disclosure-get-unknown", "get", "/api/v1/disclosures/dsc_nope", None, 404),
    case("cover-sheet-html", "get", "/api/v1/disclosures/{disclosure}/cover-sheet", None, 200,
         lambda r: r.mimetype == "text/html" and "City Housing Authority" in r.text),
    case("cover-sheet-text", "get", "/api/v1/disclosures/{disclosure}/cover-sheet?format=text",
         None, 200, lambda r: r.mimetype == "text/plain" and "WITHHELD:" in r.text
         and r.headers["Content-Disposition"].startswith("attachment")),
    case("cover-sheet-unknown", "get", "/api/v1/disclosures/dsc_nope/cover-sheet", None, 404),
    case("disclosure-review", "post", "/api/v1/disclosures/{emergency}/review",
         {"actor": "sam", "finding": "justified"}, 200,
         lambda r: r.json["status"] == "closed" and r.json["review_status"] == "completed"),
    case("disclosure-review-by-sender", "post", "/api/v1/disclosures/{emergency}/review",
         {"actor": "dana", "finding": "fine"}, 422, details("actor")),
    case("disclosure-review-none-open", "post", "/api/v1/disclosures/{disclosure}/review",
         {"actor": "sam", "finding": "fine"}, 409),
    case("disclosure-review-no-finding", "post", "/api/v1/disclosures/{emergency}/review",
         {"actor": "sam"}, 400, details("finding")),
    # -- accounting and sampling
    case("accounting", "get", ACCOUNTING, None, 200, lambda r: len(r.json["entries"]) == 2),
    case("accounting-accountable", "get", ACCOUNTING + "?accountable=true", None, 200,
         lambda r: [e["purpose_id"] for e in r.json["entries"]] == ["emergency"]),
    case("accounting-csv", "get", ACCOUNTING + "?format=csv", None, 200,
         lambda r: r.mimetype == "text/csv" and len(r.text.splitlines()) == 3
         and r.headers["Content-Disposition"].startswith("attachment")),
    case("accounting-window", "get", ACCOUNTING + "?since=2027-01-01T00:00:00Z", None, 200,
         lambda r: r.json["entries"] == []),
    case("accounting-bad-since", "get", ACCOUNTING + "?since=soon", None, 400,
         details("since")),
    case("accounting-unknown-participant", "get", "/api/v1/participants/p-999/accounting",
         None, 404),
    case("sample-audit", "get", "/api/v1/disclosures/sample-audit?month=2026-11&size=10&seed=1",
         None, 200, lambda r: r.json["population"] == r.json["sampled"] == 2
         and len(r.json["exceptions"]) == 1),
    case("sample-audit-last-month", "get", "/api/v1/disclosures/sample-audit", None, 200,
         lambda r: r.json["month"] == "2026-10" and r.json["checked"] == []),
    case("sample-audit-bad-month", "get", "/api/v1/disclosures/sample-audit?month=November",
         None, 400),
    case("sample-audit-bad-size", "get", "/api/v1/disclosures/sample-audit?size=0", None, 400),
]


@pytest.fixture
def ids(api) -> dict:
    """Objects the cases act on: a consent, a pending escalation, a recorded disclosure, an
    emergency disclosure awaiting review, and decisions not yet used."""
    def post(url, body, status=200):
        response = api.post(url, json=body)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json

    def decision(request):
        return post("/api/v1/decisions", request)["decision_id"]

    made = {"referral": decision(REFERRAL), "payment": decision(PAYMENT), "sud": decision(SUD),
            "whole": decision(WHOLE_RECORD), "sent": decision(REFERRAL)}
    made["consent"] = post("/api/v1/consents", NEW_CONSENT, 201)["id"]
    made["escalation"] = post("/api/v1/escalations", {
        "actor": "rita", "decision_id": decision(PAYMENT), "justification": "dispute"}, 201)["id"]
    made["disclosure"] = post("/api/v1/disclosures", send(
        "alice", made["sent"], "secure_portal", ["identity.name"]), 201)["id"]
    made["emergency"] = post("/api/v1/disclosures", send(
        "dana", decision(EMERGENCY), "direct_message", ["identity.name"]), 201)["id"]
    return made


def fill(value, ids: dict):
    """``value`` with ``{name}`` placeholders replaced by the ids made for the test."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("method,url,body,status,check,before,auth", CASES)
def test_real_response_matches_the_document(api, org_app, ids, method, url, body, status,
                                            check, before, auth):
    run_documented_case(api, org_app, ids, method, url, body, status, check, before, auth)


def run_documented_case(api, org_app, ids, method, url, body, status, check, before, auth):
    """Run the ``before`` steps, then the request; check status, the document and ``check``."""
    for step_method, step_url, step_body in before:
        done = api.open(fill(step_url, ids), method=step_method.upper(),
                        json=fill(step_body, ids))
        assert done.status_code < 300, done.get_data(as_text=True)
        ids = {**ids, "last": done.json["id"]}
    headers = {"X-Request-ID": "req-42"}
    if auth is None:
        api.environ_base.pop("HTTP_AUTHORIZATION")
    elif auth != "key":
        headers["Authorization"] = f"Bearer {new_key(org_app, auth)}"
    kwargs = {"data": body[0], "content_type": body[1]} if isinstance(body, tuple) else \
        {"json": fill(body, ids)} if body is not None else {}
    url = fill(url, ids)
    response = api.open(url, method=method.upper(), headers=headers, **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)
    check_against_spec(url, method, response)
    assert check is None or check(response), response.get_data(as_text=True)


@pytest.mark.parametrize("method,path,body", [
    ("post", "/api/v1/consents", NEW_CONSENT), ("get", "/api/v1/escalations?approver=sam", None),
    ("get", "/api/v1/disclosures/dsc_x/cover-sheet", None), ("get", ACCOUNTING + "?format=csv",
                                                              None)])
def test_unreachable_store_is_a_documented_503(method, path, body):
    assert_unreachable_store_is_a_documented_503(method, path, body)
