"""Reviews in the console (issue 15 item 3): campaigns opened through a form, a reviewer's items
decided in bulk with one Submit decisions, Accept recommendations, and overdue campaigns on
the dashboard; every form refused without its CSRF token, without the reviewer power, and for
the reviewer's own access."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, ReviewCampaign, ReviewItem, RoleAssignment
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from tests.conftest import NOW
from tests.console.conftest import console_org
from tests.console.test_dashboard import api  # noqa: F401 - the API client fixture
from tests.signin.conftest import set_password

# Three more supervisors in housing (elevated, reviewed) and one in behavioral health.
MORE_SUPERVISORS = [("vic", "Vic Moreau", "housing"), ("wes", "Wes Hale", "housing"),
                    ("xia", "Xia Lund", "housing"), ("bea", "Bea Ford", "behavioral_health")]
CAMPAIGN_FORM = {"programs": "housing", "due": "2026-12-07", "on_no_decision": "revoke",
                 "unused_days": "30"}
STALE = "0" * 64  # no list of items has this fingerprint
VIC_DIAGNOSIS = {"subject": "vic", "action": "view", "participant": "p-200",
                 "program": "housing", "fields": ["clinical.diagnosis"]}


@pytest.fixture
def review_app(console_app):
    org = console_org()
    org["users"] += [{"id": u, "name": name, "roles": [{"role": "supervisor", "program": p}]}
                     for u, name, p in MORE_SUPERVISORS]
    with console_app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(
            state(console_app).session)
    for user, _, _ in MORE_SUPERVISORS:
        set_password(console_app, user)
    return console_app


def token(client, path: str = "/console/") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def open_campaign(client, **changes) -> str:
    """Opens a campaign through the form; its id."""
    form = {**CAMPAIGN_FORM, **changes, "csrf_token": token(client, "/console/reviews/campaigns")}
    answer = client.post("/console/reviews/campaigns", data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return answer.headers["Location"].rsplit("/", 1)[1]


def items_of(app, campaign_id: str) -> dict[str, ReviewItem]:
    with app.app_context():
        session = state(app).session
        rows = session.scalars(select(ReviewItem).where(ReviewItem.campaign_id == campaign_id))
        found = {i.user_id: i for i in rows}
        session.expunge_all()
        return found


def decide(client, choices: dict[str, tuple[str, str]], *, with_token: bool = True,
           shown: list[str] | None = None):
    """Posts the items form: item id -> (decision, note)."""
    data = {"item": shown or list(choices)}
    for item_id, (decision, note) in choices.items():
        data[f"decision-{item_id}"], data[f"note-{item_id}"] = decision, note
    if with_token:
        data["csrf_token"] = token(client, "/console/reviews")
    return client.post("/console/reviews/decisions", data=data)


def audit_count(app, kind: str) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.kind == kind))


def test_a_reviewer_decides_several_items_with_one_submit(review_app, signed_in, api):  # noqa: F811
    before = api.post("/api/v1/decisions", json=VIC_DIAGNOSIS).json
    assert before["allowed"] == ["clinical.diagnosis"]
    sam = signed_in("sam")
    campaign = open_campaign(sam)
    items = items_of(review_app, campaign)
    assert set(items) == {"sam", "vic", "wes", "xia"}  # housing only: bea is not in it

    page = sam.get("/console/reviews").get_data(as_text=True)
    assert "Vic Moreau (vic)" in page and "Xia Lund (xia)" in page
    assert "Sam Ortiz (sam)" not in page  # his own access is not his to review
    assert "nobody reviews their own access (1 of yours waits for another reviewer)" in page
    assert "Bea Ford" not in page  # behavioral health: sam reviews only in housing
    assert "Submit decisions" in page and "never used" in page

    answer = decide(sam, {items["vic"].id: ("revoke", "left the team"),
                          items["wes"].id: ("keep", "covers nights"),
                          items["xia"].id: ("", "")})
    assert answer.status_code == 302
    shown = sam.get(answer.headers["Location"]).get_data(as_text=True)
    assert "2 decisions recorded: 1 kept, 1 revoked (that access has ended)." in shown

    after = items_of(review_app, campaign)
    assert (after["vic"].decision, after["vic"].note, after["vic"].decided_by) == (
        "revoke", "left the team", "sam")
    assert (after["wes"].decision, after["wes"].status) == ("keep", "decided")
    assert after["xia"].status == "open"  # left undecided, stays open
    with review_app.app_context():
        session = state(review_app).session
        vic = session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == "vic")).one()
        assert vic.ended_at is not None and vic.ended_by == "sam"
        rows = session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "review.item_decided")).all()
        assert {(r.actor, r.subject) for r in rows} == {("sam", "vic"), ("sam", "wes")}
        assert all('"via":"console"' in r.payload.replace(" ", "") for r in rows)
    denied = api.post("/api/v1/decisions", json=VIC_DIAGNOSIS).json
    assert denied["allowed"] == [] and "clinical.diagnosis" in denied["denied"]


def test_the_reviewers_own_access_is_refused_and_nothing_changes(review_app, signed_in):
    sam, vic = signed_in("sam"), signed_in("vic")
    campaign = open_campaign(vic)
    items = items_of(review_app, campaign)
    answer = decide(sam, {items["sam"].id: ("keep", "I still need it"),
                          items["vic"].id: ("revoke", "")})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "Nothing was saved." in page and "nobody reviews their own access" in page
    after = items_of(review_app, campaign)
    assert after["sam"].status == after["vic"].status == "open"  # not even vic's half
    assert audit_count(review_app, "review.item_decided") == 0
    assert "Vic Moreau (vic)" not in vic.get("/console/reviews").get_data(as_text=True)


@pytest.mark.parametrize(("choices", "message"), [
    ({"vic": ("maybe", "")}, "choose Keep, Revoke or Let it expire"),
    ({"vic": ("expire", "")}, "this access has no end date to expire at"),
    ({"vic": ("", "a note")}, "a note was written but neither Keep nor Revoke chosen"),
    ({"vic": ("", ""), "wes": ("", "")}, "choose Keep or Revoke for at least one item"),
    ({"vic": ("revoke", "x" * 2001)}, "the note is longer than 2,000 characters"),
])
def test_bad_choices_are_named_on_the_form_and_nothing_is_saved(review_app, signed_in, choices,
                                                                message):
    sam = signed_in("sam")
    items = items_of(review_app, open_campaign(sam))
    answer = decide(sam, {items[u].id: choice for u, choice in choices.items()})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Nothing was saved." in page and message in page
    assert all(i.status == "open" for i in items_of(review_app, items["vic"].campaign_id).values())


def test_an_item_decided_meanwhile_refuses_the_whole_submission(review_app, signed_in):
    sam, xia = signed_in("sam"), signed_in("xia")
    items = items_of(review_app, open_campaign(sam))
    assert decide(xia, {items["vic"].id: ("keep", "")}).status_code == 302
    answer = decide(sam, {items["vic"].id: ("revoke", ""), items["wes"].id: ("revoke", "")})
    assert answer.status_code == 409
    assert "is already decided" in answer.get_data(as_text=True)
    after = items_of(review_app, items["vic"].campaign_id)
    assert (after["vic"].decision, after["wes"].status) == ("keep", "open")


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(review_app, signed_in):
    sam = signed_in("sam")
    campaign = open_campaign(sam)
    items = items_of(review_app, campaign)
    assert decide(sam, {items["vic"].id: ("revoke", "")}, with_token=False).status_code == 400
    assert sam.post("/console/reviews/accept-recommendations", data={
        "justification": "unused", "fingerprint": STALE}).status_code == 400
    assert sam.post("/console/reviews/campaigns", data=CAMPAIGN_FORM).status_code == 400
    assert all(i.status == "open" for i in items_of(review_app, campaign).values())
    with review_app.app_context():
        assert state(review_app).session.scalar(
            select(func.count()).select_from(ReviewCampaign)) == 1


@pytest.mark.parametrize("user", ["alice", "cora", "ada"])
def test_only_reviewers_see_or_post_the_review_pages(review_app, signed_in, user):
    sam = signed_in("sam")
    campaign = open_campaign(sam)
    item = items_of(review_app, campaign)["vic"]
    client = signed_in(user)
    for path in ("/console/reviews", "/console/reviews/campaigns",
                 f"/console/reviews/campaigns/{campaign}"):
        assert client.get(path).status_code == 403, path
    csrf = token(client)
    assert client.post("/console/reviews/decisions", data={
        "item": item.id, f"decision-{item.id}": "revoke", "csrf_token": csrf}).status_code == 403
    assert client.post("/console/reviews/accept-recommendations", data={
        "justification": "unused", "fingerprint": STALE, "csrf_token": csrf}).status_code == 403
    assert client.post("/console/reviews/campaigns", data={
        **CAMPAIGN_FORM, "csrf_token": csrf}).status_code == 403
    assert items_of(review_app, campaign)["vic"].status == "open"
    assert "Reviews" not in re.findall(r'<nav aria-label="Console">(.*?)</nav>',
                                       client.get("/console/").get_data(as_text=True), re.S)[0]


@pytest.mark.parametrize(("changes", "message"), [
    ({"due": ""}, "Due: choose the date the review closes"),
    ({"due": "07/12/2026"}, "Due: a date, as 2026-12-31"),
    ({"due": "2026-11-01"}, "Due: must be in the future"),
    ({"on_no_decision": ""}, "choose what happens to items nobody decided"),
    ({"roles": "case_manager"}, "Roles: not a live elevated role"),
    ({"programs": "atlantis"}, "Programs: not a live program"),
    ({"unused_days": "-1"}, "from 0 to 3650"),
])
def test_a_campaign_form_with_a_mistake_says_what_and_opens_nothing(review_app, signed_in,
                                                                    changes, message):
    sam = signed_in("sam")
    form = {**CAMPAIGN_FORM, **changes, "csrf_token": token(sam, "/console/reviews/campaigns")}
    answer = sam.post("/console/reviews/campaigns", data=form)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "The campaign was not opened" in page and message in page, page[-3000:]
    with review_app.app_context():
        assert state(review_app).session.scalar(
            select(func.count()).select_from(ReviewCampaign)) == 0


def test_a_campaign_by_role_states_its_rule_and_shows_progress(review_app, signed_in):
    sam = signed_in("sam")
    # No program chosen: every program where sam reviews (housing), never bea's program.
    campaign = open_campaign(sam, programs="", roles="supervisor", on_no_decision="keep")
    page = sam.get(f"/console/reviews/campaigns/{campaign}").get_data(as_text=True)
    assert "Access review: supervisor in Rapid Rehousing" in page
    assert "any item still undecided will be kept (4 undecided items now)" in page
    assert "Progress per program" in page and 'role="img"' in page and "style=" not in page
    assert '<th scope="row">Behavioral Health</th>' not in page
    assert "bea" not in {i.user_id for i in items_of(review_app, campaign).values()}
    items = items_of(review_app, campaign)
    decide(sam, {items["vic"].id: ("revoke", "moved away")})
    page = sam.get(f"/console/reviews/campaigns/{campaign}?state=revoke").get_data(as_text=True)
    assert "1 item matching the filters" in page and "moved away" in page
    assert "by Sam Ortiz (sam)" in page
    listing = sam.get("/console/reviews/campaigns").get_data(as_text=True)
    assert "Progress per campaign" in listing and "1 of 4 decided" in listing
    assert sam.get("/console/reviews/campaigns?state=sideways").status_code == 400
    assert sam.get(f"/console/reviews/campaigns/{campaign}?state=sideways").status_code == 400
    assert sam.get("/console/reviews/campaigns/rvc_nothing").status_code == 404


def test_a_reviewer_opens_campaigns_only_where_they_review(review_app, signed_in):
    """sam reviews in housing: putting behavioral health's access up for revoke is refused;
    an administrator may open a campaign for the whole organisation; a stale sign-in must
    sign in again first."""
    sam = signed_in("sam")
    form = {**CAMPAIGN_FORM, "programs": "behavioral_health",
            "csrf_token": token(sam, "/console/reviews/campaigns")}
    refused = sam.post("/console/reviews/campaigns", data=form)
    assert refused.status_code == 400
    assert "you review only in housing, not in behavioral_health" in refused.get_data(
        as_text=True)
    with review_app.app_context():
        assert state(review_app).session.scalar(
            select(func.count()).select_from(ReviewCampaign)) == 0
    review_app.clock.advance(minutes=int(review_app.config["GOVERNANCE_FRESH_SIGN_IN_MINUTES"])
                             + 1)
    stale = sam.post("/console/reviews/campaigns", data={**form, "programs": "housing"})
    assert stale.status_code == 302 and "/console/sign-in" in stale.headers["Location"]
    with review_app.app_context():
        assert state(review_app).session.scalar(
            select(func.count()).select_from(ReviewCampaign)) == 0


def administrator_reviews(app) -> None:
    """ada's organisation-wide it_admin role gets the reviewer power too."""
    org = console_org()
    org["users"] += [{"id": u, "name": name, "roles": [{"role": "supervisor", "program": p}]}
                     for u, name, p in MORE_SUPERVISORS]
    for role in org["roles"]:
        if role["id"] == "it_admin":
            role["console"] = ["admin", "reviewer"]
    with app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(state(app).session)


