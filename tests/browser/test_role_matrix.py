"""The role matrix in a real browser (issue 14 item 3): ada unchecks one cell, reviews the
change and its impact, applies it, and the API's next decision for that field changes; axe finds
nothing serious on the grid or the review, and both are saved as screenshots."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

PHONE = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
         "fields": ["contact.phone", "contact.address"]}


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: the grants changed here would show in other tests' decisions."""
    return fresh_console_server


def test_change_a_cell_review_and_apply_changes_the_decision(page_as, page_server, check_page):
    key = page_server.api_key("decide")
    status, before = page_server.api("POST", "/api/v1/decisions", PHONE, key)
    assert status == 200 and before["allowed"] == ["contact.address", "contact.phone"]

    ada = page_as("ada")
    ada.get_by_role("navigation", name="Console").get_by_role("link", name="Role matrix").click()
    expect(ada.get_by_role("heading", level=1, name="Role matrix")).to_be_visible()
    cell = ada.get_by_role("checkbox", name="case_manager view contact.phone", exact=True)
    expect(cell).to_be_checked()
    expect(cell).to_have_attribute("title", "granted through contact.*")
    check_page(ada, "role-matrix-grid")

    cell.uncheck()
    ada.get_by_role("button", name="Review changes").click()
    expect(ada.get_by_role("heading", level=1, name="Review changes")).to_be_visible()
    diff = ada.locator("table.diff")
    expect(diff).to_contain_text("case_manager")
    expect(diff).to_contain_text("was granted through contact.*")
    expect(ada.locator(".rewrites")).to_contain_text("contact.address")
    expect(ada.locator("table.impact-users")).to_contain_text("Alice Ng")
    check_page(ada, "role-matrix-review")

    ada.get_by_role("button", name="Apply changes").click()
    expect(ada.get_by_role("status")).to_contain_text(
        "Applied to view: no grants added and 1 grant taken away")
    expect(ada.get_by_role("checkbox", name="case_manager view contact.phone",
                           exact=True)).not_to_be_checked()
    check_page(ada, "role-matrix-applied")

    status, after = page_server.api("POST", "/api/v1/decisions", PHONE, key)
    assert status == 200
    assert after["allowed"] == ["contact.address"]
    assert after["denied"] == {"contact.phone": "no_role_grant"}
    assert after["policy_version"] != before["policy_version"]


def test_the_matrix_for_a_program_with_its_holders(page_as, check_page):
    ada = page_as("ada")
    ada.goto("/console/role-matrix?action=disclose&program=housing")
    expect(ada.get_by_role("checkbox", name="case_manager disclose clinical.diagnosis",
                           exact=True)).to_be_checked()
    expect(ada.get_by_role("checkbox", name="clinician disclose clinical.diagnosis",
                           exact=True)).to_have_count(0)  # nobody holds clinician in housing
    check_page(ada, "role-matrix-program")
