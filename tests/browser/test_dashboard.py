"""The dashboard in a real browser on two weeks of activity: each user sees the queues their
powers allow, the charts are drawn and explained, axe finds nothing serious, and every view is
saved as a screenshot."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.activity import seed_activity


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: the activity made here would show on other tests' pages."""
    seed_activity(fresh_console_server.database_url)
    return fresh_console_server


def card(page, title: str):
    return page.get_by_role("region", name=title)


def test_dashboard_for_an_auditor_an_approver_an_admin_and_a_case_manager(page_as, check_page):
    cora = page_as("cora")
    expect(card(cora, "Break-glass uses awaiting review")).to_contain_text("Alice Ng (alice)")
    expect(card(cora, "Consents to renew")).to_contain_text("flagged: hospitalization")
    expect(card(cora, "Approvals waiting for you")).to_contain_text("Escalations: 1")
    chart = cora.get_by_role("img", name="Decisions per day over the last 14 days")
    expect(chart).to_be_visible()
    expect(cora.get_by_role("img", name="Most-denied fields")).to_be_visible()
    expect(cora.get_by_role("img", name="Overrides and break-glass per program")).to_be_visible()
    check_page(cora, "dashboard-auditor")
    cora.get_by_text("The numbers, day by day").click()
    expect(cora.get_by_role("table").first).to_be_visible()
    check_page(cora, "dashboard-auditor-numbers")

    sam = page_as("sam")
    approvals = card(sam, "Approvals waiting for you")
    expect(approvals).to_contain_text("Override requests: 1 · Escalations: 1")
    expect(approvals).to_contain_text("Nick Shah (nick) asks to view")
    expect(sam.get_by_role("img", name="Most-denied fields")).to_have_count(0)
    check_page(sam, "dashboard-approver")

    ada = page_as("ada")
    expect(card(ada, "Alerts")).to_contain_text("Elevated access never reviewed")
    expect(card(ada, "Approvals waiting for you")).to_have_count(0)
    check_page(ada, "dashboard-admin-activity")

    alice = page_as("alice")
    expect(card(alice, "Your requests waiting on others")).to_contain_text(
        "Break-glass in Rapid Rehousing")
    expect(card(alice, "Approvals waiting for you")).to_have_count(0)
    check_page(alice, "dashboard-case-manager")
