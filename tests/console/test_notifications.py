"""In-app notifications: every operation's notices land in the inbox of the people who can act
(never the requester, never everyone), the header counts the unread ones, the Notifications
page lists mine only, newest first, filtered and paged; opening one marks it read (audited) and
goes where I can act; "Mark all read" needs its CSRF token."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, Notification
from governance.notify import InboxNotifier, Notice
from governance.operations.review_decisions import DecideReviewItems, ItemDecision
from governance.operations.reviews import RunDue
from tests.conftest import NOW, new_key
from tests.signin.conftest import csrf_token

PAGE = "/console/notifications"
OVERRIDE = {"actor": "nick", "program": "housing", "participant": "p-100",
            "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
            "minutes": 30}
PAYMENT = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
           "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}


@pytest.fixture
def api(console_app):
    client = console_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = \
        f"Bearer {new_key(console_app, 'decide', 'manage')}"
    return client


def ok(response, status=200):
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def inbox(app, user: str) -> list[Notification]:
    with app.app_context():
        rows = state(app).session.scalars(select(Notification).where(
            Notification.user_id == user).order_by(Notification.created_at,
                                                   Notification.id)).all()
        state(app).session.expunge_all()
        return rows


def unread(app, user: str) -> int:
    return sum(1 for n in inbox(app, user) if n.read_at is None)


def read_events(app) -> list[AuditEvent]:
    with app.app_context():
        rows = state(app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "notification.read").order_by(AuditEvent.seq)).all()
        state(app).session.expunge_all()
        return rows


def header_link(page: str) -> str | None:
    found = re.search(r'<a class="inbox-link"[^>]*>(.*?)</a>', page)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else None


def tell(app, user: str, count: int, event: str = "override.expiring") -> None:
    """``count`` notices to ``user``, a minute apart, through the real inbox notifier."""
    with app.app_context():
        for n in range(count):
            InboxNotifier().notify(state(app).session, Notice(
                event, [user], f"Notice {n}", "body", at=NOW + timedelta(minutes=n)))


def test_an_override_request_reaches_its_approvers_not_the_requester(console_app, api,
                                                                     signed_in):
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    [told] = inbox(console_app, "sam")
    assert (told.event, told.ref, told.read_at) == ("override.requested", override["id"], None)
    assert told.subject == "nick asks for an override in housing"
    assert "covering for alice" in told.body and "30 minutes" in told.body
    # nick asked; cora approves escalations only; ada approves nothing: none of them is told
    assert inbox(console_app, "nick") == inbox(console_app, "cora") == []
    page = signed_in("sam").get("/console/").get_data(as_text=True)
    assert header_link(page) == "Notifications (1) unread"


def test_nobody_is_told_to_approve_their_own_request(console_app, api):
    ok(api.post("/api/v1/overrides", json={**OVERRIDE, "actor": "sam"}), 201)
    assert inbox(console_app, "sam") == []  # sam approves in housing, but not his own


def test_the_requester_is_told_who_approved_and_until_when(console_app, api):
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/approve",
                json={"actor": "sam", "note": "ok for today"}))
    [told] = inbox(console_app, "nick")
    assert told.event == "override.approved"
    assert told.subject == "Your override request in housing was approved by sam"
    assert "active now, until 23 Nov 2026 12:30 UTC" in told.body
    assert "Note: ok for today" in told.body


def test_a_denial_names_who_denied(console_app, api):
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/deny", json={"actor": "sam"}))
    [told] = inbox(console_app, "nick")
    assert (told.event, told.subject) == (
        "override.denied", "Your override request in housing was denied by sam")


def test_each_notice_says_what_became_of_its_request(console_app, api, signed_in):
    first = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    ok(api.post("/api/v1/overrides", json={**OVERRIDE, "actor": "alice"}), 201)
    ok(api.post(f"/api/v1/overrides/{first['id']}/deny", json={"actor": "sam"}))
    page = signed_in("sam").get(PAGE).get_data(as_text=True)
    assert re.findall(r"Now: ([^<]+)</p>", page) == ["waiting for a decision", "denied by sam"]


def test_access_about_to_end_is_told_once_and_its_end_after(console_app, api):
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/approve", json={"actor": "sam"}))
    with console_app.app_context():
        session, notifier = state(console_app).session, state(console_app).notifier
        for minutes in (1, 2, 3):  # cron every minute: told once, not every run
            RunDue(NOW + timedelta(minutes=minutes), notifier=notifier).execute(session)
        RunDue(NOW + timedelta(minutes=31), notifier=notifier).execute(session)
    events = [n.event for n in inbox(console_app, "nick")]
    assert events == ["override.approved", "override.expiring", "override.expired"]


def test_an_undecided_request_lapses_and_its_requester_is_told(console_app, api):
    ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    with console_app.app_context():
        RunDue(NOW + timedelta(days=2), notifier=state(console_app).notifier).execute(
            state(console_app).session)
    assert [n.event for n in inbox(console_app, "nick")] == ["override.lapsed"]


def test_escalations_go_to_their_approvers_and_the_decision_to_the_requester(console_app,
                                                                              api):
    decision = ok(api.post("/api/v1/decisions", json=PAYMENT))
    escalation = ok(api.post("/api/v1/escalations", json={
        "actor": "rita", "decision_id": decision["decision_id"],
        "justification": "claim dispute needs the member name"}), 201)
    assert [n.event for n in inbox(console_app, "sam")] == ["escalation.requested"]
    assert [n.event for n in inbox(console_app, "cora")] == ["escalation.requested"]
    ok(api.post(f"/api/v1/escalations/{escalation['id']}/approve", json={"actor": "cora"}))
    [told] = inbox(console_app, "rita")
    assert told.subject == "Your escalation for p-100 was approved by cora"


def test_decisions_taken_in_the_console_reach_the_requester(console_app, api, signed_in):
    decision = ok(api.post("/api/v1/decisions", json=PAYMENT))
    escalation = ok(api.post("/api/v1/escalations", json={
        "actor": "rita", "decision_id": decision["decision_id"],
        "justification": "claim dispute needs the member name"}), 201)
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    cora, sam = signed_in("cora"), signed_in("sam")
    for client, path in ((cora, f"/console/approvals/escalations/{escalation['id']}"),
                         (sam, f"/console/approvals/overrides/{override['id']}")):
        response = client.post(path, data={"verdict": "deny", "note": "not enough",
                                           "csrf_token": csrf_token(client, "/console/")})
        assert response.status_code == 302, response.get_data(as_text=True)
    assert [n.subject for n in inbox(console_app, "rita")] == [
        "Your escalation for p-100 was denied by cora"]
    assert [n.subject for n in inbox(console_app, "nick")] == [
        "Your override request in housing was denied by sam"]


def test_review_items_go_to_each_reviewer_never_about_their_own_access(console_app, api):
    ok(api.post("/api/v1/reviews/campaigns", json={
        "actor": "ada", "roles": ["supervisor"], "due": "2026-12-20T00:00:00",
        "on_no_decision": "keep"}), 201)
    # sam's own supervisor assignment is the item: cora (who reviews everywhere) is told
    assert [n.event for n in inbox(console_app, "cora")] == ["review.item_assigned"]
    assert "1 item for you" in inbox(console_app, "cora")[0].subject
    assert inbox(console_app, "sam") == []


def campaign_items(app, api, on_no_decision: str = "keep") -> dict[str, str]:
    """A campaign over supervisors (sam's item, which cora reviews): user -> item id."""
    opened = ok(api.post("/api/v1/reviews/campaigns", json={
        "actor": "ada", "roles": ["supervisor"], "due": "2026-12-20T00:00:00",
        "on_no_decision": on_no_decision}), 201)
    return {i["user"]: i["id"] for i in opened["items"]}


@pytest.mark.parametrize("how", ["api", "bulk"])
def test_access_revoked_in_a_review_is_told_to_its_holder(console_app, api, how):
    item = campaign_items(console_app, api)["sam"]
    if how == "api":  # cora reviews everywhere (the console's Reviews page needs the power)
        ok(api.post(f"/api/v1/reviews/items/{item}/decide",
                    json={"actor": "cora", "decision": "revoke"}))
    else:  # what the Reviews page's Submit decisions runs
        with console_app.app_context():
            DecideReviewItems("cora", [ItemDecision(item, "revoke")], NOW,
                              notifier=state(console_app).notifier).execute(
                state(console_app).session)
    [told] = inbox(console_app, "sam")
    assert told.event == "review.access_revoked"
    assert "Ended now: supervisor in housing. Why: cora revoked it" in told.body


def test_a_missed_due_date_that_revokes_tells_the_holder_why(console_app, api):
    campaign_items(console_app, api, on_no_decision="revoke")
    with console_app.app_context():
        RunDue(NOW + timedelta(days=30), notifier=state(console_app).notifier).execute(
            state(console_app).session)
    [told] = [n for n in inbox(console_app, "sam") if n.event == "review.access_revoked"]
    assert "no reviewer decided by the campaign's due date" in told.body


def test_break_glass_goes_to_those_who_close_its_review(console_app, api):
    ok(api.post("/api/v1/break-glass", json={"actor": "nick", "participant": "p-100",
                                             "program": "housing", "reason": "crisis call"}),
       201)
    assert [n.event for n in inbox(console_app, "sam")] == ["break_glass.used"]
    assert [n.event for n in inbox(console_app, "cora")] == ["break_glass.used"]
    assert inbox(console_app, "nick") == []


def test_the_list_shows_mine_newest_first_and_new_ones_marked(console_app, signed_in):
    tell(console_app, "nick", 3)
    tell(console_app, "alice", 1)
    page = signed_in("nick").get(PAGE).get_data(as_text=True)
    assert re.findall(r">Notice (\d)</a>", page) == ["2", "1", "0"]
    assert page.count('class="badge-new"') == 3
    assert "3 notifications, newest first." in page
    assert "opens Requests" in page or "opens Dashboard" in page
    assert unread(console_app, "nick") == 3  # the list itself marks nothing


def test_opening_one_marks_it_read_and_goes_where_i_can_act(console_app, api, signed_in):
    ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    [told] = inbox(console_app, "sam")
    sam = signed_in("sam")
    response = sam.get(f"{PAGE}/{told.id}/open")
    assert response.status_code == 302
    built = "governance_console.approvals" in console_app.view_functions
    assert response.headers["Location"].endswith("/console/approvals" if built else "/console/")
    assert unread(console_app, "sam") == 0
    [event] = read_events(console_app)
    assert (event.actor, event.subject) == ("sam", "sam")
    assert sam.get(f"{PAGE}/{told.id}/open").status_code == 302  # again: nothing more written
    assert len(read_events(console_app)) == 1
    assert header_link(sam.get(PAGE).get_data(as_text=True)) == "Notifications"


def test_someone_elses_notification_is_not_found_and_stays_unread(console_app, api,
                                                                 signed_in):
    ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    [told] = inbox(console_app, "sam")
    nick = signed_in("nick")
    assert nick.get(f"{PAGE}/{told.id}/open").status_code == 404
    assert "nick asks for an override" not in nick.get(PAGE).get_data(as_text=True)
    assert unread(console_app, "sam") == 1


def test_mark_all_read_marks_only_mine(console_app, signed_in):
    tell(console_app, "nick", 3)
    tell(console_app, "alice", 2)
    nick = signed_in("nick")
    response = nick.post(PAGE + "/read", data={"csrf_token": csrf_token(nick, PAGE)},
                         follow_redirects=True)
    assert response.status_code == 200
    assert "3 notifications marked read." in response.get_data(as_text=True)
    assert (unread(console_app, "nick"), unread(console_app, "alice")) == (0, 2)
    [event] = read_events(console_app)
    assert event.actor == "nick"


def test_mark_all_read_without_its_csrf_token_is_refused_and_changes_nothing(console_app,
                                                                            signed_in):
    tell(console_app, "nick", 2)
    response = signed_in("nick").post(PAGE + "/read", data={})
    assert response.status_code == 400
    assert unread(console_app, "nick") == 2 and read_events(console_app) == []


def test_filters_by_what_it_is_about_and_unread(console_app, signed_in):
    tell(console_app, "nick", 2, event="override.expiring")
    tell(console_app, "nick", 1, event="override.approved")
    nick = signed_in("nick")
    [first] = [n for n in inbox(console_app, "nick") if n.event == "override.approved"]
    nick.get(f"{PAGE}/{first.id}/open")
    ending = nick.get(PAGE + "?about=ending").get_data(as_text=True)
    assert ending.count('class="inbox-subject"') == 2
    assert nick.get(PAGE + "?show=unread").get_data(as_text=True).count(
        'class="inbox-subject"') == 2
    assert "No notification matches these filters." in nick.get(
        PAGE + "?about=mine&show=unread").get_data(as_text=True)


def test_a_bad_filter_is_400_naming_it(console_app, signed_in):
    response = signed_in("nick").get(PAGE + "?about=everything-ever")
    assert response.status_code == 400
    assert "About: not one of the choices offered" in response.get_data(as_text=True)


def test_pages_of_twenty_five_newest_first(console_app, signed_in):
    tell(console_app, "nick", 30)
    nick = signed_in("nick")
    first = nick.get(PAGE).get_data(as_text=True)
    assert re.findall(r">Notice (\d+)</a>", first)[0] == "29"
    assert len(re.findall(r">Notice (\d+)</a>", first)) == 25
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = nick.get(older).get_data(as_text=True)
    assert re.findall(r">Notice (\d+)</a>", second) == ["4", "3", "2", "1", "0"]
    assert 'rel="next"' not in second and ">Newest</a>" in second
    assert nick.get(PAGE + "?before=ntf_someone-elses").status_code == 400


def test_the_header_count_tops_out_and_needs_no_page_of_its_own(console_app, signed_in):
    tell(console_app, "nick", 120)
    page = signed_in("nick").get("/console/").get_data(as_text=True)
    assert header_link(page) == "Notifications (99+) unread"


def test_signed_out_people_are_sent_to_sign_in(console_app):
    response = console_app.test_client().get(PAGE)
    assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]


def test_an_inbox_that_cannot_be_written_never_undoes_the_request(console_app, api,
                                                                  monkeypatch, caplog):
    def broken(self, session, notice):
        raise RuntimeError("disk full")

    monkeypatch.setattr(InboxNotifier, "notify", broken)
    override = ok(api.post("/api/v1/overrides", json=OVERRIDE), 201)
    assert ok(api.get(f"/api/v1/overrides/{override['id']}"))["status"] == "pending"
    assert "override.requested: InboxNotifier failed" in caplog.text
    with console_app.app_context():
        assert state(console_app).session.scalar(
            select(func.count()).select_from(Notification)) == 0
