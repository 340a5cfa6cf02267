"""The Organisation file and Audit pages in a real browser (issue 14 items 6 and 7): ada
downloads the organisation, uploads a changed file, reviews its plan (a conflict, the counts,
who gains and loses) and applies it; a file that does not validate shows its errors; cora finds
ada's apply in the trail, opens a decision, checks the chain's integrity and downloads the
CSV. axe finds nothing serious on any page; each is saved as a screenshot."""
from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from tests.console.conftest import console_org

DECISION = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
            "fields": ["identity.name", "clinical.diagnosis"]}


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: the apply here would show in other tests' pages."""
    return fresh_console_server


def changed_org() -> dict:
    org = console_org()
    org["users"].append({"id": "zed", "name": "Zed Moss",
                         "roles": [{"role": "case_manager", "program": "housing"}]})
    for user in org["users"]:
        if user["id"] == "ivy":
            user["roles"] = []
    for role in org["roles"]:
        if role["id"] == "case_manager":
            role["grants"]["view"].append("clinical.diagnosis")
    return org


def test_upload_review_and_apply_an_organisation_file(page_as, page_server, tmp_path,
                                                      check_page):
    server = page_server
    server.cli("user", "disable", "nick", "--reason", "left the agency", "--actor", "rita")
    ada = page_as("ada")
    ada.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Organisation file").click()
    expect(ada.get_by_role("heading", level=1, name="Organisation file")).to_be_visible()
    with ada.expect_download() as download:
        ada.get_by_role("link", name="Download YAML").click()
    current = yaml.safe_load(download.value.path().read_text())
    assert "ada" in {u["id"] for u in current["users"]}
    check_page(ada, "organisation-file")

    broken = tmp_path / "broken.yaml"
    broken.write_text("roles:\n  - {id: case_manager, scope: everywhere}\n")
    ada.get_by_label("Organisation file (YAML or JSON)").set_input_files(str(broken))
    ada.get_by_role("button", name="Upload and review").click()
    expect(ada.get_by_role("alert")).to_contain_text("broken.yaml was not accepted")
    expect(ada.get_by_role("alert")).to_contain_text("roles[0].scope")
    check_page(ada, "organisation-file-invalid")

    good = tmp_path / "organisation.yaml"
    good.write_text(yaml.safe_dump(changed_org(), sort_keys=False))
    ada.get_by_label("Organisation file (YAML or JSON)").set_input_files(str(good))
    ada.get_by_role("button", name="Upload and review").click()
    expect(ada.get_by_role("heading", level=1, name="Review the plan")).to_be_visible()
    expect(ada.locator(".conflicts")).to_contain_text("conflict: user nick was disabled")
    people = ada.get_by_role("table", name="People")
    expect(people.get_by_role("row", name="zed")).to_contain_text("a new account")
    expect(people.get_by_role("row", name="ivy")).to_contain_text(
        "role case_manager in program housing")
    expect(ada.get_by_role("table", name="Roles whose grants change")).to_contain_text(
        "view clinical.diagnosis")
    check_page(ada, "organisation-file-plan")

    ada.get_by_role("button", name="Apply").click()
    expect(ada.get_by_role("heading", level=1, name="Applied")).to_be_visible()
    expect(ada.get_by_role("status")).to_contain_text("recorded in the")
    check_page(ada, "organisation-file-applied")

    exported = yaml.safe_load(server.cli("export").stdout)
    assert "zed" in {u["id"] for u in exported["users"]}
    assert next(u for u in exported["users"] if u["id"] == "nick").get("active") is False

    cora = page_as("cora")
    cora.get_by_role("navigation", name="Console").get_by_role("link", name="Audit").click()
    expect(cora.get_by_role("heading", level=1, name="Audit")).to_be_visible()
    cora.get_by_label("User").fill("ada")
    cora.get_by_label("Kind").select_option("org.applied")
    cora.get_by_role("button", name="Show events").click()
    expect(cora.locator("table.events tbody tr")).to_have_count(1)
    expect(cora.locator("table.events")).to_contain_text("org.applied")


def test_an_auditor_reads_a_decision_checks_the_chain_and_exports(page_as, page_server,
                                                                  check_page):
    key = page_server.api_key("decide")
    status, answer = page_server.api("POST", "/api/v1/decisions", DECISION, key)
    assert status == 200
    cora = page_as("cora")
    cora.goto("/console/audit")
    check_page(cora, "audit")

    cora.get_by_label("Kind").select_option("decision")
    cora.get_by_role("button", name="Show events").click()
    expect(cora.locator("table.events")).to_contain_text("view 2 fields")
    check_page(cora, "audit-filtered")
    cora.locator("table.events tbody tr").first.get_by_role("link").click()
    expect(cora.get_by_role("heading", level=1)).to_contain_text(": decision")
    expect(cora.get_by_text(answer["decision_id"]).first).to_be_visible()
    outcomes = cora.get_by_role("table", name="Each field, and why")
    expect(outcomes.get_by_role("row", name="clinical.diagnosis")).to_contain_text(
        "no_role_grant")
    expect(outcomes.get_by_role("row", name="identity.name")).to_contain_text("case_manager")
    check_page(cora, "audit-event-decision")

    cora.get_by_role("link", name="Audit", exact=True).first.click()
    with cora.expect_download() as download:
        cora.get_by_role("link", name="Download CSV").click()
    assert download.value.path().read_text().startswith("seq,at,kind,actor")

    cora.get_by_role("button", name="Check integrity").click()
    expect(cora.get_by_role("heading", level=1, name="Integrity check")).to_be_visible()
    expect(cora.get_by_role("status")).to_contain_text("The audit trail is intact.")
    expect(cora.get_by_text("Not keyed.")).to_be_visible()
    check_page(cora, "audit-integrity")
