"""The dashboard: what needs my attention (each queue counted, never my own requests, shown
only to those whose powers allow it) and the last 14 days' charts from the audit trail."""
from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.console.charts import label_lines
from governance.extension import state
from governance.models import Consent
from governance.reads import attention
from governance.reads.dashboard import ALLOWED, Window, elevation_per_program, trail_figures
from tests.conftest import NOW, new_key

NICK_OVERRIDE = {"actor": "nick", "program": "housing", "participant": "p-100",
                 "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
                 "minutes": 60}
PAYMENT = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
           "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}
ALICE_VIEW = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing"}


@pytest.fixture
def api(console_app):
    """The service's API with a key that may decide and manage."""
    client = console_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = (
        f"Bearer {new_key(console_app, 'decide', 'manage')}")
    return client


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def dashboard(signed_in, user: str) -> str:
    response = signed_in(user).get("/console/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def card_count(page: str, key: str) -> int | None:
    """The number on a card, or None when the card is not shown."""
    found = re.search(rf'id="card-{key}"><span class="count">([\d,]+)</span>', page)
    return int(found.group(1).replace(",", "")) if found else None


def escalation(api) -> dict:
    decision = ok(api.post("/api/v1/decisions", json=PAYMENT))
    assert decision["decision"] == "escalate"
    return ok(api.post("/api/v1/escalations", json={
        "actor": "rita", "decision_id": decision["decision_id"],
        "justification": "claim dispute needs the member name"}), 201)


def test_approver_sees_what_waits_for_them_and_never_their_own(api, signed_in):
    ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    ok(api.post("/api/v1/overrides", json={**NICK_OVERRIDE, "actor": "sam"}), 201)
    escalation(api)

    sam = dashboard(signed_in, "sam")
    assert card_count(sam, "approvals") == 2  # nick's override and rita's escalation
    assert "Override requests: 1</span> · <span>Escalations: 1" in sam
    assert "Nick Shah (nick) asks to view identity.* in Rapid Rehousing" in sam
    assert "Sam Ortiz (sam) asks" not in sam
    cora = dashboard(signed_in, "cora")  # approves escalations only, everywhere
    assert card_count(cora, "approvals") == 1
    assert "Override requests: 0</span> · <span>Escalations: 1" in cora


def test_a_user_without_powers_sees_no_queue_and_no_chart(api, signed_in):
    ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    for user in ("alice", "nick"):
        page = dashboard(signed_in, user)
        assert card_count(page, "approvals") is None and card_count(page, "alerts") is None
        assert "What needs your attention" in page
        assert "Most-denied fields" not in page
        assert "Request access for yourself" in page  # what they may do


def test_everyone_sees_their_own_requests_waiting_on_others(api, signed_in):
    alice = dashboard(signed_in, "alice")
    assert card_count(alice, "mine") == 0 and "Nothing you asked for is waiting." in alice
    ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    nick = dashboard(signed_in, "nick")
    assert card_count(nick, "mine") == 1
    assert "Override: view identity.* in Rapid Rehousing" in nick and "awaiting approval" in nick
    assert card_count(dashboard(signed_in, "sam"), "mine") is None  # nothing of his waits


def test_lapsed_override_requests_are_not_waiting(api, console_app, signed_in):
    ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    console_app.clock.advance(minutes=int(
        console_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"]))
    assert card_count(dashboard(signed_in, "sam"), "approvals") == 0


def test_break_glass_awaits_review_by_reviewers_and_auditors_not_the_user(api, signed_in):
    ok(api.post("/api/v1/break-glass", json={"actor": "alice", "participant": "p-100",
                                             "program": "housing", "reason": "crisis call"}),
       201)
    assert card_count(dashboard(signed_in, "sam"), "break_glass") == 1
    cora = dashboard(signed_in, "cora")
    assert card_count(cora, "break_glass") == 1 and "Alice Ng (alice) in Rapid Rehousing" in cora
    assert card_count(dashboard(signed_in, "alice"), "break_glass") is None
    assert card_count(dashboard(signed_in, "ada"), "break_glass") is None  # admin, no reviewer


def test_review_items_due_are_the_reviewers_own_queue_without_their_own_access(api, signed_in):
    override = ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/approve", json={"actor": "sam"}))
    campaign = ok(api.post("/api/v1/reviews/campaigns", json={
        "actor": "rita", "roles": [], "programs": ["housing"], "due": "2026-12-07T00:00:00",
        "on_no_decision": "revoke"}), 201)
    assert {i["user"] for i in campaign["items"]} == {"sam", "nick"}
    sam = dashboard(signed_in, "sam")
    assert card_count(sam, "reviews") == 1  # nick's override; sam's own supervisor role is not
    assert "Nick Shah (nick): override in Rapid Rehousing, due 07 Dec 2026" in sam
    assert card_count(dashboard(signed_in, "cora"), "reviews") is None  # not a reviewer


def test_consents_flagged_or_ending_within_30_days_are_to_renew(api, console_app, signed_in):
    assert card_count(dashboard(signed_in, "cora"), "consents") == 0
    with console_app.app_context():
        session = state(console_app).session
        consent = session.scalars(select(Consent).where(Consent.participant_id == "p-300",
                                                        Consent.ended_at.is_(None))).one()
        consent_id = consent.id
        # p-100's consent to City Housing ends 2027-01-01: 39 days on, 29 days ten days later
        assert attention.consents_to_renew(session, NOW).count == 0
        assert attention.consents_to_renew(session, NOW + timedelta(days=10)).count == 1
    ok(api.post(f"/api/v1/consents/{consent_id}/flag-renewal",
                json={"actor": "alice", "trigger": "hospitalization"}))
    cora = dashboard(signed_in, "cora")
    assert card_count(cora, "consents") == 1 and "p-300" in cora
    assert "flagged: hospitalization" in cora
    assert card_count(dashboard(signed_in, "sam"), "consents") == 1  # an approver
    assert card_count(dashboard(signed_in, "alice"), "consents") is None


def test_alerts_are_shown_to_administrators_and_auditors(signed_in):
    ada = dashboard(signed_in, "ada")
    assert card_count(ada, "alerts") >= 1  # sam's elevated role was never reviewed
    assert "Elevated access never reviewed: 1" in ada
    assert "Sam Ortiz (sam), supervisor in Rapid Rehousing: never reviewed" in ada
    assert card_count(dashboard(signed_in, "sam"), "alerts") is None


def main_reason(denied: dict[str, str]) -> str:
    if not denied:
        return ALLOWED
    counts = Counter(denied.values())
    return min(counts, key=lambda r: (-counts[r], r))


def test_charts_count_decisions_per_day_by_main_reason_and_the_most_denied_fields(
        api, console_app, signed_in):
    requests = [["identity.name"], ["identity.name", "clinical.diagnosis"],
                ["clinical.diagnosis", "clinical.hiv_status", "identity.dob"], ["no.such_field"]]
    expected: dict = {}
    denied_fields: Counter = Counter()
    for days_ago, fields in ((20, ["clinical.diagnosis"]), (2, requests[0]), (2, requests[1]),
                             (1, requests[2]), (0, requests[3]), (0, requests[1])):
        console_app.clock.now = NOW - timedelta(days=days_ago)
        answer = ok(api.post("/api/v1/decisions", json={**ALICE_VIEW, "fields": fields}))
        if days_ago < 14:
            day = expected.setdefault((NOW - timedelta(days=days_ago)).date(), Counter())
            day[main_reason(answer["denied"])] += 1
            denied_fields.update(answer["denied"].keys())
    console_app.clock.now = NOW
    ok(api.post("/api/v1/overrides", json=NICK_OVERRIDE), 201)
    ok(api.post("/api/v1/break-glass", json={"actor": "dana", "participant": "p-100",
                                             "program": "behavioral_health",
                                             "reason": "crisis call"}), 201)

    with console_app.app_context():
        session, window = state(console_app).session, Window.ending(NOW)
        trail = trail_figures(session, window)
        days = trail.days
        assert len(days) == 14 and days[-1].day == NOW.date()
        assert {d.day: Counter(d.by_reason) for d in days if d.total} == expected
        assert [(f.field, f.denials) for f in trail.fields] == sorted(
            denied_fields.items(), key=lambda item: (-item[1], item[0]))
        assert {(r.program, r.overrides, r.break_glass)
                for r in elevation_per_program(session, window)} == {
            ("housing", 1, 0), ("behavioral_health", 0, 1)}

    page = dashboard(signed_in, "cora")
    assert "Decisions per day" in page and "5 decisions;" in page  # the one 20 days ago is out
    assert '<tr><th scope="row">Rapid Rehousing</th><td>1</td><td>0</td></tr>' in page
    assert '<tspan x="240">Rapid Rehousing</tspan>' in page  # beside its bars
    assert "<code>clinical.diagnosis</code>" in page
    assert 'role="img"' in page and "style=" not in page
    assert "Decisions per day" in dashboard(signed_in, "ada")
    assert "Decisions per day" not in dashboard(signed_in, "sam")


def test_an_empty_trail_says_so_instead_of_drawing_empty_charts(signed_in):
    page = dashboard(signed_in, "ada")
    assert "No decision was recorded in these days." in page
    assert "No field was denied in these days." in page
    assert "No override was requested" in page


def test_a_kept_past_day_is_read_again_once_it_gains_a_row(api, console_app):
    def past_decision(fields: list[str]) -> None:
        console_app.clock.now = NOW - timedelta(days=3)
        ok(api.post("/api/v1/decisions", json={**ALICE_VIEW, "fields": fields}))
        console_app.clock.now = NOW

    def figures_of_that_day():
        with console_app.app_context():
            trail = trail_figures(state(console_app).session, Window.ending(NOW))
            return trail.days[-4], {f.field: f.denials for f in trail.fields}

    past_decision(["identity.name", "clinical.diagnosis"])
    day, fields = figures_of_that_day()
    assert day.total == 1 and day.withheld == 1 and fields == {"clinical.diagnosis": 1}
    assert figures_of_that_day()[0].by_reason == day.by_reason  # kept, and the same
    past_decision(["identity.name"])
    past_decision(["clinical.hiv_status"])
    day, fields = figures_of_that_day()
    assert day.total == 3 and day.withheld == 2
    assert fields == {"clinical.diagnosis": 1, "clinical.hiv_status": 1}


def test_today_is_read_on_every_load(api, console_app):
    def today():
        with console_app.app_context():
            return trail_figures(state(console_app).session, Window.ending(NOW)).days[-1]

    assert today().total == 0
    ok(api.post("/api/v1/decisions", json={**ALICE_VIEW, "fields": ["clinical.diagnosis"]}))
    assert today().total == 1 and today().withheld == 1


@pytest.mark.parametrize(("name", "lines"), [
    ("Rapid Rehousing", ["Rapid Rehousing"]),
    ("Rapid Rehousing and Tenancy Sustainment", ["Rapid Rehousing and", "Tenancy Sustainment"]),
    ("County Care Coordination (county-funded)", ["County Care Coordination",
                                                  "(county-funded)"]),
    ("x" * 40, ["x" * 29 + "…"]),
    ("Outreach " + "y" * 40, ["Outreach", "y" * 29 + "…"]),
])
def test_a_long_program_name_beside_its_bars_takes_two_lines_never_cut_off(name, lines):
    assert label_lines(name) == lines
