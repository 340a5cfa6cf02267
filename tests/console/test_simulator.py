"""The simulator: the form the contract names, the same pipeline as the API, per field allowed or
the reason with its trail, audited as a simulation (never as a decision)."""
from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent
from tests.console.test_access_explorer import plain
from tests.signin.conftest import csrf_token

URL = "/console/simulator"
LABELS = ("User", "Participant", "Program", "Action", "Purpose", "Recipient", "Bundle",
          "Fields")
DISCLOSE = {"user": "alice", "participant": "p-100", "program": "housing",
            "action": "disclose", "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard",
            "fields": "identity.name, contact.phone clinical.diagnosis"}


def decide(client, **form):
    return client.post(URL, data={"csrf_token": csrf_token(client, URL), **form})


def audit_kinds(app) -> dict[str, int]:
    with app.app_context():
        rows = dict(state(app).session.execute(
            select(AuditEvent.kind, func.count()).group_by(AuditEvent.kind)).all())
        state(app).session.rollback()
    return rows


def field_rows(response) -> dict[str, str]:
    html = response.get_data(as_text=True)
    body = html.split('<table class="sim-table">', 1)[1].split("</tbody>", 1)[0]
    return {re.search(r"<code>([^<]+)</code>", row).group(1): plain(row)
            for row in re.findall(r"<tr class=\"row-[a-z]+\">(.*?)</tr>", body, re.S)}


def test_the_form_has_the_contract_labels_and_a_decide_button(console_app, signed_in):
    html = signed_in("cora").get(URL).get_data(as_text=True)
    for label in LABELS:
        match = re.search(rf'<label for="([^"]+)">{label}</label>', html)
        assert match, label
        assert f'id="{match.group(1)}"' in html
    assert re.search(r'<button type="submit">Decide</button>', html)


def test_a_disclosure_is_decided_field_by_field_with_its_trail(console_app, signed_in):
    client = signed_in("cora")
    page = decide(client, **DISCLOSE)
    assert page.status_code == 200
    found = field_rows(page)
    assert found["identity.name"].startswith("identity.name allowed")
    assert "grant ✓ met: role case_manager grants disclose on identity.*" in found["identity.name"]
    assert "assignment ✓ met: alice holds case_manager in housing" in found["identity.name"]
    assert "involvement ✓ met: alice is on the case of p-100" in found["identity.name"]
    assert re.search(r"consent ✓ met: consent cns_\w+ of p-100 covers city_housing",
                     found["contact.phone"])
    assert found["clinical.diagnosis"].startswith("clinical.diagnosis bundle_prohibited")
    assert "bundle ✗ not met: bundle housing_referral_standard prohibits" in \
        found["clinical.diagnosis"]
    text = plain(page.get_data(as_text=True))
    assert "partial Partly allowed" in text and "log_disclosure, cover_sheet" in text


def test_it_says_plainly_when_no_rule_matched(console_app, signed_in):
    page = decide(signed_in("ada"), user="alice", participant="p-100", program="housing",
                  action="view", fields="identity.name clinical.*")
    text = plain(page.get_data(as_text=True))
    assert "No rule matched for 3 fields: clinical.diagnosis, clinical.hiv_status" in text
    found = field_rows(page)
    assert found["clinical.diagnosis"].startswith("clinical.diagnosis no_role_grant")
    assert "No rule matched: no role alice holds in housing" in found["clinical.diagnosis"]


def test_escalation_and_expired_involvement_trails(console_app, signed_in):
    client = signed_in("cora")
    escalate = field_rows(decide(client, **{**DISCLOSE, "recipient": "acme_landlord"}))
    assert escalate["identity.name"].startswith("identity.name escalation_required")
    assert "acme_landlord is not a standard partner" in escalate["identity.name"]
    ivy = field_rows(decide(client, user="ivy", participant="p-100", program="housing",
                            action="view", fields="identity.name"))
    assert ivy["identity.name"].startswith("identity.name no_case_involvement")
    assert "is not active (ended 2026-10-01)" in ivy["identity.name"]


