"""Issue 5 over the API: overrides, break-glass, access reviews, run-due, notifications, alerts.

Time is the app's injected clock; every refusal is a 4xx that writes nothing.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, Override, RoleAssignment
from governance.notify import MemoryNotifier
from governance.operations.reviews import RunDue
from tests.conftest import NOW

NICK_VIEW = {"subject": "nick", "action": "view", "participant": "p-100", "program": "housing",
             "fields": ["identity.name"]}
REQUEST = {"actor": "nick", "program": "housing", "participant": "p-100",
           "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
           "minutes": 60}


@pytest.fixture
def notices(org_app):
    notifier = MemoryNotifier()
    state(org_app).notifier = notifier
    return notifier.sent


def ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


def at(app, moment) -> None:
    state(app).clock = lambda: moment


def audit_rows(app) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(AuditEvent))


def decision(api):
    return ok(api.post("/api/v1/decisions", json=NICK_VIEW))


def approved_override(api, org_app, **change):
    override = ok(api.post("/api/v1/overrides", json={**REQUEST, **change}), 201)
    return ok(api.post(f"/api/v1/overrides/{override['id']}/approve", json={"actor": "sam"}))


def test_override_valid_at_its_last_second_and_denied_one_second_later(api, org_app, notices):
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    assert override["status"] == "pending"
    assert [n.event for n in notices] == ["override.requested"] and "sam" in notices[0].recipients
    assert decision(api)["decision"] == "deny"
    approved = ok(api.post(f"/api/v1/overrides/{override['id']}/approve",
                           json={"actor": "sam", "note": "ok for the shift"}))
    assert approved["status"] == "active" and notices[-1].event == "override.approved"
    assert decision(api)["decision"] == "allow"
    at(org_app, NOW + timedelta(minutes=60) - timedelta(seconds=1))
    assert decision(api)["decision"] == "allow"
    at(org_app, NOW + timedelta(minutes=60))
    assert decision(api)["denied"] == {"identity.name": "no_case_involvement"}


@pytest.mark.parametrize("change,status,member", [
    ({"reason": ""}, 400, "reason"),
    ({"reason": None}, 400, "reason"),
    ({"minutes": 0}, 400, "minutes"),
    ({"minutes": "60"}, 400, "minutes"),
    ({"actions": ["delete"]}, 400, "actions"),
    ({"fields": ["nope.*"]}, 400, "fields"),
    ({"program": "nowhere"}, 400, "program"),
    ({"participant": "p-300"}, 400, "participant"),
    ({"minutes": 481}, 422, "minutes"),
    ({"actor": "bo"}, 422, "actor"),
    ({"actor": "lee"}, 422, "actor"),
])
def test_bad_override_requests_are_refused_and_write_nothing(api, org_app, change, status,
                                                             member):
    before = audit_rows(org_app)
    response = api.post("/api/v1/overrides", json={**REQUEST, **change})
    assert response.status_code == status, response.json
    assert member in response.json["error"]["details"]
    assert audit_rows(org_app) == before


def test_role_maximum_and_eligibility_limit_requests(api, org_app):
    with org_app.app_context():
        from governance.models import Role

        session = state(org_app).session
        role = session.get(Role, "case_manager")
        role.max_override_minutes = 120
        role.eligible_overrides = [{"fields": ["identity.*", "contact.*"], "actions": ["view"]}]
        session.commit()
    assert api.post("/api/v1/overrides", json={**REQUEST, "minutes": 121}).status_code == 422
    refused = api.post("/api/v1/overrides", json={**REQUEST, "fields": ["clinical.*"]})
    assert refused.status_code == 422
    assert api.post("/api/v1/overrides", json={**REQUEST, "minutes": 120}).status_code == 201


@pytest.mark.parametrize("approver", ["nick", "alice", "olga", "rita"])
def test_self_and_non_approvers_cannot_approve(api, org_app, approver):
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    before = audit_rows(org_app)
    response = api.post(f"/api/v1/overrides/{override['id']}/approve", json={"actor": approver})
    assert response.status_code == 422
    assert audit_rows(org_app) == before


def test_resolving_a_resolved_request_is_409(api, org_app):
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/deny", json={"actor": "sam"}))
    assert api.post(f"/api/v1/overrides/{override['id']}/approve",
                    json={"actor": "sam"}).status_code == 409


def test_concurrent_approvals_resolve_once(api, org_app):
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    statuses = []

    def approve():
        client = org_app.test_client()
        client.environ_base.update(api.environ_base)
        statuses.append(client.post(f"/api/v1/overrides/{override['id']}/approve",
                                    json={"actor": "sam"}).status_code)

    threads = [threading.Thread(target=approve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses)[0] == 200 and statuses.count(200) == 1


def test_revoke_ends_an_active_override_at_once(api, org_app):
    override = approved_override(api, org_app)
    assert decision(api)["decision"] == "allow"
    revoked = ok(api.post(f"/api/v1/overrides/{override['id']}/revoke", json={"actor": "sam"}))
    assert revoked["status"] == "revoked"
    assert decision(api)["decision"] == "deny"
    assert api.post(f"/api/v1/overrides/{override['id']}/revoke",
                    json={"actor": "sam"}).status_code == 409


def test_pending_request_lapses(api, org_app):
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    at(org_app, NOW + timedelta(days=1, seconds=1))
    before = audit_rows(org_app)
    assert api.post(f"/api/v1/overrides/{override['id']}/approve",
                    json={"actor": "sam"}).status_code == 409
    assert audit_rows(org_app) == before
    result = org_app.test_cli_runner().invoke(args=["governance", "reviews", "run-due"])
    assert "pending expired: 1" in result.output
    assert ok(api.get(f"/api/v1/overrides/{override['id']}"))["status"] == "expired"


def test_break_glass_expires_after_sixty_minutes_and_opens_a_review(api, org_app, notices):
    used = ok(api.post("/api/v1/break-glass", json={
        "actor": "nick", "participant": "p-100", "program": "housing",
        "reason": "client in crisis at the front desk"}), 201)
    assert used["status"] == "active" and used["obligations"] == ["post_hoc_review"]
    assert notices[-1].event == "break_glass.used" and "sam" in notices[-1].recipients
    answer = decision(api)
    assert answer["decision"] == "allow" and answer["obligations"] == ["post_hoc_review"]
    at(org_app, NOW + timedelta(minutes=60))
    assert decision(api)["decision"] == "deny"
    with org_app.app_context():
        from governance.models import ReviewItem

        item = state(org_app).session.scalar(select(ReviewItem.id).where(
            ReviewItem.override_id == used["id"]))
    assert api.post(f"/api/v1/break-glass/reviews/{item}/close",
                    json={"actor": "nick", "finding": "fine"}).status_code == 422
    closed = ok(api.post(f"/api/v1/break-glass/reviews/{item}/close",
                         json={"actor": "sam", "finding": "justified"}))
    assert closed["status"] == "closed"
    assert api.post("/api/v1/break-glass", json={"actor": "nick", "participant": "p-100",
                                                 "program": "housing"}).status_code == 400


def test_repeated_break_glass_is_flagged_and_alerted(api, org_app):
    body = {"actor": "nick", "participant": "p-100", "program": "housing", "reason": "again"}
    flags = [ok(api.post("/api/v1/break-glass", json=body), 201)["flagged"] for _ in range(3)]
    assert flags == [False, False, True]
    frequent = ok(api.get("/api/v1/alerts"))["frequent_break_glass"]
    assert frequent == [{"user": "nick", "uses_in_30_days": 3}]


# -- access reviews -------------------------------------------------------------------------
CAMPAIGN = {"actor": "rita", "roles": ["supervisor"], "due": "2026-12-07T00:00:00",
            "on_no_decision": "revoke"}


def test_campaign_items_show_last_use_and_recommend(api, org_app):
    api.post("/api/v1/decisions", json={**NICK_VIEW, "subject": "sam"})  # sam uses his role
    campaign = ok(api.post("/api/v1/reviews/campaigns", json=CAMPAIGN), 201)
    items = {i["user"]: i for i in campaign["items"]}
    assert set(items) == {"sam"}  # olga's ended, paul's not yet started
    assert items["sam"]["last_used_at"].startswith("2026-11-23")
    assert items["sam"]["recommendation"] == "keep"


def test_reviewer_decides_and_revoke_takes_effect_at_once(api, org_app):
    approved_override(api, org_app)
    campaign = ok(api.post("/api/v1/reviews/campaigns", json={**CAMPAIGN, "roles": []}), 201)
    items = {(i["kind"], i["user"]): i for i in campaign["items"]}
    own = items[("assignment", "sam")]
    assert api.post(f"/api/v1/reviews/items/{own['id']}/decide",
                    json={"actor": "sam", "decision": "keep"}).status_code == 422
    nick = items[("override", "nick")]
    decided = ok(api.post(f"/api/v1/reviews/items/{nick['id']}/decide",
                          json={"actor": "sam", "decision": "revoke", "note": "not needed"}))
    assert decided["status"] == "decided"
    assert decision(api)["decision"] == "deny"
    assert api.post(f"/api/v1/reviews/items/{nick['id']}/decide",
                    json={"actor": "sam", "decision": "keep"}).status_code == 409


def test_run_due_applies_on_no_decision_and_is_idempotent(api, org_app):
    campaign = ok(api.post("/api/v1/reviews/campaigns", json=CAMPAIGN), 201)
    at(org_app, NOW + timedelta(days=14))
    runner = org_app.test_cli_runner()
    first = runner.invoke(args=["governance", "reviews", "run-due"])
    assert first.exit_code == 0 and "campaigns closed: 1" in first.output
    second = runner.invoke(args=["governance", "reviews", "run-due"])
    assert "campaigns closed: 0" in second.output
    shown = ok(api.get(f"/api/v1/reviews/campaigns/{campaign['id']}"))
    assert shown["status"] == "closed"
    assert [i["decision"] for i in shown["items"]] == ["revoke"]
    with org_app.app_context():
        ended = state(org_app).session.scalar(select(RoleAssignment.ended_at).where(
            RoleAssignment.user_id == "sam"))
    assert ended is not None


def test_run_due_expires_warns_and_notifies(api, org_app, notices):
    override = approved_override(api, org_app)
    at(org_app, NOW + timedelta(minutes=30))
    with org_app.app_context():
        run = RunDue(NOW + timedelta(minutes=30))
        assert run.execute(state(org_app).session)["expiry_warnings"] == 1
        again = RunDue(NOW + timedelta(minutes=31))
        assert again.execute(state(org_app).session)["expiry_warnings"] == 0
        late = RunDue(NOW + timedelta(minutes=61))
        assert late.execute(state(org_app).session)["overrides_expired"] == 1
        assert [n.event for n in run.notices + late.notices] == ["override.expiring",
                                                                 "override.expired"]
    assert ok(api.get(f"/api/v1/overrides/{override['id']}"))["status"] == "expired"


def test_run_due_opens_scheduled_campaigns_once(api, org_app):
    with org_app.app_context():
        first = RunDue(NOW).execute(state(org_app).session)
        second = RunDue(NOW + timedelta(minutes=1)).execute(state(org_app).session)
    assert first["campaigns_opened"] == 1 and second["campaigns_opened"] == 0


def test_two_run_due_at_once_act_once(make_app, backend):
    """PostgreSQL: an advisory lock; SQLite: the database write lock, taken first."""
    from tests.conftest import apply_file

    app = make_app(backend)
    apply_file(app)
    with app.app_context():
        session = state(app).session
        for minutes in (1, 2, 3):
            session.add(Override(id=f"ovr_{minutes}", user_id="nick", program_id="housing",
                                 fields=["identity.*"], actions=["view"], reason="x",
                                 minutes=minutes, status="approved",
                                 approved_at=NOW - timedelta(hours=1),
                                 expires_at=NOW - timedelta(minutes=minutes)))
        session.commit()
    results = []

    def run():
        with app.app_context():
            results.append(RunDue(NOW).execute(state(app).session)["overrides_expired"])
            state(app).session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 3]


def test_alerts_list_unreviewed_unused_and_generic_accounts(api, org_app):
    with org_app.app_context():
        from governance.models import User

        session = state(org_app).session
        session.add(User(id="frontdesk_shared", name="Front desk shared", source="api"))
        session.commit()
    found = ok(api.get("/api/v1/alerts"))
    assert {"user": "sam", "role": "supervisor", "program": "housing"}.items() <= \
        found["elevated_never_reviewed"][0].items()
    assert [a["user"] for a in found["shared_or_generic_accounts"]] == ["frontdesk_shared"]
    assert ok(api.get("/api/v1/alerts?unused_days=0"))["unused_for_0_days"]


def test_opening_a_campaign_notifies_its_reviewers(api, org_app, notices):
    ok(api.post("/api/v1/reviews/campaigns", json=CAMPAIGN), 201)
    # sam is housing's only supervisor and nobody reviews their own access: he is not told of
    # his own item; rita, who opened the campaign, is told that nobody may decide it.
    assert [(n.event, n.recipients) for n in notices] == [("review.no_reviewer", ["rita"])]


def test_undecided_items_remind_reviewers_once_before_the_due_date(api, org_app, notices):
    ok(api.post("/api/v1/reviews/campaigns", json=CAMPAIGN), 201)  # due 2026-12-07
    with org_app.app_context():
        early = RunDue(NOW + timedelta(days=5)).execute(state(org_app).session)
        run = RunDue(NOW + timedelta(days=13))
        first = run.execute(state(org_app).session)
        again = RunDue(NOW + timedelta(days=13, hours=1)).execute(state(org_app).session)
    assert (early["review_reminders"], first["review_reminders"],
            again["review_reminders"]) == (0, 1, 0)
    assert [(n.event, n.recipients) for n in run.notices] == [("review.no_reviewer", ["rita"])]
    assert run.notices[0].subject.startswith("Due within a day: ")


def test_a_failing_notifier_never_undoes_the_committed_request(api, org_app, caplog):
    class Broken:
        def notify(self, session, notice):
            raise RuntimeError("mail relay down")

    state(org_app).notifier = Broken()
    override = ok(api.post("/api/v1/overrides", json=REQUEST), 201)
    assert ok(api.get(f"/api/v1/overrides/{override['id']}"))["status"] == "pending"
    assert "override.requested: the notifier failed" in caplog.text


def test_run_due_from_the_command_line_tells_the_configured_notifier(api, org_app, notices):
    approved_override(api, org_app)
    at(org_app, NOW + timedelta(minutes=61))
    result = org_app.test_cli_runner().invoke(args=["governance", "reviews", "run-due"])
    assert result.exit_code == 0, result.output
    assert "override.expired" in [n.event for n in notices]


def test_a_front_end_without_json_fills_the_typed_request_itself(api, org_app):
    """As a console form will: the operation takes the typed request, not a JSON body."""
    from governance.operations.override_requests import OverrideRequest, RequestOverride

    wanted = OverrideRequest(program="housing", participant="p-100", fields=("identity.*",),
                             actions=("view",), reason="covering for alice", minutes=60)
    notifier = MemoryNotifier()
    with org_app.app_context():
        row = RequestOverride("nick", wanted, NOW, notifier=notifier).execute(
            state(org_app).session)
        assert (row.status, row.fields, row.user_id) == ("pending", ["identity.*"], "nick")
    assert [n.event for n in notifier.sent] == ["override.requested"]
    assert "sam" in notifier.sent[0].recipients
    unreadable = OverrideRequest.from_json({**REQUEST, "minutes": "60", "actions": ["dance"]})
    assert unreadable.problems == {"minutes": "a positive whole number",
                                   "actions": "a non-empty list of view, export, disclose"}
