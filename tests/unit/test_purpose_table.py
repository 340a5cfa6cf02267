"""The contract's purpose table, row by row: minimum necessary and the consent column.

Subject rita (records, organisation-wide, may disclose everything) discloses p-200's record; p-200
has no active consent for providers (it was revoked) and none for the county.
"""
from __future__ import annotations

import pytest

ALL = ["billing.claims", "clinical.diagnosis", "clinical.hiv_status",
       "clinical.psychotherapy_notes", "contact.address", "contact.phone", "identity.dob",
       "identity.name", "risk.dv_flag", "risk.safety_note", "sud.screening",
       "sud.treatment_history"]
WHY = {"justification": "documented reason"}


def disclose(api, purpose, recipient, fields, **extra):
    body = {"subject": "rita", "action": "disclose", "participant": "p-200",
            "program": "housing", "fields": fields, "purpose": purpose, "recipient": recipient,
            **extra}
    response = api.post("/api/v1/decisions", json=body)
    assert response.status_code == 200, response.json
    return response.json


@pytest.mark.parametrize("purpose,recipient,extra,decision,denied,obligations", [
    ("treatment", "riverside_clinic", {}, "partial", {"sud.screening": "no_consent"},
     ["log_disclosure"]),
    ("treatment", "county_dhs", {}, "escalate",
     {"identity.name": "escalation_required", "sud.screening": "no_consent"}, []),
    ("payment", "riverside_clinic", {}, "escalate",
     {"identity.name": "escalation_required", "sud.screening": "no_consent"}, []),
    ("operations", "riverside_clinic", {}, "escalate",
     {"identity.name": "escalation_required", "sud.screening": "no_consent"}, []),
    ("individual_request", "riverside_clinic", {}, "allow", {},
     ["log_disclosure", "redisclosure_notice"]),
    ("authorization", "riverside_clinic", {}, "deny",
     {"identity.name": "no_consent", "sud.screening": "no_consent"}, []),
    ("required_by_law", "riverside_clinic", WHY, "allow", {},
     ["log_disclosure", "redisclosure_notice", "record_rationale"]),
    ("emergency", "riverside_clinic", WHY, "allow", {},
     ["log_disclosure", "redisclosure_notice", "post_hoc_review", "record_rationale"]),
])
def test_consent_column(api, purpose, recipient, extra, decision, denied, obligations):
    body = disclose(api, purpose, recipient, ["identity.name", "sud.screening"], **extra)
    assert (body["decision"], body["denied"], body["obligations"]) == (
        decision, denied, obligations)


@pytest.mark.parametrize("purpose,recipient,extra,applies", [
    ("treatment", "riverside_clinic", {}, False),
    ("treatment", "county_dhs", {}, True),
    ("payment", "riverside_clinic", {}, True),
    ("operations", "riverside_clinic", {}, True),
    ("individual_request", "riverside_clinic", {}, False),
    ("authorization", "riverside_clinic", {}, False),
    ("required_by_law", "riverside_clinic", WHY, False),
    ("emergency", "riverside_clinic", WHY, True),
])
def test_minimum_necessary_column(api, purpose, recipient, extra, applies):
    body = disclose(api, purpose, recipient, "*", **extra)
    reasons = set(body["denied"].values())
    assert ("entire_record_not_justified" in reasons) is applies
    if applies:
        assert body["allowed"] == [] and reasons == {"entire_record_not_justified"}
    else:
        assert sorted(body["allowed"] + list(body["denied"])) == ALL