def test_an_administrator_who_reviews_opens_a_campaign_for_the_whole_organisation(
        review_app, signed_in):
    administrator_reviews(review_app)
    campaign = open_campaign(signed_in("ada"), programs="", roles="supervisor")
    assert {"bea", "vic"} <= {i.user_id for i in items_of(review_app, campaign).values()}


def test_an_organisation_wide_reviewer_who_approves_nothing_decides_items_everywhere(
        review_app, signed_in, api):  # noqa: F811
    """The console's reviewer power is enough to review: where its role holds (organisation
    wide here), without approving overrides or escalations anywhere."""
    administrator_reviews(review_app)
    ada = signed_in("ada")
    campaign = open_campaign(ada, programs="", roles="supervisor")
    items = items_of(review_app, campaign)
    # a program supervisor without the power reviews only in their own program
    refused = api.post(f"/api/v1/reviews/items/{items['bea'].id}/decide",
                       json={"actor": "sam", "decision": "keep"})
    assert refused.status_code == 422, refused.json
    page = ada.get("/console/reviews").get_data(as_text=True)
    assert "Vic Moreau (vic)" in page and "Bea Ford (bea)" in page  # housing and behavioral
    answer = decide(ada, {items["bea"].id: ("revoke", "moved to another team")})
    assert answer.status_code == 302
    assert items_of(review_app, campaign)["bea"].decided_by == "ada"
    # the API answers the same for the same person
    decided = api.post(f"/api/v1/reviews/items/{items['vic'].id}/decide",
                       json={"actor": "ada", "decision": "keep"})
    assert decided.status_code == 200, decided.json


