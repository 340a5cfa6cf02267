"""Consents and Disclosures in a real browser (issue 15 items 4 and 5), two people in two
browser contexts: a supervisor finds p-100, reads the consents and the bundle preview, gets a
form's error, and revokes the consent to City Housing; the referral that consent covered is
then denied by the API. A case manager records what she sent under her own decision and prints
the cover sheet; a compliance officer finds it among the disclosures, downloads p-100's
accounting as CSV (and checks its rows) and closes an emergency disclosure's review in the
sampling audit. axe finds nothing serious on any page; each is saved as a screenshot."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.console.test_disclosures import EMERGENCY, LEGAL, REFERRAL


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: consents revoked and disclosures recorded here would show elsewhere."""
    return fresh_console_server


def decide(server, key: str, request: dict) -> dict:
    status, answer = server.api("POST", "/api/v1/decisions", request, key)
    assert status == 200, answer
    return answer


def send(server, key: str, request: dict, channel: str) -> dict:
    """A decision and its disclosure, both through the API."""
    decision = decide(server, key, request)
    status, answer = server.api("POST", "/api/v1/disclosures", {
        "actor": request["subject"], "decision_id": decision["decision_id"],
        "channel": channel, "fields": decision["allowed"]}, key)
    assert status == 201, answer
    return answer


def test_a_consent_revoked_through_the_form_denies_the_referral(page_as, page_server,
                                                                check_page):
    server = page_server
    key = server.api_key("decide", "manage")
    assert decide(server, key, REFERRAL)["allowed"] == [
        "contact.phone", "identity.name", "risk.safety_note"]

    sam = page_as("sam")  # a supervisor: approves, so he keeps consents
    sam.get_by_role("navigation", name="Console").get_by_role("link", name="Consents").click()
    expect(sam.get_by_role("heading", level=1, name="Consents")).to_be_visible()
    sam.get_by_label("Participant", exact=True).fill("p-1")
    sam.get_by_role("button", name="Find").click()
    expect(sam.get_by_role("table", name="Participants")).to_contain_text("p-100")
    check_page(sam, "consents-search")

    sam.get_by_role("link", name="p-100", exact=True).click()
    expect(sam.get_by_role("heading", level=1, name="Consents of p-100")).to_be_visible()
    card = sam.locator(".consent-card", has_text="with City Housing Authority")
    expect(card.locator(".summary")).to_contain_text("You agreed that we may share")
    expect(card.locator("ul.released")).to_contain_text("risk.dv_flag")
    check_page(sam, "consents-participant")

    sam.get_by_role("link", name="Record a consent for p-100").click()
    sam.get_by_label("City Housing Authority").check()
    sam.get_by_label("Fields", exact=True).fill("identity.*")
    sam.get_by_role("button", name="Record consent").click()
    expect(sam.get_by_role("alert")).to_contain_text("The consent was not recorded")
    expect(sam.locator("#purposes-error")).to_have_text("choose at least one purpose")
    check_page(sam, "consents-form-error")

    sam.goto("/console/consents/participants/p-100")
    card = sam.locator(".consent-card", has_text="with City Housing Authority")
    card.get_by_role("link", name="Open, renew or revoke").click()
    expect(sam.get_by_role("heading", level=2, name="In plain language")).to_be_visible()
    check_page(sam, "consents-detail")
    sam.get_by_label("Reason", exact=True).fill("p-100 withdrew it in person on 4 December")
    sam.get_by_role("button", name="Revoke consent").click()
    expect(sam.get_by_role("status")).to_contain_text("revoked")
    expect(sam.get_by_role("heading", level=1)).to_contain_text("revoked")

    answer = decide(server, key, REFERRAL)
    assert answer["allowed"] == [] and answer["decision"] == "deny"
    assert answer["denied"]["identity.name"] == "no_consent"

    status, consents = server.api("GET", "/api/v1/consents?participant=p-100", None, key)
    other = next(c for c in consents["consents"] if c.get("partners") == ["acme_landlord"])
    status, _ = server.api("POST", f"/api/v1/consents/{other['id']}/flag-renewal",
                           {"actor": "cora", "trigger": "change_of_provider"}, key)
    assert status == 200
    sam.goto("/console/consents")
    sam.get_by_role("link", name="Consents to renew").click()
    expect(sam.get_by_role("table", name="Consents to renew")).to_contain_text(
        "flagged: change of provider")
    check_page(sam, "consents-renew")