def test_a_simulation_writes_no_decision_row(console_app, signed_in):
    client = signed_in("cora")
    before = audit_kinds(console_app)
    assert decide(client, **DISCLOSE).status_code == 200
    after = audit_kinds(console_app)
    assert after.get("decision", 0) == before.get("decision", 0) == 0
    assert after["decision.simulated"] == before.get("decision.simulated", 0) + 1
    with console_app.app_context():
        row = state(console_app).session.scalar(select(AuditEvent).where(
            AuditEvent.kind == "decision.simulated"))
        assert (row.actor, row.subject, row.participant) == ("cora", "alice", "p-100")
        assert row.ref.startswith("sim_")


def test_the_answer_is_the_apis(console_app, signed_in, api_for):
    page = decide(signed_in("ada"), **DISCLOSE)
    answer = api_for(console_app).post("/api/v1/decisions", json={
        "subject": "alice", **{k: v for k, v in DISCLOSE.items() if k not in ("user",
                                                                               "fields")},
        "fields": ["identity.name", "contact.phone", "clinical.diagnosis"]}).json
    found = field_rows(page)
    for field_id in answer["allowed"]:
        assert found[field_id].startswith(f"{field_id} allowed")
    for field_id, reason in answer["denied"].items():
        assert found[field_id].startswith(f"{field_id} {reason}")


@pytest.mark.parametrize("form, field, message", [
    ({"user": ""}, "user", "required"),
    ({"fields": " , "}, "fields", "must be a non-empty list"),
    ({"fields": "identity.name bad..pattern"}, "fields", "item 2: not a field id or pattern"),
    ({"action": "dance"}, "action", "unknown action 'dance'"),
    ({"purpose": ""}, "purpose", "required for disclose"),
    ({"purpose": "curiosity"}, "purpose", "unknown purpose 'curiosity'"),
    ({"bundle": "care_handoff"}, "bundle", "is for purpose 'care_coordination'"),
    ({"purpose": "crisis_escalation", "bundle": ""}, "justification", "required for purpose"),
])
def test_bad_input_shows_the_form_with_the_message_beside_the_field(
        console_app, signed_in, form, field, message):
    client = signed_in("cora")
    before = audit_kinds(console_app)
    page = decide(client, **{**DISCLOSE, **form})
    assert page.status_code == 400
    html = unescape(page.get_data(as_text=True))
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', html), html
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', html)
    assert 'class="sim-result"' not in html
    assert audit_kinds(console_app) == before  # nothing written


def test_the_form_keeps_what_was_typed(console_app, signed_in):
    html = decide(signed_in("cora"), **{**DISCLOSE, "action": "dance"}).get_data(as_text=True)
    assert 'name="purpose" value="housing_referral"' in html
    assert 'name="fields" value="identity.name, contact.phone clinical.diagnosis"' in html


def test_a_post_without_csrf_token_is_a_400_and_writes_nothing(console_app, signed_in):
    client = signed_in("cora")
    before = audit_kinds(console_app)
    answer = client.post(URL, data=DISCLOSE)
    assert answer.status_code == 400
    assert "The form could not be accepted" in answer.get_data(as_text=True)
    assert audit_kinds(console_app) == before


@pytest.mark.parametrize("user, status", [("ada", 200), ("cora", 200), ("alice", 403),
                                          ("sam", 403), ("dana", 403)])
def test_only_admins_and_auditors_may_simulate(console_app, signed_in, user, status):
    client = signed_in(user)
    assert client.get(URL).status_code == status
    token = csrf_token(client, "/console/")
    assert client.post(URL, data={"csrf_token": token, **DISCLOSE}).status_code == status


@pytest.fixture
def api_for():
    from tests.conftest import new_key

    def client(app):
        c = app.test_client()
        c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide')}"
        return c

    return client
