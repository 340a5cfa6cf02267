"""Reviews in a real browser (issue 15 item 3): sam opens a campaign for housing through the
form, then revokes two supervisors and keeps a third with one Submit decisions; vic accepts the
recommendations of his campaign with one justification after a refused submission; the API's
decision for a revoked person's field changes at once, and the revoked reviewer's own session
(a second browser context) loses the Reviews page. axe finds nothing serious on the campaigns
list, one campaign with its chart, and my items; each is saved as a screenshot."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml
from playwright.sync_api import expect

from tests.console.conftest import console_org

SUPERVISORS = [("vic", "Vic Moreau"), ("wes", "Wes Hale"), ("xia", "Xia Lund")]


def diagnosis(user: str) -> dict:
    return {"subject": user, "action": "view", "participant": "p-200", "program": "housing",
            "fields": ["clinical.diagnosis"]}


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database, with three more supervisors in housing: revokes end real access."""
    org = console_org()
    org["users"] += [{"id": u, "name": name,
                      "roles": [{"role": "supervisor", "program": "housing"}]}
                     for u, name in SUPERVISORS]
    path = fresh_console_server.folder / "review-org.yaml"
    path.write_text(yaml.safe_dump(org, sort_keys=False))
    fresh_console_server.cli("apply", str(path))
    return fresh_console_server


def row_group(page, name: str):  # noqa: ANN001, ANN201
    return page.get_by_role("group", name=f"Decision for {name}, supervisor in Rapid Rehousing")


def test_a_reviewer_revokes_in_bulk_and_the_access_ends(page_as, page_server, check_page):
    key = page_server.api_key("decide")
    for user, _ in SUPERVISORS:
        status, answer = page_server.api("POST", "/api/v1/decisions", diagnosis(user), key)
        assert status == 200 and answer["allowed"] == ["clinical.diagnosis"], answer
    vic = page_as("vic")  # a second person, in a second browser context
    vic.goto("/console/reviews")
    expect(vic.get_by_role("heading", level=1, name="Reviews")).to_be_visible()

    sam = page_as("sam")
    sam.get_by_role("navigation", name="Console").get_by_role("link", name="Reviews").click()
    expect(sam.get_by_role("status").filter(has_text="No item waits for you")).to_be_visible()
    sam.get_by_role("navigation", name="Reviews").get_by_role("link", name="Campaigns").click()
    sam.get_by_role("group", name="Programs").get_by_label("Rapid Rehousing").check()
    sam.get_by_label("Due", exact=True).fill((date.today() + timedelta(days=14)).isoformat())
    sam.get_by_label("Revoke the access").check()
    sam.get_by_role("button", name="Open campaign").click()
    expect(sam.get_by_role("status").filter(has_text="opened with 4 items")).to_be_visible()
    expect(sam.locator(".rule-statement")).to_contain_text(
        "any item still undecided will be revoked (4 undecided items now)")
    expect(sam.get_by_role("img", name="Progress per program")).to_be_visible()
    check_page(sam, "reviews-campaign")

    sam.get_by_role("link", name="Decide your items in this campaign").click()
    expect(sam.get_by_text("nobody reviews their own access (1 of yours waits for another "
                           "reviewer)")).to_be_visible()
    expect(sam.get_by_role("group", name="Decision for Sam Ortiz (sam)", exact=False)
           ).to_have_count(0)
    row_group(sam, "Vic Moreau (vic)").get_by_label("Revoke").check()
    row_group(sam, "Vic Moreau (vic)").get_by_label("Note").fill("moved to intake")
    row_group(sam, "Wes Hale (wes)").get_by_label("Revoke").check()
    row_group(sam, "Xia Lund (xia)").get_by_label("Keep").check()
    row_group(sam, "Xia Lund (xia)").get_by_label("Note").fill("covers the night shift")
    check_page(sam, "reviews-my-items")
    sam.get_by_role("button", name="Submit decisions").click()
    expect(sam.get_by_role("status").filter(has_text="3 decisions recorded")).to_contain_text(
        "1 kept, 2 revoked (that access has ended).")
    expect(sam.get_by_role("status").filter(has_text="No item waits for you")).to_be_visible()

    for user, allowed in (("vic", False), ("wes", False), ("xia", True)):
        status, answer = page_server.api("POST", "/api/v1/decisions", diagnosis(user), key)
        assert status == 200
        assert (answer["allowed"] == ["clinical.diagnosis"]) is allowed, (user, answer)
    vic.reload()  # his supervisor role ended: no reviewer power any more
    expect(vic.get_by_role("heading", level=1)).to_contain_text("Forbidden")

    sam.get_by_role("navigation", name="Reviews").get_by_role("link", name="Campaigns").click()
    expect(sam.locator("table.campaigns")).to_contain_text("3 of 4 decided")
    expect(sam.get_by_role("img", name="Progress per campaign")).to_be_visible()
    check_page(sam, "reviews-campaigns")

    sam.locator("table.campaigns a").first.click()
    sam.get_by_label("Decision", exact=True).select_option("revoke")
    sam.get_by_role("button", name="Show items").click()
    expect(sam.locator("table.review-items")).to_contain_text("moved to intake")
    expect(sam.locator("table.review-items")).to_contain_text("by Sam Ortiz (sam)")
    check_page(sam, "reviews-campaign-revoked")


def test_a_refused_submission_names_the_item_and_keeps_the_choices(page_as, page_server,
                                                                    check_page):
    vic = page_as("vic")
    vic.goto("/console/reviews/campaigns")
    vic.get_by_label("Due", exact=True).fill((date.today() + timedelta(days=7)).isoformat())
    vic.get_by_label("Keep the access").check()
    vic.get_by_label("Recommend revoke when unused for (days)").fill("0")  # all unused
    vic.get_by_role("button", name="Open campaign").click()
    expect(vic.get_by_role("status").filter(has_text="opened with")).to_be_visible()
    vic.goto("/console/reviews")
    row_group(vic, "Wes Hale (wes)").get_by_label("Note").fill("asked his manager")
    row_group(vic, "Xia Lund (xia)").get_by_label("Revoke").check()
    vic.get_by_role("button", name="Submit decisions").click()
    alert = vic.get_by_role("alert")
    expect(alert).to_contain_text("Nothing was saved.")
    expect(alert).to_contain_text("Wes Hale (wes), supervisor in Rapid Rehousing: a note was "
                                  "written but neither Keep nor Revoke chosen")
    expect(row_group(vic, "Xia Lund (xia)").get_by_label("Revoke")).to_be_checked()
    check_page(vic, "reviews-refused")

    accept = vic.get_by_role("region", name="Accept recommendations")
    expect(accept).to_contain_text("3 items are recommended for revoke")
    accept.get_by_label("Justification").fill("not used since the pilot ended")
    accept.get_by_role("button", name="Accept recommendations").click()
    expect(vic.get_by_role("status").filter(has_text="3 unused accesses revoked")
           ).to_be_visible()
    expect(vic.get_by_role("status").filter(has_text="No item waits for you")).to_be_visible()
    check_page(vic, "reviews-accepted")
    vic.goto("/console/reviews/campaigns")
    vic.get_by_label("Due", exact=True).fill("2020-01-31")
    vic.get_by_label("Revoke the access").check()
    vic.get_by_role("button", name="Open campaign").click()
    expect(vic.get_by_role("alert")).to_contain_text("Due: must be in the future")
    check_page(vic, "reviews-campaign-form-refused")
