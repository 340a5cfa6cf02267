"""Issue 4 over the API: consent lifecycle, escalations, disclosures, accounting, sampling."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, Disclosure
from tests.conftest import NOW

REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "fields": ["identity.name", "contact.phone",
                                             "risk.safety_note"],
            "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard"}
PAYMENT = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
           "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}


def decide(api, request):
    response = api.post("/api/v1/decisions", json=request)
    assert response.status_code == 200, response.json
    return response.json


def ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


def count(app, model) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(model))


def at(app, moment) -> None:
    state(app).clock = lambda: moment


# -- consents ---------------------------------------------------------------------------
NEW_CONSENT = {"actor": "alice", "participant": "p-200", "partners": ["city_housing"],
               "purposes": ["housing_referral"], "fields": ["identity.*", "contact.*"],
               "from": "2026-11-01", "until": "2027-11-01"}
P200 = {**REFERRAL, "participant": "p-200", "fields": ["identity.name"]}


def test_new_consent_releases_and_revocation_only_affects_later_decisions(api, org_app):
    assert decide(api, P200)["denied"] == {"identity.name": "consent_expired"}
    consent = ok(api.post("/api/v1/consents", json=NEW_CONSENT), 201)
    assert consent["status"] == "active" and consent["version"] == 1
    first = decide(api, P200)
    assert first["decision"] == "allow"
    sent = ok(api.post("/api/v1/disclosures", json={
        "actor": "alice", "decision_id": first["decision_id"], "channel": "secure_portal",
        "fields": ["identity.name"]}), 201)
    assert sent["permission"]["consents"] == [consent["id"]]
    revoked = ok(api.post(f"/api/v1/consents/{consent['id']}/revoke",
                          json={"actor": "alice", "reason": "participant asked"}))
    assert revoked["status"] == "revoked"
    assert decide(api, P200)["denied"] == {"identity.name": "consent_expired"}
    entries = ok(api.get("/api/v1/participants/p-200/accounting"))["entries"]
    assert [e["disclosure_id"] for e in entries] == [sent["id"]]
    assert api.post(f"/api/v1/consents/{consent['id']}/revoke",
                    json={"actor": "alice"}).status_code == 409


def test_expired_consent_denies_later_decisions(api, org_app):
    consent = ok(api.post("/api/v1/consents", json={**NEW_CONSENT, "until": "2026-12-01"}), 201)
    assert decide(api, P200)["decision"] == "allow"
    at(org_app, NOW + timedelta(days=9))  # 2026-12-02
    assert decide(api, P200)["denied"] == {"identity.name": "consent_expired"}
    assert ok(api.get(f"/api/v1/consents/{consent['id']}"))["status"] == "expired"


def test_restriction_in_a_new_version_wins(api, org_app):
    consent = ok(api.post("/api/v1/consents", json={**NEW_CONSENT, "fields": ["*"]}), 201)
    rita = {**P200, "subject": "rita", "fields": ["sud.screening", "identity.name"]}
    rita.pop("bundle")
    assert decide(api, rita)["allowed"] == ["identity.name", "sud.screening"]
    amended = ok(api.post(f"/api/v1/consents/{consent['id']}/amend",
                          json={"actor": "alice", "exclude_labels": ["sud"]}))
    assert amended["version"] == 2 and amended["supersedes"] == consent["id"]
    assert decide(api, rita)["denied"]["sud.screening"] == "consent_restriction"
    history = ok(api.get(f"/api/v1/consents/{amended['id']}"))["history"]
    assert [h["id"] for h in history] == [consent["id"]]
    assert history[0]["status"] == "superseded"
    assert api.post(f"/api/v1/consents/{consent['id']}/amend",
                    json={"actor": "alice", "until": "2028-01-01"}).status_code == 409


@pytest.mark.parametrize("change,member", [
    ({"participant": "p-999"}, "participant"),
    ({"partners": ["nobody"]}, "partners[0]"),
    ({"purposes": ["gossip"]}, "purposes[0]"),
    ({"purposes": []}, "purposes"),
    ({"fields": ["bad field!"]}, "fields[0]"),
    ({"until": "soon"}, "until"),
    ({"from": "2027-01-01", "until": "2026-01-01"}, "until"),
    ({"colour": "red"}, None),
])
def test_bad_consent_is_400_naming_the_problem(api, org_app, change, member):
    before = count(org_app, AuditEvent)
    response = api.post("/api/v1/consents", json={**NEW_CONSENT, **change})
    assert response.status_code == 400, response.json
    if member:
        assert member in response.json["error"]["details"], response.json
    assert count(org_app, AuditEvent) == before


def test_renewal_flag_lists_consent_and_renewal_clears_it(api, org_app):
    consent = ok(api.post("/api/v1/consents", json=NEW_CONSENT), 201)
    flagged = ok(api.post(f"/api/v1/consents/{consent['id']}/flag-renewal",
                          json={"actor": "alice", "trigger": "hospitalization"}))
    assert flagged["needs_renewal"] == "hospitalization"
    listed = ok(api.get("/api/v1/consents?needs_renewal=true"))["consents"]
    assert [c["id"] for c in listed] == [consent["id"]]
    renewed = ok(api.post(f"/api/v1/consents/{consent['id']}/renew",
                          json={"actor": "alice", "until": "2028-11-01"}))
    assert renewed["until"] == "2028-11-01" and renewed["needs_renewal"] is None
    assert ok(api.get("/api/v1/consents?needs_renewal=true"))["consents"] == []
    assert api.post(f"/api/v1/consents/{renewed['id']}/flag-renewal",
                    json={"actor": "alice", "trigger": "whim"}).status_code == 400


def test_plain_language_summary_and_bundle_preview(api, org_app):
    consent = ok(api.post("/api/v1/consents", json={**NEW_CONSENT, "exclude_labels": ["dv"]}),
                 201)
    summary = ok(api.get(f"/api/v1/consents/{consent['id']}/summary"))["summary"]
    assert "City Housing Authority" in summary and "November 01, 2027" in summary
    assert "domestic violence" in summary
    shown = ok(api.get(f"/api/v1/consents/{consent['id']}/preview"
                       "?bundle=housing_referral_standard&recipient=city_housing"))
    assert shown["released"] == ["contact.phone", "identity.name"]
    assert shown["withheld"] == {"risk.dv_flag": "no_consent", "risk.safety_note": "no_consent"}


# -- escalations --------------------------------------------------------------------------
def escalate(api):
    decision = decide(api, PAYMENT)
    assert decision["decision"] == "escalate"
    return ok(api.post("/api/v1/escalations", json={
        "actor": "rita", "decision_id": decision["decision_id"],
        "justification": "claim dispute needs the member name"}), 201)


def test_escalation_approved_by_a_supervisor_releases_for_seven_days(api, org_app):
    escalation = escalate(api)
    assert escalation["status"] == "pending" and escalation["fields"] == ["identity.name"]
    queue = ok(api.get("/api/v1/escalations?approver=sam"))["escalations"]
    assert [e["id"] for e in queue] == [escalation["id"]]
    approved = ok(api.post(f"/api/v1/escalations/{escalation['id']}/approve",
                           json={"actor": "sam", "note": "ok"}))
    assert approved["status"] == "approved"
    assert decide(api, PAYMENT)["decision"] == "allow"
    at(org_app, NOW + timedelta(days=7))
    assert decide(api, PAYMENT)["decision"] == "escalate"


@pytest.mark.parametrize("approver", ["rita", "alice", "olga"])
def test_self_or_non_approver_approval_is_422(api, org_app, approver):
    escalation = escalate(api)
    before = count(org_app, AuditEvent)
    response = api.post(f"/api/v1/escalations/{escalation['id']}/approve",
                        json={"actor": approver})
    assert response.status_code == 422
    assert count(org_app, AuditEvent) == before


def test_second_decision_on_a_resolved_escalation_is_409(api, org_app):
    escalation = escalate(api)
    ok(api.post(f"/api/v1/escalations/{escalation['id']}/deny", json={"actor": "sam"}))
    response = api.post(f"/api/v1/escalations/{escalation['id']}/approve",
                        json={"actor": "sam"})
    assert response.status_code == 409


def test_escalation_needs_a_decision_waiting_for_one(api, org_app):
    allowed = decide(api, REFERRAL)
    response = api.post("/api/v1/escalations", json={
        "actor": "alice", "decision_id": allowed["decision_id"], "justification": "x"})
    assert response.status_code == 422
    assert api.post("/api/v1/escalations", json={
        "actor": "alice", "decision_id": "dec_nope", "justification": "x"}).status_code == 404
    assert api.post("/api/v1/escalations", json={
        "actor": "alice", "decision_id": allowed["decision_id"]}).status_code == 400


# -- disclosures ----------------------------------------------------------------------------
def test_disclosure_outside_its_decision_is_422_and_writes_nothing(api, org_app):
    decision = decide(api, {**REFERRAL, "fields": ["identity.name", "clinical.diagnosis"]})
    before = (count(org_app, Disclosure), count(org_app, AuditEvent))
    for payload, member in [
        ({"fields": ["identity.name", "clinical.diagnosis"]}, "fields"),
        ({"fields": ["identity.name"], "channel": "email"}, "channel"),
        ({"fields": ["identity.name"], "actor": "sam"}, "actor"),
    ]:
        body = {"actor": "alice", "decision_id": decision["decision_id"],
                "channel": "secure_portal", **payload}
        response = api.post("/api/v1/disclosures", json=body)
        assert response.status_code == 422 and member in response.json["error"]["details"]
    assert (count(org_app, Disclosure), count(org_app, AuditEvent)) == before


def test_cover_sheet_lists_included_withheld_and_permission(api, org_app):
    decision = decide(api, {**REFERRAL, "fields": ["identity.name", "contact.phone",
                                                    "clinical.diagnosis"]})
    sent = ok(api.post("/api/v1/disclosures", json={
        "actor": "alice", "decision_id": decision["decision_id"], "channel": "secure_portal",
        "fields": ["identity.name"]}), 201)
    sheet = sent["cover_sheet"]
    assert [i["field"] for i in sheet["included"]] == ["identity.name"]
    assert {w["field"]: w["reason"] for w in sheet["withheld"]} == {
        "clinical.diagnosis": "bundle_prohibited", "contact.phone": "not_sent"}
    assert sheet["recipient"]["address"] == "1 Civic Plaza"
    assert sheet["permission"]["consents"] and sheet["redisclosure_notice"] is None
    html = api.get(f"/api/v1/disclosures/{sent['id']}/cover-sheet")
    assert html.mimetype == "text/html" and b"City Housing Authority" in html.data
    text = api.get(f"/api/v1/disclosures/{sent['id']}/cover-sheet?format=text")
    assert "attachment" in text.headers["Content-Disposition"]
    assert b"WITHHELD:" in text.data and b"clinical.diagnosis: bundle_prohibited" in text.data
    again = api.post("/api/v1/disclosures", json={
        "actor": "alice", "decision_id": decision["decision_id"], "channel": "secure_portal",
        "fields": ["identity.name"]})
    assert again.status_code == 409


def test_sud_disclosure_carries_the_part2_notice(api, org_app):
    decision = decide(api, {"subject": "dana", "action": "disclose", "participant": "p-300",
                            "program": "behavioral_health", "fields": ["sud.screening"],
                            "purpose": "care_coordination", "recipient": "riverside_clinic",
                            "bundle": "care_handoff"})
    sent = ok(api.post("/api/v1/disclosures", json={
        "actor": "dana", "decision_id": decision["decision_id"], "channel": "direct_message",
        "fields": ["sud.screening"]}), 201)
    assert "42 CFR part 2" in sent["cover_sheet"]["redisclosure_notice"]


# -- accounting and sampling ----------------------------------------------------------------
def send(api, request, actor, channel, fields):
    decision = decide(api, request)
    return ok(api.post("/api/v1/disclosures", json={
        "actor": actor, "decision_id": decision["decision_id"], "channel": channel,
        "fields": fields}), 201)


def test_accounting_lists_exactly_the_accountable_entries(api, org_app):
    referral = send(api, REFERRAL, "alice", "secure_portal", ["identity.name"])
    legal = send(api, {"subject": "rita", "action": "disclose", "participant": "p-100",
                       "program": "housing", "fields": ["identity.name"],
                       "purpose": "required_by_law", "recipient": "county_dhs",
                       "justification": "subpoena 42"}, "rita", "sftp", ["identity.name"])
    send(api, {**PAYMENT, "participant": "p-200", "purpose": "treatment"}, "rita",
         "direct_message", ["identity.name"])  # another participant
    everything = ok(api.get("/api/v1/participants/p-100/accounting"))["entries"]
    assert {e["disclosure_id"] for e in everything} == {referral["id"], legal["id"]}
    accountable = ok(api.get("/api/v1/participants/p-100/accounting?accountable=true"))
    entry, = accountable["entries"]
    assert entry["disclosure_id"] == legal["id"]
    assert entry["recipient"] == "County DHS" and entry["sent_by"] == "rita"
    assert entry["permission"] == "legal basis: required_by_law"
    csv_text = api.get("/api/v1/participants/p-100/accounting?accountable=true&format=csv")
    assert csv_text.mimetype == "text/csv"
    assert csv_text.data.decode().splitlines()[0].startswith("date,recipient,")
    assert len(csv_text.data.decode().splitlines()) == 2
    window = api.get("/api/v1/participants/p-100/accounting?since=2027-01-01T00:00:00")
    assert ok(window)["entries"] == []
    assert api.get("/api/v1/participants/p-999/accounting").status_code == 404
    assert api.get("/api/v1/participants/p-100/accounting?since=soon").status_code == 400


def test_sampling_audit_reports_emergency_without_review(api, org_app):
    emergency = {"subject": "dana", "action": "disclose", "participant": "p-100",
                 "program": "behavioral_health", "fields": ["identity.name"],
                 "purpose": "emergency", "recipient": "riverside_clinic",
                 "justification": "overdose"}
    sent = send(api, emergency, "dana", "direct_message", ["identity.name"])
    routine = send(api, REFERRAL, "alice", "secure_portal", ["identity.name"])
    at(org_app, NOW + timedelta(days=10))  # December: November is "last month"
    report = ok(api.get("/api/v1/disclosures/sample-audit?size=10&seed=1"))
    assert report["month"] == "2026-11" and report["sampled"] == 2
    flagged = {r["disclosure_id"]: r["exceptions"] for r in report["exceptions"]}
    assert list(flagged) == [sent["id"]] and "review" in flagged[sent["id"]][0]
    assert routine["id"] in report["checked"]
    assert api.post(f"/api/v1/disclosures/{sent['id']}/review",
                    json={"actor": "dana", "finding": "ok"}).status_code == 422
    ok(api.post(f"/api/v1/disclosures/{sent['id']}/review",
                json={"actor": "sam", "finding": "justified: overdose risk"}))
    assert ok(api.get("/api/v1/disclosures/sample-audit?size=10&seed=1"))["exceptions"] == []


def test_sampling_audit_from_the_command_line(api, org_app):
    send(api, {"subject": "dana", "action": "disclose", "participant": "p-100",
               "program": "behavioral_health", "fields": ["identity.name"],
               "purpose": "emergency", "recipient": "riverside_clinic",
               "justification": "overdose"}, "dana", "direct_message", ["identity.name"])
    runner = org_app.test_cli_runner()
    result = runner.invoke(args=["governance", "disclosures", "sample", "--month", "2026-11"])
    assert result.exit_code == 1, result.output
    assert "sampled 1 of 1" in result.output and "review" in result.output
    assert runner.invoke(args=["governance", "disclosures", "sample", "--month",
                               "November"]).exit_code == 2


def test_consents_expiring_soon_are_listed_for_staff(api, org_app):
    soon = ok(api.post("/api/v1/consents", json={**NEW_CONSENT, "until": "2026-12-10"}), 201)
    ok(api.post("/api/v1/consents", json={**NEW_CONSENT, "until": "2027-06-01"}), 201)
    listed = ok(api.get("/api/v1/consents?expiring_within_days=30"))["consents"]
    assert [c["id"] for c in listed] == [soon["id"]]
    assert api.get("/api/v1/consents?expiring_within_days=soon").status_code == 400
