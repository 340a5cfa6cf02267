"""Requests and Approvals in a real browser, two people in two browser contexts (issue 15
items 1 and 2): alice asks for access, previews what it adds and sends it; sam approves it and
the API's decision for that field changes, until alice ends it early. A break-glass use is
made and then reviewed with a finding. Nobody can approve their own request. axe finds nothing
serious on any of these pages, and each is saved as a screenshot."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

DIAGNOSIS = {"subject": "alice", "action": "view", "participant": "p-100",
             "program": "housing", "fields": ["clinical.diagnosis"]}


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: the overrides made here change decisions other tests would see."""
    return fresh_console_server


def open_menu(page, label: str) -> None:  # noqa: ANN001
    page.get_by_role("navigation", name="Console").get_by_role("link", name=label).click()
    expect(page.get_by_role("heading", level=1, name=label)).to_be_visible()


def section(page, heading: str):  # noqa: ANN001, ANN201
    return page.locator("section", has=page.get_by_role("heading", level=2, name=heading))


def decided(server, key: str) -> dict:
    status, answer = server.api("POST", "/api/v1/decisions", DIAGNOSIS, key)
    assert status == 200, answer
    return answer


def test_a_request_approved_by_a_supervisor_changes_the_decision(page_as, page_server,
                                                                 check_page):
    key = page_server.api_key("decide")
    assert decided(page_server, key)["denied"] == {"clinical.diagnosis": "no_role_grant"}

    alice = page_as("alice")
    open_menu(alice, "Requests")
    check_page(alice, "requests-empty")
    # Found by the contract's names alone (section 9), as an outside checker finds them.
    form = alice.get_by_role("form", name="Request access", exact=True)
    form.get_by_label("Program", exact=True).select_option("housing")
    form.get_by_label("Participant", exact=True).fill("p-100")
    form.get_by_label("Fields", exact=True).fill("clinical.diagnosis identity.name")
    form.get_by_label("Actions", exact=True).get_by_role("checkbox", name="view").check()
    form.get_by_label("Reason", exact=True).fill("care plan meeting with the clinic tomorrow")
    form.get_by_label("Minutes", exact=True).fill("999")
    form.get_by_role("button", name="Request access", exact=True).click()
    expect(alice.locator("#req-minutes-error")).to_have_text("at most 480 minutes in this program")
    check_page(alice, "requests-invalid")

    form = section(alice, "Request access")
    form.get_by_label("Minutes").fill("90")
    form.get_by_role("button", name="Preview").click()
    preview = alice.locator("#preview")
    expect(preview).to_contain_text("1 field added, 1 you already hold")
    expect(preview).to_contain_text("clinical.diagnosis")
    expect(preview).to_contain_text("90 minutes (at most 480 in Rapid Rehousing), starting "
                                    "when it is approved")
    check_page(alice, "requests-preview")
    section(alice, "Request access").get_by_role("button", name="Request access").click()
    expect(alice.get_by_role("status").first).to_contain_text("sent: 90 minutes of view")
    expect(section(alice, "My requests")).to_contain_text("pending")
    assert decided(page_server, key)["denied"] == {"clinical.diagnosis": "no_role_grant"}

    sam = page_as("sam")  # a second person, in a second browser context
    open_menu(sam, "Approvals")
    asked = sam.locator("article", has_text="Alice Ng (alice) asks to view")
    expect(asked).to_contain_text("care plan meeting with the clinic tomorrow")
    expect(asked).to_contain_text("90 minutes from your approval")
    expect(asked.locator(".req-sens-restricted")).to_have_count(1)
    check_page(sam, "approvals-pending")
    asked.get_by_label("Note").fill("for the meeting only")
    asked.get_by_role("button", name="Approve", exact=True).click()
    expect(sam.get_by_role("status").first).to_contain_text("was approved")
    check_page(sam, "approvals-after-approval")

    after = decided(page_server, key)
    assert after["allowed"] == ["clinical.diagnosis"], after

    alice.reload()
    mine = section(alice, "My requests")
    expect(mine).to_contain_text("Sam Ortiz (sam)")
    expect(mine).to_contain_text("“for the meeting only”")
    now = section(alice, "My access now")
    expect(now).to_contain_text(re.compile(r"(89|90) minutes left"))
    check_page(alice, "requests-active")
    now.get_by_role("button", name=re.compile("End my access")).click()
    expect(alice.get_by_role("status").first).to_contain_text("has ended")
    expect(section(alice, "My requests")).to_contain_text("revoked")
    assert decided(page_server, key)["denied"] == {"clinical.diagnosis": "no_role_grant"}


