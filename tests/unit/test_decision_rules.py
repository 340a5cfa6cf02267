"""Contract section 3, rule by rule: every reason code, obligation and purpose row.

Each case runs over the HTTP API against the reference org (tests/fixtures/org.yaml) on both
SQLite and PostgreSQL. Expected answers were worked out by hand from the contract.
"""
from __future__ import annotations

import pytest

H, BH = "housing", "behavioral_health"
HR = {"purpose": "housing_referral", "recipient": "city_housing",
      "bundle": "housing_referral_standard"}


def case(id_, subject, action, participant, program, fields, expect, *, allowed=(), denied=None,
         obligations=(), **extra):
    request = {"subject": subject, "action": action, "participant": participant,
               "program": program, "fields": fields, **extra}
    return pytest.param(request, expect, sorted(allowed), denied or {}, list(obligations), id=id_)


CASES = [
    # Rule 1: subject active, participant enrolled; unknown fields first of all.
    case("unknown-field", "alice", "view", "p-100", H, ["identity.name", "nope.field"], "partial",
         allowed=["identity.name"], denied={"nope.field": "unknown_field"}),
    case("unknown-pattern", "alice", "view", "p-100", H, ["nope.*"], "deny",
         denied={"nope.*": "unknown_field"}),
    case("unknown-field-before-inactive", "lee", "view", "p-100", H, ["nope.x", "identity.name"],
         "deny", denied={"nope.x": "unknown_field", "identity.name": "subject_inactive"}),
    case("unknown-subject", "ghost", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "subject_inactive"}),
    case("inactive-subject", "lee", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "subject_inactive"}),
    case("participant-not-in-program", "alice", "view", "p-300", H, ["identity.name"], "deny",
         denied={"identity.name": "not_in_program"}),
    case("unknown-participant", "alice", "view", "p-999", H, ["identity.name"], "deny",
         denied={"identity.name": "not_in_program"}),
    case("unknown-program", "alice", "view", "p-100", "nowhere", ["identity.name"], "deny",
         denied={"identity.name": "not_in_program"}),
    # Rule 2: a role grant in the program (or organisation-wide); expired ones count as absent.
    case("no-grant", "alice", "view", "p-100", H, ["clinical.diagnosis", "identity.name"],
         "partial", allowed=["identity.name"], denied={"clinical.diagnosis": "no_role_grant"}),
    case("expired-assignment", "olga", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_role_grant"}),
    case("future-assignment", "paul", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_role_grant"}),
    case("program-scope-needs-no-case", "sam", "view", "p-200", H, ["clinical.diagnosis"],
         "allow", allowed=["clinical.diagnosis"]),
    case("role-in-other-program", "bo", "view", "p-100", H, ["billing.claims"], "deny",
         denied={"billing.claims": "no_role_grant"}),
    case("organization-scope-any-program", "rita", "view", "p-300", BH,
         ["identity.name", "contact.phone"], "partial", allowed=["identity.name"],
         denied={"contact.phone": "no_role_grant"}),
    case("pattern-expands-to-ids", "alice", "view", "p-100", H, ["contact.*"], "allow",
         allowed=["contact.address", "contact.phone"]),
    # Rule 3: case-scope grants need an active involvement in that program.
    case("case-role-involved", "alice", "view", "p-100", H, ["identity.name"], "allow",
         allowed=["identity.name"]),
    case("case-role-not-involved", "nick", "view", "p-100", H,
         ["identity.name", "clinical.diagnosis"], "deny",
         denied={"identity.name": "no_case_involvement", "clinical.diagnosis": "no_role_grant"}),
    case("involvement-ended", "ivy", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_case_involvement"}),
    case("involvement-not-started", "fred", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_case_involvement"}),
    case("involvement-in-other-program", "dana", "view", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_role_grant"}),
    # Rule 4: "*" for export/disclose where minimum necessary applies.
    case("view-entire-record-is-per-field", "alice", "view", "p-100", H, "*", "partial",
         allowed=["contact.address", "contact.phone", "identity.dob", "identity.name",
                  "risk.dv_flag", "risk.safety_note"],
         denied={f: "no_role_grant" for f in ["billing.claims", "clinical.diagnosis",
                                              "clinical.hiv_status",
                                              "clinical.psychotherapy_notes", "sud.screening",
                                              "sud.treatment_history"]}),
    case("export-entire-record", "alice", "export", "p-100", H, "*", "deny",
         denied={**{f: "entire_record_not_justified" for f in
                    ["contact.address", "contact.phone", "identity.dob", "identity.name"]},
                 **{f: "no_role_grant" for f in
                    ["billing.claims", "clinical.diagnosis", "clinical.hiv_status",
                     "clinical.psychotherapy_notes", "risk.dv_flag", "risk.safety_note",
                     "sud.screening", "sud.treatment_history"]}},
         purpose="operations"),
    case("export-entire-record-individual-request", "rita", "export", "p-100", H, ["*"], "allow",
         allowed=["billing.claims", "clinical.diagnosis", "clinical.hiv_status",
                  "clinical.psychotherapy_notes", "contact.address", "contact.phone",
                  "identity.dob", "identity.name", "risk.dv_flag", "risk.safety_note",
                  "sud.screening", "sud.treatment_history"],
         purpose="individual_request"),
    case("disclose-entire-record-treatment-to-provider", "rita", "disclose", "p-100", H, "*",
         "escalate",
         allowed=["billing.claims", "clinical.diagnosis", "clinical.hiv_status",
                  "contact.address", "contact.phone", "identity.dob", "identity.name",
                  "risk.dv_flag", "risk.safety_note"],
         denied={"clinical.psychotherapy_notes": "escalation_required",
                 "sud.screening": "consent_restriction",
                 "sud.treatment_history": "consent_restriction"},
         obligations=["log_disclosure"], purpose="treatment", recipient="riverside_clinic"),
    case("disclose-entire-record-payment", "rita", "disclose", "p-100", H, "*", "deny",
         denied={f: "entire_record_not_justified" for f in
                 ["billing.claims", "clinical.diagnosis", "clinical.hiv_status",
                  "clinical.psychotherapy_notes", "contact.address", "contact.phone",
                  "identity.dob", "identity.name", "risk.dv_flag", "risk.safety_note",
                  "sud.screening", "sud.treatment_history"]},
         purpose="payment", recipient="riverside_clinic"),
    # Rule 5: recipient, bundle, consent.
    case("unknown-recipient", "alice", "disclose", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "unknown_recipient"}, purpose="housing_referral",
         recipient="nobody"),
    case("grant-checked-before-recipient", "alice", "disclose", "p-100", H, ["billing.claims"],
         "deny", denied={"billing.claims": "no_role_grant"}, purpose="housing_referral",
         recipient="nobody"),
    case("housing-referral-bundle", "alice", "disclose", "p-100", H,
         ["identity.name", "contact.phone", "risk.safety_note", "contact.address",
          "clinical.diagnosis", "sud.screening", "identity.dob"], "partial",
         allowed=["contact.phone", "identity.name", "risk.safety_note"],
         denied={"contact.address": "not_in_bundle", "identity.dob": "not_in_bundle",
                 "clinical.diagnosis": "bundle_prohibited", "sud.screening": "bundle_prohibited"},
         obligations=["log_disclosure", "cover_sheet"], **HR),
    case("bundle-wrong-partner-type", "alice", "disclose", "p-100", H,
         ["identity.name", "clinical.diagnosis"], "deny",
         denied={"identity.name": "not_in_bundle", "clinical.diagnosis": "bundle_prohibited"},
         purpose="housing_referral", recipient="riverside_clinic",
         bundle="housing_referral_standard"),
    case("consent-expired", "alice", "disclose", "p-200", H, ["identity.name"], "deny",
         denied={"identity.name": "consent_expired"}, **HR),
    case("no-consent-for-recipient", "alice", "disclose", "p-100", H, ["identity.name"], "deny",
         denied={"identity.name": "no_consent"}, purpose="housing_referral",
         recipient="county_dhs"),
    case("consent-does-not-cover-field", "alice", "disclose", "p-100", H, ["clinical.diagnosis"],
         "deny", denied={"clinical.diagnosis": "no_consent"}, purpose="housing_referral",
         recipient="city_housing"),
    case("consent-restriction", "alice", "disclose", "p-100", H,
         ["risk.dv_flag", "identity.name"], "escalate",
         denied={"risk.dv_flag": "consent_restriction", "identity.name": "escalation_required"},
         purpose="housing_referral", recipient="acme_landlord"),
    case("restriction-wins-without-consent-need", "rita", "disclose", "p-100", H,
         ["risk.dv_flag", "identity.name"], "escalate",
         denied={"risk.dv_flag": "consent_restriction", "identity.name": "escalation_required"},
         purpose="required_by_law",
         recipient="acme_landlord", justification="court order 2026-118"),
    case("revoked-consent-is-absent", "rita", "disclose", "p-200", H, ["sud.screening"], "deny",
         denied={"sud.screening": "no_consent"}, purpose="treatment",
         recipient="riverside_clinic"),
    case("treatment-to-provider-needs-no-consent", "rita", "disclose", "p-200", H,
         ["identity.name"], "allow", allowed=["identity.name"], obligations=["log_disclosure"],
         purpose="treatment", recipient="riverside_clinic"),
    case("treatment-sud-needs-consent", "rita", "disclose", "p-100", H, ["sud.screening"], "deny",
         denied={"sud.screening": "consent_restriction"}, purpose="treatment",
         recipient="riverside_clinic"),
    case("individual-request-needs-no-consent", "rita", "disclose", "p-200", H,
         ["clinical.diagnosis"], "allow", allowed=["clinical.diagnosis"],
         obligations=["log_disclosure"], purpose="individual_request", recipient="county_dhs"),
    # Rule 6: escalation.
    case("very-restricted-needs-escalation", "dana", "disclose", "p-100", BH,
         ["clinical.psychotherapy_notes", "clinical.diagnosis"], "escalate",
         allowed=["clinical.diagnosis"],
         denied={"clinical.psychotherapy_notes": "escalation_required"},
         obligations=["log_disclosure"], purpose="treatment", recipient="riverside_clinic"),
    case("non-routine-without-bundle", "rita", "disclose", "p-100", H, ["identity.name"],
         "escalate", denied={"identity.name": "escalation_required"}, purpose="payment",
         recipient="riverside_clinic"),
    case("treatment-to-non-provider-without-bundle", "rita", "disclose", "p-200", H,
         ["identity.name"], "escalate", denied={"identity.name": "escalation_required"},
         purpose="treatment", recipient="county_dhs"),
    case("emergency-never-waits", "dana", "disclose", "p-100", BH,
         ["clinical.psychotherapy_notes", "identity.name"], "allow",
         allowed=["clinical.psychotherapy_notes", "identity.name"],
         obligations=["log_disclosure", "post_hoc_review", "record_rationale"],
         purpose="emergency", recipient="riverside_clinic", justification="suicide risk"),
    case("custom-emergency-purpose", "alice", "disclose", "p-100", H, ["risk.safety_note"],
         "allow", allowed=["risk.safety_note"],
         obligations=["log_disclosure", "post_hoc_review", "record_rationale"],
         purpose="crisis_escalation", recipient="acme_landlord", justification="fire"),
    case("emergency-view", "alice", "view", "p-100", H, ["identity.name"], "allow",
         allowed=["identity.name"], obligations=["post_hoc_review", "record_rationale"],
         purpose="emergency", justification="welfare check"),
    # Obligations.
    case("sud-leaves-with-notice", "dana", "disclose", "p-300", BH,
         ["sud.screening", "identity.name"], "allow", allowed=["identity.name", "sud.screening"],
         obligations=["log_disclosure", "cover_sheet", "redisclosure_notice"],
         purpose="care_coordination", recipient="riverside_clinic", bundle="care_handoff"),
    case("required-by-law", "rita", "disclose", "p-100", H, ["identity.name"], "allow",
         allowed=["identity.name"], obligations=["log_disclosure", "record_rationale"],
         purpose="required_by_law", recipient="county_dhs", justification="subpoena 42"),
    case("export-obligation-free", "rita", "export", "p-100", H, ["sud.screening"], "allow",
         allowed=["sud.screening"], purpose="operations"),
    case("nothing-allowed-no-obligations", "alice", "disclose", "p-100", H, ["clinical.diagnosis"],
         "deny", denied={"clinical.diagnosis": "bundle_prohibited"}, **HR),
]


@pytest.mark.parametrize("request_,expect,allowed,denied,obligations", CASES)
def test_decision_rule(api, request_, expect, allowed, denied, obligations):
    response = api.post("/api/v1/decisions", json=request_)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["decision"], body["allowed"], body["denied"], body["obligations"]) == (
        expect, allowed, denied, obligations)
    assert body["decision_id"].startswith("dec_")
    assert len(body["policy_version"]) == 16


@pytest.mark.parametrize("purpose", ["emergency", "required_by_law", "crisis_escalation"])
@pytest.mark.parametrize("justification", [None, "", "   "])
def test_rationale_purposes_need_justification(api, purpose, justification):
    request_ = {"subject": "rita", "action": "disclose", "participant": "p-100",
                "program": H, "fields": ["identity.name"], "purpose": purpose,
                "recipient": "county_dhs"}
    if justification is not None:
        request_["justification"] = justification
    response = api.post("/api/v1/decisions", json=request_)
    assert response.status_code == 400
    assert "justification" in response.json["error"]["details"]
