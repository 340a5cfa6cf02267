"""A role-matrix edit outranks the org file (contract sections 2 and 9), through the real
``flask governance apply`` and ``export`` commands, on both stores: an apply that would undo a
console edit lists it as a conflict and leaves it, ``--replace-console-edits`` gives the file's
version, and the export (edits included) applied back settles the edits, after which the file
owns those grants again."""
from __future__ import annotations

import yaml
from sqlalchemy import select

from governance.extension import state
from governance.models import CasbinRule, ConsoleGrantEdit
from governance.operations.role_matrix import EditRoleMatrix
from governance.reads.role_matrix import CellChange
from tests.conftest import NOW, new_key
from tests.console.conftest import console_org

PHONE = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
         "fields": ["contact.phone"]}
EDIT = [CellChange("case_manager", "contact.phone", False),
        CellChange("billing", "contact.phone", True)]
CONFLICTS = [
    "conflict: grant billing view contact.phone was added in the console on "
    "2026-11-23T12:00:00Z by ada; left granted",
    "conflict: grant case_manager view contact.address was added in the console on "
    "2026-11-23T12:00:00Z by ada; left granted",
    "conflict: grant case_manager view contact.* was removed in the console on "
    "2026-11-23T12:00:00Z by ada; left removed",
]


def edit_matrix(app) -> None:
    with app.app_context():
        EditRoleMatrix("ada", "view", EDIT, NOW).execute(state(app).session)


def cli(app, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["governance", *args])
    assert result.exit_code == 0, result.output
    return result.output


def write(tmp_path, org: dict, name: str = "org.yaml") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(org, sort_keys=False))
    return str(path)


def view_grants(app, role: str) -> list[str]:
    with app.app_context():
        return sorted(state(app).session.scalars(select(CasbinRule.v1).where(
            CasbinRule.ptype == "p", CasbinRule.v0 == role, CasbinRule.v2 == "view")))


def phone_decision(app) -> str:
    response = app.test_client().post("/api/v1/decisions", json=PHONE, headers={
        "Authorization": f"Bearer {new_key(app, 'decide')}"})
    assert response.status_code == 200, response.json
    return response.json["denied"].get("contact.phone", "allowed")


def open_edits(app) -> list[tuple[str, str, str]]:
    with app.app_context():
        return sorted((e.role_id, e.field_pattern, e.op) for e in state(app).session.scalars(
            select(ConsoleGrantEdit).where(ConsoleGrantEdit.ended_at.is_(None))))


def test_an_apply_that_would_undo_a_console_edit_leaves_it_and_lists_a_conflict(
        console_app, tmp_path):
    edit_matrix(console_app)
    path = write(tmp_path, console_org())
    dry = cli(console_app, "apply", path, "--dry-run")
    assert [line for line in dry.splitlines() if line.startswith("conflict")] == CONFLICTS
    out = cli(console_app, "apply", path)
    assert [line for line in out.splitlines() if line.startswith("conflict")] == CONFLICTS
    assert "3 conflict(s)" in out
    assert view_grants(console_app, "case_manager") == ["contact.address", "identity.*",
                                                        "risk.*"]
    assert view_grants(console_app, "billing") == ["billing.*", "contact.phone",
                                                   "identity.name"]
    assert phone_decision(console_app) == "no_role_grant"
    assert len(open_edits(console_app)) == 3


def test_replace_console_edits_gives_the_file_its_version_back(console_app, tmp_path):
    edit_matrix(console_app)
    out = cli(console_app, "apply", write(tmp_path, console_org()), "--replace-console-edits")
    assert "conflict" not in out
    assert view_grants(console_app, "case_manager") == ["contact.*", "identity.*", "risk.*"]
    assert view_grants(console_app, "billing") == ["billing.*", "identity.name"]
    assert phone_decision(console_app) == "allowed"
    assert open_edits(console_app) == []
    with console_app.app_context():
        reasons = {e.end_reason for e in state(console_app).session.scalars(
            select(ConsoleGrantEdit))}
    assert reasons == {"replaced by the organisation file (--replace-console-edits)"}
    assert "conflict" not in cli(console_app, "apply", write(tmp_path, console_org()))


def test_the_export_holds_the_edits_and_applied_back_settles_them(console_app, tmp_path):
    edit_matrix(console_app)
    exported = yaml.safe_load(cli(console_app, "export"))
    grants = {r["id"]: r["grants"] for r in exported["roles"]}
    assert grants["case_manager"]["view"] == ["contact.address", "identity.*", "risk.*"]
    assert grants["billing"]["view"] == ["billing.*", "contact.phone", "identity.name"]
    out = cli(console_app, "apply", write(tmp_path, exported, "exported.yaml"))
    assert "conflict" not in out
    assert "grants.settle" in out
    assert open_edits(console_app) == []
    # The file owns those grants again: the old file, declared anew, puts contact.* back.
    out = cli(console_app, "apply", write(tmp_path, console_org()))
    assert "conflict" not in out
    assert view_grants(console_app, "case_manager") == ["contact.*", "identity.*", "risk.*"]
    assert phone_decision(console_app) == "allowed"


def test_editing_a_line_back_in_the_console_undoes_the_edit(console_app, tmp_path):
    edit_matrix(console_app)
    with console_app.app_context():
        EditRoleMatrix("ada", "view", [CellChange("billing", "contact.phone", False)], NOW
                       ).execute(state(console_app).session)
    assert open_edits(console_app) == [("case_manager", "contact.*", "remove"),
                                       ("case_manager", "contact.address", "add")]
    out = cli(console_app, "apply", write(tmp_path, console_org()))
    assert "billing" not in "".join(line for line in out.splitlines()
                                    if line.startswith("conflict"))