def test_items_are_filtered_and_paged(review_app, signed_in, monkeypatch):
    from governance.console.pages import reviews

    monkeypatch.setattr(reviews, "PER_PAGE", 2)
    sam = signed_in("sam")
    open_campaign(sam)
    first = sam.get("/console/reviews").get_data(as_text=True)
    assert "3 items to decide; page 1 of 2." in first and "Xia Lund" not in first
    assert 'rel="next"' in first
    second = sam.get("/console/reviews?page=2").get_data(as_text=True)
    assert "Xia Lund (xia)" in second and "Vic Moreau" not in second
    found = sam.get("/console/reviews?person=moreau").get_data(as_text=True)
    assert "1 item to decide matching the filters." in found and "Vic Moreau (vic)" in found
    assert "No item waits for you under these filters." in sam.get(
        "/console/reviews?person=%25").get_data(as_text=True)  # a % is a character, not a glob
    assert sam.get("/console/reviews?recommendation=perhaps").status_code == 400


def test_an_overdue_campaign_is_flagged_on_the_dashboard_with_its_rule(review_app, signed_in):
    sam = signed_in("sam")
    open_campaign(sam)
    assert "Overdue access reviews" not in sam.get("/console/").get_data(as_text=True)
    review_app.clock.now = NOW + timedelta(days=20)
    for user in ("sam", "cora"):  # a reviewer, and the compliance officer
        page = signed_in(user).get("/console/").get_data(as_text=True)
        assert "Overdue access reviews" in page, user
        assert "4 undecided items will be revoked" in page
    assert "due 07 Dec 2026 (overdue)" in signed_in("sam").get("/console/").get_data(as_text=True)
    listing = signed_in("sam").get("/console/reviews/campaigns?state=overdue").get_data(
        as_text=True)
    assert "Overdue since 07 Dec 2026, 23:59 UTC" in listing
    assert "Overdue access reviews" not in signed_in("alice").get("/console/").get_data(
        as_text=True)


def test_let_it_expire_keeps_an_access_that_ends_by_itself_and_says_so(review_app, signed_in):
    vic = signed_in("vic")
    items = items_of(review_app, open_campaign(vic))
    page = vic.get("/console/reviews").get_data(as_text=True)
    assert "in force until 30 Jun 2027" in page  # sam's supervisor role ends then
    assert page.count("> Let it expire<") == 1  # only sam's access has an end date
    assert decide(vic, {items["sam"].id: ("expire", "ends with the pilot")}).status_code == 302
    sam = items_of(review_app, items["sam"].campaign_id)["sam"]
    assert (sam.decision, sam.note) == (
        "keep", "Reviewed: let it expire (in force until 30 Jun 2027). ends with the pilot")
