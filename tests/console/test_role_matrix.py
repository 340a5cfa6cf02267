"""The role matrix page (contract section 9, issue 14 item 3) on both stores: the grid with its
checked cells (pattern grants too) and accessible names, a draft's review with its diff and
impact, applying it (the API's next decision changes; one audit row with before and after), and
the refusals: a stale draft (409), no CSRF token (400), no admin power (403), unknown names
(400), a sign-in that is not recent."""
from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, CasbinRule, ConsoleGrantEdit, RoleAssignment
from governance.operations.role_matrix import EditRoleMatrix
from governance.operations.state import bump_revision
from governance.reads.role_matrix import CellChange
from tests.conftest import NOW, new_key
from tests.signin.conftest import PASSWORD, sign_in

PHONE = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
         "fields": ["contact.phone", "contact.address", "clinical.diagnosis"]}
GRID = "/console/role-matrix"


# -- helpers: read the page as a browser would ------------------------------------------------

def text_of(fragment: str) -> str:
    """The words of an HTML fragment, as a reader sees them."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())
    return re.sub(r" ([,.;:])", r"\1", words)


def table_rows(page: str, css_class: str) -> list[str]:
    table = re.search(r'<table class="' + css_class + r'">.*?</table>', page, re.S).group(0)
    return [text_of(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]


def checkbox(page: str, name: str) -> str | None:
    """The <input> whose accessible name (aria-label) is ``name``."""
    found = re.search(r'<input type="checkbox"[^>]*aria-label="' + re.escape(name) + r'"[^>]*>',
                      page)
    return found.group(0) if found else None


def grid_form(page: str) -> dict[str, list[str]]:
    """What the grid form posts as it stands: its hidden fields and its checked cells."""
    form = re.search(r'<form method="post" action="/console/role-matrix/review".*?</form>',
                     page, re.S).group(0)
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(html.unescape(value))
    data["grant"] = [html.unescape(v) for v in re.findall(
        r'<input type="checkbox" name="grant" value="([^"]+)"[^>]*checked>', form)]
    return data


def hidden_form(page: str, action: str) -> dict[str, list[str]]:
    form = re.search(r'<form method="post" action="' + re.escape(action) + r'"[^>]*>.*?</form>',
                     page, re.S).group(0)
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(html.unescape(value))
    return data


def review(client, *, uncheck=(), check=(), query="action=view"):
    """Load the grid, change cells, press Review changes; returns the response."""
    page = client.get(f"{GRID}?{query}").get_data(as_text=True)
    data = grid_form(page)
    data["grant"] = [c for c in data["grant"] if c not in uncheck] + list(check)
    return client.post(f"{GRID}/review", data=data)


def apply_from(client, review_page: str, **extra):
    data = hidden_form(review_page, f"{GRID}/apply")
    return client.post(f"{GRID}/apply", data={**data, **extra})


def decide(app, body=PHONE) -> dict:
    client = app.test_client()
    response = client.post("/api/v1/decisions", json=body,
                           headers={"Authorization": f"Bearer {new_key(app, 'decide')}"})
    assert response.status_code == 200, response.json
    return response.json


def matrix_audit(app) -> list[dict]:
    with app.app_context():
        rows = state(app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "policy.matrix_edited").order_by(AuditEvent.seq)).all()
        return [{"actor": r.actor, "ref": r.ref, **payload_of(r)} for r in rows]


def grant_lines(app, role: str, action: str = "view") -> list[str]:
    with app.app_context():
        return sorted(state(app).session.scalars(select(CasbinRule.v1).where(
            CasbinRule.ptype == "p", CasbinRule.v0 == role, CasbinRule.v2 == action)))


# -- the grid ---------------------------------------------------------------------------------

def test_grid_checks_granted_cells_by_id_and_through_patterns(signed_in):
    page = signed_in("ada").get(f"{GRID}?action=view").get_data(as_text=True)
    phone = checkbox(page, "case_manager view contact.phone")
    assert phone is not None and "checked" in phone
    assert 'title="granted through contact.*"' in phone
    by_id = checkbox(page, "billing view identity.name")
    assert "checked" in by_id and "title=" not in by_id
    everything = checkbox(page, "supervisor view sud.treatment_history")
    assert "checked" in everything and 'title="granted through *"' in everything
    assert "checked" not in checkbox(page, "case_manager view clinical.diagnosis")
    assert "checked" not in checkbox(page, "billing view contact.phone")


def test_every_cell_is_named_role_action_field(signed_in):
    page = signed_in("ada").get(f"{GRID}?action=export").get_data(as_text=True)
    names = re.findall(r'<input type="checkbox" name="grant" value="([^"]+)" '
                       r'aria-label="([^"]+)"', page)
    roles = {"billing", "case_manager", "clinician", "compliance", "it_admin", "records",
             "supervisor"}
    assert len(names) == len(roles) * 12
    for value, label in names:
        role, field_id = value.split(" ")
        assert label == f"{role} export {field_id}"
    assert "checked" in checkbox(page, "clinician export clinical.diagnosis")
    assert "checked" not in checkbox(page, "clinician export clinical.hiv_status")


def test_fields_are_grouped_with_sensitivity_and_labels_in_words(signed_in):
    page = signed_in("ada").get(GRID).get_data(as_text=True)
    groups = re.findall(r'<tbody id="group-([a-z_]+)">', page)
    assert groups == ["billing", "clinical", "contact", "identity", "risk", "sud"]
    row = re.search(r'<code>clinical.psychotherapy_notes</code>(.*?)</th>', page).group(1)
    assert "very restricted" in row and "psychotherapy notes" in row
    assert 'aria-label="Field groups"' in page


def test_a_program_shows_the_roles_held_there_and_the_organisation_wide_ones(signed_in):
    page = signed_in("ada").get(f"{GRID}?action=view&program=behavioral_health"
                                ).get_data(as_text=True)
    roles = re.findall(r'<span class="role-id">([^<]+)</span>', page)
    assert roles == ["billing", "clinician", "compliance", "it_admin", "records"]


@pytest.mark.parametrize("query,member", [("action=dance", "action"),
                                          ("program=nowhere", "program"),
                                          ("group=nogroup", "group")])
def test_an_unknown_filter_is_a_400_naming_it(signed_in, query, member):
    response = signed_in("ada").get(f"{GRID}?{query}")
    assert response.status_code == 400
    assert member in response.get_data(as_text=True)


@pytest.mark.parametrize("user", ["cora", "sam", "alice"])
def test_the_matrix_needs_the_admin_power(signed_in, console_app, user):
    client = signed_in(user)
    refused = client.get(GRID)
    assert refused.status_code == 403
    ada = signed_in("ada")
    page = review(ada, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    data = hidden_form(page, f"{GRID}/apply")
    data["csrf_token"] = [re.search(r'name="csrf_token" value="([^"]+)"',
                                    refused.get_data(as_text=True)).group(1)]
    assert client.post(f"{GRID}/review", data=data).status_code == 403
    assert client.post(f"{GRID}/apply", data=data).status_code == 403
    assert "contact.*" in grant_lines(console_app, "case_manager")


# -- review -----------------------------------------------------------------------------------

def test_review_shows_the_diff_and_who_loses_which_fields(signed_in):
    response = review(signed_in("ada"), uncheck=["case_manager contact.phone"],
                      check=["billing contact.phone"])
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert table_rows(page, "diff") == [
        "billing view contact.phone added granted by its id",
        "case_manager view contact.phone removed was granted through contact.*"]
    assert table_rows(page, "rewrites") == [
        "billing billing.*, identity.name billing.*, contact.phone, identity.name",
        "case_manager contact.*, identity.*, risk.* contact.address, identity.*, risk.* "
        "The pattern contact.* gives way to the fields of it that stay granted, now each by "
        "its id: contact.address. A field added to the catalogue later under contact.* will "
        "not be granted to case_manager."]
    lines = {row.split()[0]: row for row in table_rows(page, "impact-users")}
    # Everyone holding case_manager now, active: lee is disabled and counts for nothing.
    assert set(lines) == {"alice", "nick", "ivy", "fred", "bo"}
    assert "Rapid Rehousing" in lines["alice"] and "contact.phone" in lines["alice"]
    assert "on their own cases" in lines["alice"]
    assert "Behavioral Health" in lines["bo"] and "billing (program scope)" in lines["bo"]
    assert table_rows(page, "impact-programs") == [
        "Behavioral Health behavioral_health 1 contact.phone 0 -",
        "Rapid Rehousing housing 0 - 4 contact.phone"]


def assign(app, user: str, role: str, program: str | None) -> None:
    with app.app_context():
        session = state(app).session
        session.add(RoleAssignment(user_id=user, role_id=role, program_id=program,
                                   source="console", created_at=NOW))
        bump_revision(session, [("assignments", user)])
        session.commit()


def test_a_field_kept_through_another_role_is_no_loss(signed_in, console_app):
    assign(console_app, "alice", "billing", "housing")  # billing may view identity.name
    page = review(signed_in("ada"), uncheck=["case_manager identity.name"]).get_data(
        as_text=True)
    users = re.search(r'<table class="impact-users">.*?</table>', page, re.S).group(0)
    assert "<code>nick</code>" in users and "<code>alice</code>" not in users
    summary = text_of(re.search(r'<p class="impact-summary">.*?</p>', page, re.S).group(0))
    assert summary.startswith("Of the 4 users holding a changed role now, 3 would lose fields "
                              "and none would gain any.")  # nick, ivy, fred; alice keeps it


def test_an_organisation_wide_change_is_said_once_with_its_exceptions(signed_in, console_app):
    assign(console_app, "cora", "case_manager", "housing")  # case_manager views identity.*
    page = review(signed_in("ada"), uncheck=["compliance identity.name"]).get_data(
        as_text=True)
    assert table_rows(page, "impact-users") == [
        "cora Cora Compliance every program - identity.name compliance (organization scope)",
        "cora Cora Compliance Rapid Rehousing no change here: another role of theirs in this "
        "program makes up for it compliance (organization scope)"]
    assert "Every program (organisation-wide roles)" in page


def test_a_draft_that_changes_nothing_says_so(signed_in):
    page = review(signed_in("ada")).get_data(as_text=True)
    assert "Your draft changes nothing" in page
    assert "Apply changes" not in page


def test_change_the_draft_draws_it_on_the_grid(signed_in):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    grid = client.post(GRID, data=hidden_form(page, GRID)).get_data(as_text=True)
    cell = checkbox(grid, "case_manager view contact.phone")
    assert "checked" not in cell and 'title="changed in your draft"' in cell
    assert "Your draft changes 1 cell(s)" in grid


# -- apply ------------------------------------------------------------------------------------

def test_apply_changes_the_next_decision_and_writes_one_audit_row(signed_in, console_app):
    assert decide(console_app)["allowed"] == ["contact.address", "contact.phone"]
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"],
                  check=["case_manager clinical.diagnosis"]).get_data(as_text=True)
    response = apply_from(client, page, reason="SR-1042: case managers stop seeing phones")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == GRID
    done = decide(console_app)
    assert done["allowed"] == ["clinical.diagnosis", "contact.address"]
    assert done["denied"] == {"contact.phone": "no_role_grant"}
    assert grant_lines(console_app, "case_manager") == [
        "clinical.diagnosis", "contact.address", "identity.*", "risk.*"]
    [row] = matrix_audit(console_app)
    assert row["actor"] == "ada" and row["action"] == "view"
    assert row["before"] == {"case_manager": ["contact.*", "identity.*", "risk.*"]}
    assert row["after"] == {"case_manager": ["clinical.diagnosis", "contact.address",
                                             "identity.*", "risk.*"]}
    assert row["replaced"] == {"case_manager": {"contact.*": ["contact.address"]}}
    assert row["granted"] == ["case_manager clinical.diagnosis"]
    assert row["revoked"] == ["case_manager contact.phone"]
    assert row["ref"] == row["policy_version"] == done["policy_version"]
    assert row["policy_version_before"] != row["policy_version"]
    assert row["reason"] == "SR-1042: case managers stop seeing phones"
    notice = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Applied to view: 1 grant added and 1 grant taken away" in notice


def test_apply_records_each_line_as_a_console_edit(signed_in, console_app):
    client = signed_in("ada")
    apply_from(client, review(client, uncheck=["case_manager contact.phone"]).get_data(
        as_text=True))
    with console_app.app_context():
        edits = sorted((e.role_id, e.action, e.field_pattern, e.op, e.made_by) for e in
                       state(console_app).session.scalars(select(ConsoleGrantEdit)))
    assert edits == [("case_manager", "view", "contact.*", "remove", "ada"),
                     ("case_manager", "view", "contact.address", "add", "ada")]
    # Checking the cell again puts contact.phone back by id; the pattern stays gone.
    apply_from(client, review(client, check=["case_manager contact.phone"]).get_data(
        as_text=True))
    assert grant_lines(console_app, "case_manager") == [
        "contact.address", "contact.phone", "identity.*", "risk.*"]


def test_a_stale_draft_is_refused_with_409(signed_in, console_app):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    with console_app.app_context():  # someone else applies a change meanwhile
        EditRoleMatrix("ada", "view", [CellChange("billing", "contact.phone", True)], NOW
                       ).execute(state(console_app).session)
    response = apply_from(client, page)
    assert response.status_code == 409
    assert "review them again" in response.get_data(as_text=True)
    assert "contact.*" in grant_lines(console_app, "case_manager")
    assert len(matrix_audit(console_app)) == 1  # only the other change
    again = client.post(f"{GRID}/review", data=hidden_form(page, f"{GRID}/apply"))
    assert again.status_code == 409


def test_a_draft_of_another_action_is_not_stale(signed_in, console_app):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    with console_app.app_context():
        EditRoleMatrix("ada", "export", [CellChange("billing", "contact.phone", True)], NOW
                       ).execute(state(console_app).session)
    assert apply_from(client, page).status_code == 302


def test_apply_without_csrf_token_is_400_and_changes_nothing(signed_in, console_app):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    data = hidden_form(page, f"{GRID}/apply")
    del data["csrf_token"]
    response = client.post(f"{GRID}/apply", data=data)
    assert response.status_code == 400
    assert "contact.*" in grant_lines(console_app, "case_manager")
    assert matrix_audit(console_app) == []


@pytest.mark.parametrize("name,value,member", [
    ("remove", "case_manager contact.fax", "contact.fax"),
    ("add", "janitor contact.phone", "janitor"),
    ("add", "case_manager", "ROLE FIELD"),
    ("action", "delete", "unknown action"),
])
def test_apply_refuses_unknown_names_with_400(signed_in, console_app, name, value, member):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    data = hidden_form(page, f"{GRID}/apply")
    data[name] = [value] if name == "action" else data.get(name, []) + [value]
    response = client.post(f"{GRID}/apply", data=data)
    assert response.status_code == 400
    assert member in html.unescape(response.get_data(as_text=True))
    assert "contact.*" in grant_lines(console_app, "case_manager")
    assert matrix_audit(console_app) == []


def test_review_refuses_a_grid_naming_an_unknown_field(signed_in):
    client = signed_in("ada")
    data = grid_form(client.get(GRID).get_data(as_text=True))
    data["shown_fields"] = [data["shown_fields"][0] + " contact.fax"]
    response = client.post(f"{GRID}/review", data=data)
    assert response.status_code == 400
    assert "contact.fax" in html.unescape(response.get_data(as_text=True))


def test_apply_asks_for_a_recent_sign_in_and_keeps_the_draft(signed_in, console_app):
    client = signed_in("ada")
    page = review(client, uncheck=["case_manager contact.phone"]).get_data(as_text=True)
    console_app.clock.advance(minutes=11)
    client.get(GRID)  # still signed in (not idle), but not recently
    response = apply_from(client, page)
    assert response.status_code == 302
    target = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
    assert urlsplit(target).path == f"{GRID}/review"
    assert "contact.*" in grant_lines(console_app, "case_manager")
    assert sign_in(client, "ada", PASSWORD).status_code == 302
    again = client.get(target)
    assert "Apply changes" in again.get_data(as_text=True)
    assert apply_from(client, again.get_data(as_text=True)).status_code == 302
    assert "contact.*" not in grant_lines(console_app, "case_manager")


def test_the_operation_refuses_a_draft_that_changes_nothing(console_app):
    from governance.errors import Invalid
    with console_app.app_context(), pytest.raises(Invalid):
        EditRoleMatrix("ada", "view", [CellChange("case_manager", "contact.phone", True)], NOW
                       ).execute(state(console_app).session)
    with console_app.app_context():
        assert state(console_app).session.scalar(select(func.count()).select_from(
            ConsoleGrantEdit)) == 0
