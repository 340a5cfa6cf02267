"""The access explorer and the simulator in a real browser: a compliance officer finds who can
see a field and through what, follows a person to everything they can act on, simulates a
disclosure and reads its trail; axe finds nothing serious and every view is a screenshot."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: simulations are audited, and other tests read the trail."""
    return fresh_console_server


def open_from_nav(page, label: str) -> None:
    page.get_by_role("navigation", name="Console").get_by_role("link", name=label).click()
    expect(page.get_by_role("heading", level=1, name=label)).to_be_visible()


def test_explore_who_can_see_a_field_and_what_one_person_can(page_as, check_page):
    page = page_as("cora")
    open_from_nav(page, "Access explorer")
    page.get_by_text("How access is counted").click()
    expect(page.get_by_text("its grants count in every program")).to_be_visible()
    check_page(page, "access-explorer")

    page.get_by_label("Field").select_option("identity.name")
    page.get_by_label("Action").select_option("view")
    page.get_by_label("Program").select_option("housing")
    page.get_by_role("button", name="Show who can").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text(
        "Who can view identity.name in Rapid Rehousing")
    people = page.get_by_role("table")
    # Inherited, organisation-wide access is listed, with its path.
    expect(people.get_by_role("row", name=re.compile("Rita Gomez"))).to_contain_text(
        "Organisation-wide role records in every program")
    alice = people.get_by_role("row", name=re.compile("Alice Ng"))
    expect(alice).to_contain_text("Case role case_manager in housing, granting identity.*")
    expect(alice).to_contain_text("on the cases of p-100, p-200")
    expect(people.get_by_role("row", name=re.compile("Olga Reyes"))).to_have_count(0)
    check_page(page, "access-explorer-who")

    page.get_by_label("Through").select_option("organization_role")
    page.get_by_role("button", name="Show who can").click()
    expect(page.get_by_role("table").get_by_role("row")).to_have_count(3)  # header + 2
    check_page(page, "access-explorer-who-filtered")

    page.get_by_label("Field").select_option("clinical.diagnosis")
    page.get_by_label("Through").select_option("")
    page.get_by_role("button", name="Show who can").click()
    page.get_by_role("link", name="Sam Ortiz").click()
    expect(page.get_by_role("heading", level=2)).to_contain_text("What Sam Ortiz")
    expect(page.get_by_role("table").first).to_contain_text("Program role supervisor")
    check_page(page, "access-explorer-user")

    page.get_by_role("link", name="What a user can act on").click()
    page.get_by_label("User").fill("ghost")
    page.get_by_role("button", name="Show access").click()
    expect(page.get_by_text("there is no user 'ghost'")).to_be_visible()
    check_page(page, "access-explorer-user-unknown")


def fill_request(page, **values: str) -> None:
    for label, value in values.items():
        page.get_by_label(label, exact=True).fill(value)


def test_simulate_a_decision_and_read_its_trail(page_as, check_page):
    page = page_as("ada")
    open_from_nav(page, "Simulator")
    check_page(page, "simulator")

    fill_request(page, User="alice", Participant="p-100", Program="housing",
                 Action="disclose", Purpose="housing_referral", Recipient="city_housing",
                 Bundle="housing_referral_standard",
                 Fields="identity.name, contact.phone clinical.diagnosis")
    page.get_by_role("button", name="Decide").click()
    expect(page.get_by_role("status")).to_contain_text("partial")
    fields = page.get_by_role("table")
    name = fields.get_by_role("row", name=re.compile(r"^identity\.name"))
    expect(name).to_contain_text("allowed")
    expect(name).to_contain_text("role case_manager grants disclose on identity.*")
    expect(name).to_contain_text("alice is on the case of p-100")
    diagnosis = fields.get_by_role("row", name=re.compile(r"^clinical\.diagnosis"))
    expect(diagnosis).to_contain_text("bundle_prohibited")
    expect(diagnosis).to_contain_text("bundle housing_referral_standard prohibits")
    check_page(page, "simulator-disclosure")

    fill_request(page, Action="view", Purpose="", Recipient="", Bundle="",
                 Fields="identity.name clinical.*")
    page.get_by_role("button", name="Decide").click()
    expect(page.get_by_role("note")).to_contain_text("No rule matched for 3 fields")
    check_page(page, "simulator-no-rule")

    fill_request(page, Action="disclose", Purpose="curiosity", Fields="identity.name")
    page.get_by_role("button", name="Decide").click()
    expect(page.get_by_label("Purpose", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#purpose-error")).to_contain_text(
        "unknown purpose 'curiosity' (known: authorization, care_coordination")
    check_page(page, "simulator-bad-input")
