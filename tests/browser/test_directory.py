"""The Directory page in a real browser against a real slapd: ada opens it from the menu, sees
how the service reads the directory, previews a sync (dora would join, as a supervisor through
her group), runs it, and finds dora among the people, from the directory. axe finds nothing
serious on any page; each is saved as a screenshot."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import running_console_server
from tests.directory.slapd import Slapd
from tests.directory.sync_support import ldap_config
from tests.directory.test_directory_page import directory_org


@pytest.fixture
def page_server(tmp_path):
    with Slapd() as slapd:
        dora = slapd.add_user("dora", "Dora Dir", "dora@example.org")
        slapd.add_group("housing-sup", [dora])
        slapd.add_group("records")
        env = {key: str(value).lower() if isinstance(value, bool) else str(value)
               for key, value in ldap_config(slapd).items()}
        with running_console_server(tmp_path / "server", directory_org(slapd), env) as server:
            yield server


def test_preview_and_run_a_directory_sync(page_as, check_page):
    page = page_as("ada")
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Directory").click()
    expect(page.get_by_role("heading", name="Directory", exact=True)).to_be_visible()
    expect(page.get_by_text("StartTLS, certificate checked")).to_be_visible()
    expect(page.get_by_text("The directory has not been synced yet.")).to_be_visible()
    check_page(page, "directory")

    page.get_by_role("button", name="Preview sync").click()
    expect(page.get_by_role("heading", name="Sync preview")).to_be_visible()
    expect(page.get_by_text("Nothing was written.")).to_be_visible()
    expect(page.locator("ul.lines").get_by_text("dora")).not_to_have_count(0)
    check_page(page, "directory-preview")

    page.get_by_role("button", name="Sync now").click()
    expect(page.get_by_role("heading", name="Sync applied")).to_be_visible()
    check_page(page, "directory-applied")

    page.get_by_role("link", name="Back to the directory").click()
    page.get_by_label("Name, id or e-mail").fill("dora")
    page.get_by_role("button", name="Show").click()
    people = page.locator("table.people tbody tr")
    expect(people).to_have_count(1)
    expect(people.first).to_contain_text("Dora Dir")
    expect(people.first).to_contain_text("directory")
    expect(page.get_by_text("(full)")).to_be_visible()
    check_page(page, "directory-people")