def test_an_auditor_downloads_the_accounting_and_closes_a_review(page_as, page_server,
                                                                 check_page):
    server = page_server
    key = server.api_key("decide", "manage")
    decision = decide(server, key, REFERRAL)
    emergency = send(server, key, EMERGENCY, "direct_message")
    legal = send(server, key, LEGAL, "sftp")

    alice = page_as("alice")  # records what she sent under her own decision
    alice.goto("/console/disclosures/record")
    alice.get_by_label("Decision", exact=True).fill(decision["decision_id"])
    alice.get_by_role("button", name="Show the decision").click()
    expect(alice.get_by_role("heading", level=2, name="The decision")).to_be_visible()
    alice.get_by_label("risk.safety_note").uncheck()
    check_page(alice, "disclosures-record")
    alice.get_by_role("button", name="Record disclosure").click()
    expect(alice.get_by_role("heading", level=1, name="Disclosure cover sheet")).to_be_visible()
    expect(alice.get_by_role("status")).to_contain_text("recorded")
    sheet = alice.locator(".cover-sheet")
    expect(sheet).to_contain_text("City Housing Authority")
    expect(sheet).to_contain_text("risk.safety_note")
    expect(sheet).to_contain_text("allowed, but not sent")
    check_page(alice, "disclosures-cover-sheet")
    alice.emulate_media(media="print")
    expect(alice.locator(".masthead")).to_be_hidden()
    alice.screenshot(path=str(SCREENSHOTS / "disclosures-cover-sheet-print.png"),
                     full_page=True)
    alice.emulate_media(media="screen")

    cora = page_as("cora")  # the compliance officer
    cora.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Disclosures").click()
    expect(cora.get_by_role("heading", level=1, name="Disclosures")).to_be_visible()
    expect(cora.get_by_role("table", name="Disclosures, newest first").locator(
        "tbody tr")).to_have_count(3)
    check_page(cora, "disclosures")

    cora.get_by_role("link", name="Accounting of disclosures").click()
    cora.get_by_label("Participant", exact=True).fill("p-100")
    cora.get_by_role("button", name="Show accounting").click()
    expect(cora.get_by_role("heading", level=2)).to_contain_text("p-100: 3 disclosures")
    check_page(cora, "disclosures-accounting")
    with cora.expect_download() as download:
        cora.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == "accounting-p-100.csv"
    table = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert {row["disclosure_id"] for row in table} == {emergency["id"], legal["id"],
                                                       _alices(table)}
    by_id = {row["disclosure_id"]: row for row in table}
    assert by_id[legal["id"]]["recipient"] == "County DHS"
    assert by_id[legal["id"]]["permission"] == "legal basis: required_by_law"
    assert by_id[legal["id"]]["accountable"] == "True"
    assert by_id[_alices(table)]["sent_by"] == "alice"
    assert by_id[_alices(table)]["accountable"] == "False"  # under an authorization

    month = datetime.now(UTC).strftime("%Y-%m")
    cora.goto(f"/console/disclosures/sampling?month={month}&size=10")
    expect(cora.get_by_role("status")).to_contain_text("3 of 3 disclosures checked")
    expect(cora.locator("tr.row-exception")).to_contain_text("review is not completed")
    check_page(cora, "disclosures-sampling")
    cora.get_by_label(f"Finding for {emergency['id']}").fill(
        "justified: overdose, the clinic needed the name to admit")
    cora.get_by_role("button", name="Close review").click()
    expect(cora.get_by_role("status").first).to_contain_text("closed with your finding")
    expect(cora.get_by_text("No emergency disclosure awaits its review.")).to_be_visible()
    expect(cora.get_by_text("no exception found")).to_be_visible()
    check_page(cora, "disclosures-sampling-reviewed")


def _alices(table: list[dict]) -> str:
    return next(row["disclosure_id"] for row in table if row["sent_by"] == "alice")
