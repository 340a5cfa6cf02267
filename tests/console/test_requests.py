"""The Requests page: ask for access (previewed before it is sent), break the glass after a
recent sign-in, my requests with who decided them, my access now and ending it early; every
write through the elevation operations as the signed-in user (audited ``via: console``)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, Override, ReviewItem
from governance.notify import LoggingNotifier
from governance.operations.override_requests import DecideOverride, OverrideRequest, RequestOverride

ASK = {"program": "housing", "participant": "p-100", "fields": "clinical.diagnosis identity.*",
       "actions": "view", "reason": "care plan meeting tomorrow", "minutes": "120"}
PREVIEW = {**ASK, "step": "preview"}
GLASS = {"program": "housing", "participant": "p-200", "reason": "client in crisis at the door"}


def token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, path: str, data: dict, *, csrf: bool = True):
    page = client.get("/console/requests").get_data(as_text=True)
    return client.post(path, data={**data, **({"csrf_token": token(page)} if csrf else {})})


def rows(app, model, **where) -> list:
    with app.app_context():
        session = state(app).session
        found = session.scalars(select(model).filter_by(**where)).all()
        session.expunge_all()
        return found


def events(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        found = state(app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind == kind).order_by(AuditEvent.seq)).all()
        state(app).session.expunge_all()
        return found


def request_as(app, user: str, **changes) -> str:
    """An override request made through the operation, as ``user``; its id."""
    body = {"program": "housing", "participant": "p-100", "fields": ["clinical.diagnosis"],
            "actions": ["view"], "reason": "covering", "minutes": 60, **changes}
    with app.app_context():
        row = RequestOverride(user, OverrideRequest.from_json(body), app.clock(),
                              notifier=LoggingNotifier()).execute(state(app).session)
        return row.id


def decide_as(app, user: str, override_id: str, approve: bool = True, note: str | None = None):
    with app.app_context():
        DecideOverride(override_id, user, approve, note, app.clock(),
                       notifier=LoggingNotifier()).execute(state(app).session)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_the_page_shows_the_form_with_each_programs_longest_duration(signed_in):
    page = text(signed_in("alice").get("/console/requests"))
    for label in ("Participant", "Program", "Fields", "Actions", "Reason", "Minutes"):
        assert f">{label}<" in page
    assert "Longest your role allows: 480 minutes (8 hours) in Rapid Rehousing." in page
    assert "Behavioral Health" not in page.split("Break the glass")[0]  # no role there
    assert ">Request access</button>" in page and ">Break the glass</button>" in page
    assert "the time starts when they approve, not when you ask" in page


def test_a_preview_shows_what_the_request_adds_and_writes_nothing(signed_in, console_app):
    response = post(signed_in("alice"), "/console/requests", PREVIEW)
    assert response.status_code == 200
    page = text(response)
    preview = page.split('id="preview"')[1].split("</details>")[0]
    assert "1 field added, 2 you already hold" in preview
    assert "<code>clinical.diagnosis</code> <span class=\"req-sens req-sens-restricted\">" \
        in preview
    assert "<code>identity.name</code> <span class=\"hint\">through your role case_manager" \
        in preview
    assert "120 minutes (at most 480 in Rapid Rehousing), starting when it is approved" in page
    assert rows(console_app, Override) == []
    assert 'value="care plan meeting tomorrow"' not in page  # a textarea keeps it as text
    assert ">care plan meeting tomorrow</textarea>" in page


def test_a_case_role_counts_only_on_the_participants_case(signed_in):
    # alice is not on p-300's case (behavioral_health) and holds no role there: refused
    page = text(post(signed_in("alice"), "/console/requests",
                     {**PREVIEW, "participant": "p-200", "fields": "identity.name"}))
    assert "nothing added, 1 you already hold" in page  # alice is on p-200's case
    page = text(post(signed_in("nick"), "/console/requests",
                     {**PREVIEW, "participant": "p-200", "fields": "identity.name"}))
    assert "1 field added" in page  # nick is not


def test_sending_a_request_makes_it_pending_as_the_signed_in_user(signed_in, console_app):
    client = signed_in("alice")
    response = post(client, "/console/requests", {**ASK, "actor": "sam"})
    assert response.status_code == 302
    [row] = rows(console_app, Override)
    assert (row.user_id, row.status, row.minutes, row.fields) == (
        "alice", "pending", 120, ["clinical.diagnosis", "identity.*"])
    assert row.approved_at is None and row.expires_at is None  # the clock starts at approval
    [event] = events(console_app, "override.requested")
    assert event.actor == "alice" and payload_of(event)["via"] == "console"
    page = text(client.get("/console/requests"))
    assert f"Request {row.id} sent: 120 minutes of view" in page
    assert 'req-status-pending">pending' in page


@pytest.mark.parametrize(("change", "message"), [
    ({"reason": " "}, "required"),
    ({"minutes": "many"}, "a whole number of minutes, such as 120"),
    ({"minutes": "481"}, "at most 480 minutes in this program"),
    ({"program": "behavioral_health"}, "you hold no role in this program"),
    ({"program": "nowhere"}, "required, a known program"),
    ({"participant": "p-300"}, "not a participant enrolled in that program"),
    ({"fields": "nothing.here"}, "catalogued field ids or patterns"),
    ({"actions": ""}, "choose at least one"),
    ({"reason": "x" * 4001}, "at most 4000 characters"),
])
def test_bad_input_is_named_on_the_form_and_nothing_is_written(signed_in, console_app, change,
                                                               message):
    for step in ({"step": "preview"}, {}):
        response = post(signed_in("alice"), "/console/requests", {**ASK, **step, **change})
        assert response.status_code == 400
        page = text(response)
        assert message in page and "The request was not sent" in page
        assert 'aria-invalid="true"' in page
    assert rows(console_app, Override) == []


def test_a_post_without_its_csrf_token_is_400_and_changes_nothing(signed_in, console_app):
    client = signed_in("alice")
    assert post(client, "/console/requests", ASK, csrf=False).status_code == 400
    assert post(client, "/console/requests/break-glass", GLASS, csrf=False).status_code == 400
    override_id = request_as(console_app, "alice")
    decide_as(console_app, "sam", override_id)
    assert post(client, f"/console/requests/{override_id}/end", {},
                csrf=False).status_code == 400
    assert [(o.kind, o.status) for o in rows(console_app, Override)] == [
        ("override", "approved")]


def test_signed_out_visitors_are_sent_to_sign_in(console_app):
    response = console_app.test_client().get("/console/requests")
    assert response.status_code == 302 and "/console/sign-in" in response.headers["Location"]


def test_break_glass_opens_the_record_at_once_and_awaits_its_review(signed_in, console_app):
    client = signed_in("alice")
    response = post(client, "/console/requests/break-glass", GLASS)
    assert response.status_code == 302
    [row] = rows(console_app, Override)
    assert (row.kind, row.user_id, row.status, row.participant_id) == (
        "break_glass", "alice", "approved", "p-200")
    [item] = rows(console_app, ReviewItem)
    assert item.override_id == row.id and item.status == "open"
    [event] = events(console_app, "break_glass.used")
    assert event.actor == "alice" and payload_of(event)["via"] == "console"
    page = text(client.get("/console/requests"))
    assert "The glass is broken" in page and "60 minutes left" in page
    assert "Awaiting its review" in page


def test_break_glass_needs_a_reason(signed_in, console_app):
    response = post(signed_in("alice"), "/console/requests/break-glass",
                    {**GLASS, "reason": ""})
    assert response.status_code == 400
    page = text(response)
    assert "The glass was not broken" in page and 'id="glass-reason-error">required' in page
    assert rows(console_app, Override) == []


def test_break_glass_after_a_stale_sign_in_asks_to_sign_in_again_and_come_back(
        signed_in, console_app):
    client = signed_in("alice")
    form_token = token(client.get("/console/requests").get_data(as_text=True))
    console_app.clock.advance(minutes=11)  # past GOVERNANCE_FRESH_SIGN_IN_MINUTES (10)
    response = client.post("/console/requests/break-glass",
                           data={**GLASS, "csrf_token": form_token})
    assert response.status_code == 302
    target = response.headers["Location"]
    assert "/console/sign-in?next=" in target and "break-glass" in target
    assert "participant%3Dp-200" in target
    assert rows(console_app, Override) == []
    # the break-glass form itself asks for the recent sign-in too
    again = client.get("/console/requests/break-glass?participant=p-200&program=housing")
    assert again.status_code == 302 and "/console/sign-in" in again.headers["Location"]
    from tests.signin.conftest import sign_in
    back = sign_in(client, "alice", next_="/console/requests/break-glass?participant=p-200"
                                          "%26program=housing")
    assert back.status_code == 302
    form = text(client.get(back.headers["Location"]))
    assert 'value="p-200"' in form and ">Break the glass</button>" in form


def test_my_requests_say_who_decided_with_their_note(signed_in, console_app):
    approved = request_as(console_app, "alice")
    denied = request_as(console_app, "alice", fields=["sud.*"])
    decide_as(console_app, "sam", approved, note="for the meeting only")
    decide_as(console_app, "sam", denied, approve=False, note="ask the clinician instead")
    page = text(signed_in("alice").get("/console/requests"))
    assert "Sam Ortiz (sam)" in page
    assert "“for the meeting only”" in page and "“ask the clinician instead”" in page
    assert 'req-status-active">active' in page and 'req-status-denied">denied' in page
    assert "60 minutes left" in page  # counted from the approval


def test_a_request_nobody_decided_in_time_shows_as_expired(signed_in, console_app):
    request_as(console_app, "alice")
    console_app.clock.advance(minutes=1441)
    client = signed_in("alice")
    page = text(client.get("/console/requests"))
    assert 'req-status-expired">expired' in page and "nobody decided in time" in page
    assert "req-status-expired" in text(client.get("/console/requests?status=expired"))
    assert "None of your requests matches" in text(client.get(
        "/console/requests?status=pending"))


def test_my_requests_are_paged_and_filtered(signed_in, console_app):
    for n in range(23):
        request_as(console_app, "alice", reason=f"reason number {n}")
    client = signed_in("alice")
    first = text(client.get("/console/requests"))
    assert "Page 1 of 2 (1–20 of 23)" in first and "reason number 22" in first
    second = text(client.get("/console/requests?page=2"))
    assert "reason number 0" in second and "reason number 22" not in second
    assert "You have not asked" in text(client.get("/console/requests?in=behavioral_health")) \
        or "None of your requests matches" in text(
            client.get("/console/requests?in=behavioral_health"))


def test_ending_my_access_early_revokes_it_as_myself(signed_in, console_app):
    override_id = request_as(console_app, "alice")
    decide_as(console_app, "sam", override_id)
    client = signed_in("alice")
    assert "End my access now" in text(client.get("/console/requests"))
    response = post(client, f"/console/requests/{override_id}/end", {})
    assert response.status_code == 302
    [row] = rows(console_app, Override)
    assert (row.status, row.resolved_by) == ("revoked", "alice")
    [event] = events(console_app, "override.revoked")
    assert event.actor == "alice" and payload_of(event)["via"] == "console"
    page = text(client.get("/console/requests"))
    assert "You hold no override or break-glass access now" in page


def test_nobody_ends_someone_elses_access_from_this_page(signed_in, console_app):
    override_id = request_as(console_app, "alice")
    decide_as(console_app, "sam", override_id)
    for user in ("nick", "sam"):  # sam approves overrides, but this page is for one's own
        assert post(signed_in(user), f"/console/requests/{override_id}/end",
                    {}).status_code == 403
    assert post(signed_in("alice"), "/console/requests/ovr_missing/end", {}).status_code == 404
    with console_app.app_context():
        assert state(console_app).session.scalar(select(func.count()).select_from(
            Override).where(Override.status == "revoked")) == 0
