"""The Approvals page: the override requests and escalations I may decide (never my own, and
the server refuses them), Approve / Deny with a Note, break-glass uses closed with a finding,
requests nobody decided in time shown as expired; every decision audited as the signed-in
approver (``via: console``)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.audit import payload_of
from governance.extension import state
from governance.models import Escalation, Override, ReviewItem
from governance.notify import LoggingNotifier
from governance.operations.apply_organisation import ApplyOrganisation
from governance.operations.break_glass import BreakGlass, BreakGlassRequest
from governance.orgfile import validate
from tests.conftest import NOW, new_key
from tests.console.conftest import console_org
from tests.console.test_requests import events, request_as, rows, text, token

PAYMENT = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
           "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}


def post(client, path: str, data: dict, *, csrf: bool = True):
    page = client.get("/console/").get_data(as_text=True)
    return client.post(path, data={**data, **({"csrf_token": token(page)} if csrf else {})})


def decide(client, override_id: str, verdict: str = "approve", *, csrf: bool = True, **extra):
    return post(client, f"/console/approvals/overrides/{override_id}",
                {"verdict": verdict, **extra}, csrf=csrf)


def one(app, model, object_id: str):
    [row] = rows(app, model, id=object_id)
    return row


def escalation_by_rita(app) -> str:
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide', 'manage')}"
    decision = api.post("/api/v1/decisions", json=PAYMENT).json
    assert decision["decision"] == "escalate"
    return api.post("/api/v1/escalations", json={
        "actor": "rita", "decision_id": decision["decision_id"],
        "justification": "claim dispute needs the member name"}).json["id"]


def break_glass_by(app, user: str) -> str:
    """A break-glass use by ``user``; the id of its review item."""
    with app.app_context():
        use = BreakGlass(user, BreakGlassRequest("housing", "p-200", "client in crisis"),
                         app.clock(), notifier=LoggingNotifier()).execute(state(app).session)
        return use.review_item.id


def test_an_approver_sees_who_asks_for_what_why_and_how_long_never_their_own(signed_in,
                                                                             console_app):
    nicks = request_as(console_app, "nick", fields=["clinical.*"], reason="covering for alice")
    sams = request_as(console_app, "sam", reason="my own")
    page = text(signed_in("sam").get("/console/approvals"))
    assert "Nick Shah (nick) asks to view participant p-100's records in Rapid Rehousing" in page
    assert "covering for alice" in page and "60 minutes from your approval" in page
    assert ("<code>clinical.psychotherapy_notes</code> <span class=\"req-sens "
            "req-sens-very_restricted\">very restricted</span> <span class=\"req-label\">"
            "psychotherapy_notes</span>") in page
    assert "Asked as <code>clinical.*</code>" in page
    assert "adds nothing" not in page
    # named exactly Approve and Deny (contract section 9), described by the request's heading
    assert f'value="approve" aria-describedby="o-{nicks}">Approve</button>' in page
    assert f'value="deny" class="secondary" aria-describedby="o-{nicks}">Deny</button>' in page
    assert sams not in page  # never offered their own


@pytest.mark.parametrize("user", ["alice", "nick", "ada"])
def test_those_who_approve_nothing_get_403(signed_in, console_app, user):
    override_id = request_as(console_app, "nick" if user != "nick" else "alice")
    client = signed_in(user)
    assert client.get("/console/approvals").status_code == 403
    assert decide(client, override_id).status_code == 403
    assert one(console_app, Override, override_id).status == "pending"


def test_approving_starts_the_clock_and_is_audited_as_the_approver(signed_in, console_app):
    override_id = request_as(console_app, "nick")
    console_app.clock.advance(minutes=30)  # approved half an hour after it was asked
    client = signed_in("sam")
    response = decide(client, override_id, note="for today's visit")
    assert response.status_code == 302
    row = one(console_app, Override, override_id)
    assert (row.status, row.resolved_by, row.note) == ("approved", "sam", "for today's visit")
    assert row.approved_at == console_app.clock() and row.expires_at == console_app.clock() + \
        timedelta(minutes=60)
    [event] = events(console_app, "override.approved")
    assert event.actor == "sam" and payload_of(event)["via"] == "console"
    page = text(client.get("/console/approvals"))
    assert f"The override request {override_id} was approved" in page
    assert "No override request waits for you" in page


def test_denying_keeps_the_note_for_the_requester(signed_in, console_app):
    override_id = request_as(console_app, "nick")
    assert decide(signed_in("sam"), override_id, "deny",
                  note="ask the clinician").status_code == 302
    row = one(console_app, Override, override_id)
    assert (row.status, row.note, row.expires_at) == ("denied", "ask the clinician", None)
    assert "“ask the clinician”" in text(signed_in("nick").get("/console/requests"))


def test_nobody_approves_their_own_request_even_by_posting_it(signed_in, console_app):
    override_id = request_as(console_app, "sam")
    response = decide(signed_in("sam"), override_id)
    assert response.status_code == 422
    assert "nobody approves their own override" in text(response)
    assert one(console_app, Override, override_id).status == "pending"
    assert events(console_app, "override.approved") == []


def test_a_decision_without_its_csrf_token_is_400_and_changes_nothing(signed_in, console_app):
    override_id = request_as(console_app, "nick")
    item = break_glass_by(console_app, "alice")
    client = signed_in("sam")
    assert decide(client, override_id, csrf=False).status_code == 400
    assert post(client, f"/console/approvals/break-glass/{item}", {"finding": "fine"},
                csrf=False).status_code == 400
    assert one(console_app, Override, override_id).status == "pending"
    assert one(console_app, ReviewItem, item).status == "open"


@pytest.mark.parametrize(("data", "message"), [
    ({"verdict": "approve", "note": "n" * 2001}, "at most 2000 characters"),
    ({"verdict": "maybe"}, "press Approve or Deny"),
])
def test_bad_input_is_named_beside_the_item_and_nothing_is_written(signed_in, console_app,
                                                                   data, message):
    override_id = request_as(console_app, "nick")
    response = post(signed_in("sam"), f"/console/approvals/overrides/{override_id}", data)
    assert response.status_code == 400
    page = text(response)
    assert f'id="{override_id}-note-error">{message}' in page
    assert one(console_app, Override, override_id).status == "pending"


def test_a_request_nobody_decided_in_time_is_expired_not_decidable(signed_in, console_app):
    override_id = request_as(console_app, "nick")
    console_app.clock.advance(minutes=24 * 60 + 1)
    client = signed_in("sam")
    page = text(client.get("/console/approvals"))
    lapsed = page.split('id="lapsed-heading"')[1]
    assert override_id in lapsed and 'req-status-expired">expired' in lapsed
    assert f'aria-describedby="o-{override_id}">Approve' not in page
    response = decide(client, override_id)
    assert response.status_code == 409 and "has lapsed" in text(response)
    assert one(console_app, Override, override_id).status == "pending"  # run-due marks it


def test_an_already_decided_request_is_a_clear_409(signed_in, console_app):
    override_id = request_as(console_app, "nick")
    client = signed_in("sam")
    assert decide(client, override_id).status_code == 302
    response = decide(client, override_id, "deny")
    assert response.status_code == 409 and "already approved" in text(response)


def test_escalations_are_decided_by_their_approvers_never_the_requester(signed_in, console_app):
    escalation_id = escalation_by_rita(console_app)
    cora = signed_in("cora")  # approves escalations everywhere
    page = text(cora.get("/console/approvals"))
    assert "Rita Gomez (rita) asks to disclose participant p-100's fields to Riverside " \
        "Clinic" in page
    assert "claim dispute needs the member name" in page and "payment" in page
    assert post(cora, f"/console/approvals/escalations/{escalation_id}",
                {"verdict": "approve", "note": "checked the claim"}).status_code == 302
    row = one(console_app, Escalation, escalation_id)
    assert (row.status, row.decided_by, row.note) == ("approved", "cora", "checked the claim")
    [event] = events(console_app, "escalation.approved")
    assert event.actor == "cora" and payload_of(event)["via"] == "console"


def test_break_glass_uses_are_closed_with_a_finding(signed_in, console_app):
    item = break_glass_by(console_app, "alice")
    own = break_glass_by(console_app, "sam")
    client = signed_in("sam")
    page = text(client.get("/console/approvals"))
    glass = page.split('id="glass-heading"')[1].split('id="lapsed-heading"')[0]
    assert "Alice Ng (alice) broke the glass on participant p-200" in glass
    assert "client in crisis" in glass and own not in glass
    response = post(client, f"/console/approvals/break-glass/{item}", {"finding": " "})
    assert response.status_code == 400
    assert f'id="{item}-finding-error">required: write what' in text(response)
    assert post(client, f"/console/approvals/break-glass/{own}",
                {"finding": "fine"}).status_code == 422
    assert post(client, f"/console/approvals/break-glass/{item}",
                {"finding": "real crisis, access in proportion"}).status_code == 302
    closed = one(console_app, ReviewItem, item)
    assert (closed.status, closed.decided_by, closed.note) == (
        "closed", "sam", "real crisis, access in proportion")
    [event] = events(console_app, "break_glass.reviewed")
    assert event.actor == "sam" and payload_of(event)["via"] == "console"
    assert "Reviewed by Sam Ortiz (sam): “real crisis" in text(
        signed_in("alice").get("/console/requests"))


def test_the_queues_are_paged_and_filtered_by_program(signed_in, console_app):
    ids = [request_as(console_app, "nick", reason=f"reason number {n}") for n in range(23)]
    client = signed_in("sam")
    first = text(client.get("/console/approvals"))
    assert "Page 1 of 2 (1–20 of 23)" in first and "reason number 0" in first
    second = text(client.get("/console/approvals?page=2"))
    assert "reason number 22" in second and "reason number 0<" not in second
    assert ids[22] in second and ids[0] not in second
    elsewhere = text(client.get("/console/approvals?in=behavioral_health"))
    assert "No override request waits for you in Behavioral Health" in elsewhere
    assert re.search(r'id="overrides-heading">Override requests <span class="count">0', elsewhere)
    with console_app.app_context():
        assert len(state(console_app).session.scalars(select(Override)).all()) == 23


def test_a_reviewer_who_approves_nothing_closes_break_glass_reviews_and_decides_nothing_else(
        signed_in, console_app):
    """The reviewer power reviews access (break-glass uses too): the Approvals page opens with
    that queue, and the override queue stays closed to someone who approves nothing."""
    org = console_org()
    for role in org["roles"]:
        if role["id"] == "it_admin":
            role["console"] = ["admin", "reviewer"]
    with console_app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(
            state(console_app).session)
    item = break_glass_by(console_app, "alice")
    override_id = request_as(console_app, "nick")
    ada = signed_in("ada")
    page = text(ada.get("/console/approvals"))
    assert "Alice Ng (alice) broke the glass on participant p-200" in page
    assert ">Approvals</a>" in page and override_id not in page
    assert decide(ada, override_id).status_code == 403
    assert post(ada, f"/console/approvals/break-glass/{item}",
                {"finding": "crisis confirmed"}).status_code == 302
    assert one(console_app, ReviewItem, item).decided_by == "ada"
    assert one(console_app, Override, override_id).status == "pending"