def test_a_break_glass_use_is_reviewed_with_a_finding(page_as, page_server, check_page):
    alice = page_as("alice")
    open_menu(alice, "Requests")
    glass = alice.get_by_role("form", name="Break the glass", exact=True)
    glass.get_by_label("Program", exact=True).select_option("housing")
    glass.get_by_label("Participant", exact=True).fill("p-200")
    glass.get_by_role("button", name="Break the glass", exact=True).click()
    expect(alice.locator("#glass-reason-error")).to_have_text("required")
    check_page(alice, "requests-break-glass-invalid")
    glass = section(alice, "Break the glass")
    glass.get_by_label("Reason").fill("client in crisis at the front desk, needs the safety plan")
    glass.get_by_role("button", name="Break the glass").click()
    expect(alice.get_by_role("status").first).to_contain_text("The glass is broken")
    expect(section(alice, "My access now")).to_contain_text("Break-glass")
    expect(section(alice, "My requests")).to_contain_text("Awaiting its review")
    check_page(alice, "requests-break-glass-used")

    alice.goto("/console/requests/break-glass?participant=p-200&program=housing")
    expect(alice.get_by_role("heading", level=1, name="Break the glass")).to_be_visible()
    expect(alice.get_by_role("form", name="Break the glass", exact=True)).to_be_visible()
    check_page(alice, "requests-break-glass-page")

    sam = page_as("sam")
    open_menu(sam, "Approvals")
    use = sam.locator("article", has_text="Alice Ng (alice) broke the glass")
    expect(use).to_contain_text("client in crisis at the front desk")
    use.get_by_role("button", name=re.compile("^Close the review")).click()
    expect(sam.locator(".field-error")).to_have_text("required: write what the review found")
    check_page(sam, "approvals-finding-missing")
    use = sam.locator("article", has_text="Alice Ng (alice) broke the glass")
    use.get_by_label("Finding").fill("a real crisis; the access was in proportion")
    use.get_by_role("button", name=re.compile("^Close the review")).click()
    expect(sam.get_by_role("status").first).to_contain_text("closed with your finding")
    expect(section(sam, "Break-glass uses awaiting review")).to_contain_text(
        "No break-glass use awaits your review")

    alice.goto("/console/requests")
    expect(section(alice, "My requests")).to_contain_text(
        "Reviewed by Sam Ortiz (sam): “a real crisis")


def test_a_requester_cannot_approve_their_own(page_as, page_server, check_page):
    sam = page_as("sam")
    open_menu(sam, "Requests")
    form = section(sam, "Request access")
    form.get_by_label("Program").select_option("housing")
    form.get_by_label("Fields").fill("sud.*")
    form.get_by_role("checkbox", name="view").check()
    form.get_by_label("Reason").fill("audit of the treatment notes")
    form.get_by_label("Minutes").fill("30")
    form.get_by_role("button", name="Request access").click()
    message = sam.get_by_role("status").first.inner_text()
    override_id = re.search(r"Request (ovr_\w+) sent", message).group(1)

    open_menu(sam, "Approvals")
    expect(sam.get_by_text(override_id)).to_have_count(0)  # not offered
    expect(section(sam, "Override requests")).to_contain_text("No override request waits")
    check_page(sam, "approvals-empty")

    # The server refuses it too: the form posted by hand, with a valid CSRF token.
    token = sam.locator("input[name=csrf_token]").first.get_attribute("value")
    response = sam.request.post(f"/console/approvals/overrides/{override_id}",
                                form={"csrf_token": token, "verdict": "approve"})
    assert response.status == 422
    assert "nobody approves their own override" in response.text()
    sam.goto("/console/requests")
    expect(section(sam, "My requests")).to_contain_text("pending")

    # Another approver may: cora approves escalations only, so she is refused too (422),
    # and the request waits for a supervisor of housing.
    cora = page_as("cora")
    open_menu(cora, "Approvals")
    expect(cora.get_by_text(override_id)).to_have_count(0)
