"""Operations take typed inputs and return domain objects, so a console form or the directory
sync calls them without faking a JSON body; the API parses JSON into the same inputs and names
every problem of a request at once."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, Consent, Override, ReviewCampaign
from governance.notify import MemoryNotifier
from governance.operations.break_glass import BreakGlass, BreakGlassRequest
from governance.operations.consents import AmendConsent, CreateConsent, RevokeConsent
from governance.operations.errors import Invalid
from governance.operations.review_campaigns import CampaignRequest, OpenCampaign
from governance.orgfile.schema import ConsentSpec
from tests.conftest import NOW


def rows(app, model) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(model))


def test_break_glass_from_a_form_returns_the_use_and_its_review(org_app):
    wanted = BreakGlassRequest(program="housing", participant="p-100",
                               reason="client in crisis at the front desk")
    notifier = MemoryNotifier()
    with org_app.app_context():
        use = BreakGlass("nick", wanted, NOW, notifier=notifier).execute(state(org_app).session)
        assert use.override.kind == "break_glass" and use.override.participant_id == "p-100"
        assert use.review_item.override_id == use.override.id
        assert (use.uses_in_30_days, use.flagged) == (1, False)
    assert [n.event for n in notifier.sent] == ["break_glass.used"]


def test_break_glass_names_every_missing_member_at_once_and_writes_nothing(api, org_app):
    before = rows(org_app, Override), rows(org_app, AuditEvent)
    response = api.post("/api/v1/break-glass", json={"actor": "nick", "program": " "})
    assert response.status_code == 400
    assert response.json["error"]["details"] == {"program": "required, a non-empty string",
                                        "participant": "required, a non-empty string",
                                        "reason": "required, a non-empty string"}
    assert (rows(org_app, Override), rows(org_app, AuditEvent)) == before
    assert BreakGlassRequest.from_json({"program": "housing", "participant": "p-100",
                                        "reason": "why"}).problems == {}


def test_a_campaign_from_a_form_returns_the_campaign_and_its_items(org_app):
    wanted = CampaignRequest(roles=("supervisor",), programs=(), due=NOW + timedelta(days=7),
                             on_no_decision="revoke")
    with org_app.app_context():
        opened = OpenCampaign("rita", wanted, NOW, notifier=MemoryNotifier()).execute(
            state(org_app).session)
        assert opened.campaign.status == "open" and opened.campaign.roles == ["supervisor"]
        assert [i.user_id for i in opened.items] == ["sam"]


def test_a_campaign_request_names_every_problem_at_once(api, org_app):
    body = {"actor": "rita", "roles": "supervisor", "unused_days": 999999999,
            "due": "next week", "on_no_decision": "forget"}
    response = api.post("/api/v1/reviews/campaigns", json=body)
    assert response.status_code == 400
    details = response.json["error"]["details"]
    assert set(details) == {"roles", "unused_days", "due", "on_no_decision"}
    assert rows(org_app, ReviewCampaign) == 0
    past = {"actor": "rita", "due": "2020-01-01", "on_no_decision": "keep"}
    assert api.post("/api/v1/reviews/campaigns", json=past).json["error"]["details"] == {
        "due": "must be in the future"}


def test_consent_from_a_form_is_a_row_amended_and_revoked_by_the_same_operations(org_app):
    terms = ConsentSpec.model_validate({
        "participant": "p-200", "partners": ["city_housing"], "purposes": ["housing_referral"],
        "fields": ["identity.*"], "from": "2026-11-01", "until": "2027-11-01"})
    with org_app.app_context():
        session = state(org_app).session
        consent = CreateConsent("alice", terms, "signed at intake", NOW).execute(session)
        assert isinstance(consent, Consent) and consent.version == 1
        amended = AmendConsent(consent.id, "alice", {"fields": ["identity.*", "contact.*"]},
                               None, NOW).execute(session)
        assert amended.supersedes == consent.id and amended.fields == ["identity.*",
                                                                       "contact.*"]
        revoked = RevokeConsent(amended.id, "alice", "asked by phone", NOW).execute(session)
        assert (revoked.status, revoked.revoke_reason) == ("revoked", "asked by phone")


def test_an_amendment_names_what_is_not_a_consent_term(org_app, api):
    created = api.post("/api/v1/consents", json={
        "actor": "alice", "participant": "p-200", "partners": ["city_housing"],
        "purposes": ["housing_referral"], "fields": ["identity.*"]})
    assert created.status_code == 201
    with org_app.app_context(), pytest.raises(Invalid) as refused:
        AmendConsent(created.json["id"], "alice", {"bundel": ["x"]}, None,
                     datetime(2026, 12, 1)).execute(state(org_app).session)
    assert refused.value.details == {"bundel": "not a consent term"}
