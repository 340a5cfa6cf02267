"""Overrides, break-glass and escalations are looked up by the pipeline at the moment of the
request: valid at their last second, gone one second later."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from governance.extension import state
from governance.ids import new_id
from governance.models import Escalation, Override
from governance.operations.state import bump_revision
from tests.conftest import NOW


def add(app, row) -> None:
    with app.app_context():
        session = state(app).session
        session.add(row)
        bump_revision(session)
        session.commit()


def at(app, moment) -> None:
    state(app).clock = lambda: moment


def decide(api, **request):
    response = api.post("/api/v1/decisions", json=request)
    assert response.status_code == 200, response.json
    return response.json


NICK_VIEW = dict(subject="nick", action="view", participant="p-100", program="housing",
                 fields=["identity.name", "clinical.diagnosis"])


def override(kind="override", minutes=60, participant="p-100", status="approved", **kw):
    approved = NOW - timedelta(minutes=10)
    return Override(id=new_id("ovr"), kind=kind, user_id="nick", program_id="housing",
                    participant_id=participant, fields=kw.get("fields", ["identity.*"]),
                    actions=kw.get("actions", ["view"]), reason="covering a colleague",
                    minutes=minutes, status=status, approved_at=approved,
                    expires_at=approved + timedelta(minutes=minutes))


def test_approved_override_grants_without_case_involvement(api, org_app):
    add(org_app, override())
    body = decide(api, **NICK_VIEW)
    assert body["allowed"] == ["identity.name"]
    assert body["denied"] == {"clinical.diagnosis": "no_role_grant"}


def test_override_valid_at_last_second_and_denied_one_second_later(api, org_app):
    row = override()
    expires = row.expires_at
    add(org_app, row)
    at(org_app, expires - timedelta(seconds=1))
    assert decide(api, **NICK_VIEW)["allowed"] == ["identity.name"]
    at(org_app, expires)
    assert decide(api, **NICK_VIEW)["denied"]["identity.name"] == "no_case_involvement"


@pytest.mark.parametrize("change", [
    {"status": "pending"}, {"status": "revoked"}, {"participant": "p-200"},
    {"actions": ["export"]}, {"fields": ["contact.*"]},
])
def test_override_that_does_not_cover_the_request_grants_nothing(api, org_app, change):
    add(org_app, override(**change))
    assert decide(api, **NICK_VIEW)["decision"] == "deny"


def test_program_wide_override_covers_any_participant(api, org_app):
    add(org_app, override(participant=None))
    assert decide(api, **{**NICK_VIEW, "participant": "p-200"})["allowed"] == ["identity.name"]


def test_break_glass_carries_post_hoc_review(api, org_app):
    add(org_app, override(kind="break_glass", fields=["*"]))
    body = decide(api, **NICK_VIEW)
    assert body["decision"] == "allow"
    assert body["obligations"] == ["post_hoc_review"]


PAYMENT = dict(subject="rita", action="disclose", participant="p-100", program="housing",
               fields=["identity.name", "contact.phone"], purpose="payment",
               recipient="riverside_clinic")


def escalation(fields=("identity.name",), days_ago=1, **kw):
    decided = NOW - timedelta(days=days_ago)
    values = dict(id=new_id("esc"), decision_id="dec_x", user_id="rita", participant_id="p-100",
                  program_id="housing", recipient_id="riverside_clinic", purpose_id="payment",
                  action="disclose", fields=list(fields), justification="claim dispute",
                  status="approved", decided_at=decided, decided_by="sam",
                  expires_at=decided + timedelta(days=7))
    values.update(kw)
    return Escalation(**values)


def test_approved_escalation_releases_only_its_fields(api, org_app):
    add(org_app, escalation())
    body = decide(api, **PAYMENT)
    assert body["allowed"] == ["identity.name"]
    assert body["denied"] == {"contact.phone": "escalation_required"}


def test_escalation_expires_after_seven_days(api, org_app):
    row = escalation(days_ago=7)
    expires = row.expires_at
    add(org_app, row)
    at(org_app, expires - timedelta(seconds=1))
    assert decide(api, **PAYMENT)["allowed"] == ["identity.name"]
    at(org_app, expires)
    assert decide(api, **PAYMENT)["allowed"] == []


@pytest.mark.parametrize("change", [
    {"status": "pending"}, {"status": "denied"}, {"user_id": "sam"},
    {"recipient_id": "county_dhs"}, {"purpose_id": "operations"}, {"participant_id": "p-200"},
])
def test_escalation_for_another_request_does_not_count(api, org_app, change):
    add(org_app, escalation(**change))
    assert decide(api, **PAYMENT)["decision"] == "escalate"


def test_escalation_named_in_request_must_exist(api, org_app):
    response = api.post("/api/v1/decisions", json={**PAYMENT, "escalation": "esc_missing"})
    assert response.status_code == 400
    assert "escalation" in response.json["error"]["details"]


def test_entire_record_escalation_justifies_star(api, org_app):
    add(org_app, escalation(fields=["*"]))
    body = decide(api, **{**PAYMENT, "fields": "*"})
    assert "entire_record_not_justified" not in body["denied"].values()
    assert "identity.name" in body["allowed"]


def test_consent_until_is_exclusive_end_of_day(api, org_app):
    request = dict(subject="rita", action="disclose", participant="p-100", program="housing",
                   fields=["identity.name"], purpose="housing_referral",
                   recipient="city_housing", bundle="housing_referral_standard")
    # The consent says until: 2027-01-01, i.e. through the whole of that day.
    at(org_app, datetime(2027, 1, 1, 23, 59, 59))
    assert decide(api, **request)["decision"] == "allow"
    at(org_app, datetime(2027, 1, 2, 0, 0, 0))
    assert decide(api, **request)["denied"] == {"identity.name": "consent_expired"}
