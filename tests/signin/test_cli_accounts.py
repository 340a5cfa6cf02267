"""`user create-admin` and `user set-password`: argon2, audited, never echoed."""
from __future__ import annotations

import json

import pytest
import yaml

from governance.extension import state
from governance.models import Role, RoleAssignment, User
from governance.operations.local_accounts import ADMIN_ROLE
from governance.signin.powers import ADMIN, AUDITOR, REVIEWER, powers_of
from tests.conftest import NOW
from tests.signin.conftest import PASSWORD, audit_rows, sign_in


@pytest.fixture
def runner(console):
    return console.test_cli_runner()


def test_create_admin_makes_a_local_admin_who_can_sign_in(console, runner):
    result = runner.invoke(args=["governance", "user", "create-admin", "root-admin",
                                 "--name", "Ada Admin", "--password-stdin"],
                           input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    with console.app_context():
        session = state(console).session
        user = session.get(User, "root-admin")
        assert (user.source, user.active, user.name) == ("cli", True, "Ada Admin")
        assert user.password_hash.startswith("$argon2id$")
        assert [a.role_id for a in session.query(RoleAssignment).filter_by(
            user_id="root-admin")] == [ADMIN_ROLE]
        assert powers_of(session, "root-admin", NOW).names[:3] == [ADMIN, AUDITOR, REVIEWER]
    rows = audit_rows(console, "user.created") + audit_rows(console, "role.created")
    assert [r.kind for r in rows] == ["user.created", "role.created"]
    assert PASSWORD not in json.dumps([r.payload for r in rows])
    client = console.test_client()
    assert sign_in(client, "root-admin").status_code == 302
    assert "Administer" in client.get("/console/").get_data(as_text=True)


def test_a_second_admin_reuses_the_role_and_an_existing_id_is_refused(console, runner):
    for user_id in ("admin-one", "admin-two"):
        assert runner.invoke(args=["governance", "user", "create-admin", user_id],
                             input=PASSWORD + "\n").exit_code == 0
    again = runner.invoke(args=["governance", "user", "create-admin", "alice"],
                          input=PASSWORD + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert len(audit_rows(console, "role.created")) == 1


@pytest.mark.parametrize("user_id", ["bad id*", "_underscore_first", "a" * 65, "naïve"])
def test_an_admin_id_the_org_file_could_not_declare_is_refused(console, runner, user_id):
    """Else `export` would write a file that `apply` refuses."""
    result = runner.invoke(args=["governance", "user", "create-admin", user_id],
                           input=PASSWORD + "\n")
    assert result.exit_code == 1 and "as in the org file" in result.output, result.output
    with console.app_context():
        assert state(console).session.get(User, user_id) is None


def test_an_exported_admin_applies_again(console, runner, tmp_path):
    assert runner.invoke(args=["governance", "user", "create-admin", "ada.admin@example.org"],
                         input=PASSWORD + "\n").exit_code == 0
    exported = tmp_path / "org.yaml"
    assert runner.invoke(args=["governance", "export", "-o", str(exported)]).exit_code == 0
    dry = runner.invoke(args=["governance", "apply", str(exported), "--dry-run"])
    assert dry.exit_code == 0, dry.output


def leave_out_the_administrator(path) -> None:
    """The exported file, without ada and the governance_admin role."""
    org = yaml.safe_load(path.read_text())
    org["roles"] = [r for r in org["roles"] if r["id"] != ADMIN_ROLE]
    org["users"] = [u for u in org["users"] if u["id"] != "ada"]
    path.write_text(yaml.safe_dump(org))


def test_applying_an_export_never_takes_over_or_retires_the_administrators_role(
        console, runner, tmp_path):
    """An export lists the CLI's governance_admin role; applying it, then a file without it,
    leaves the role the CLI's and the first administrator still an administrator."""
    assert runner.invoke(args=["governance", "user", "create-admin", "ada"],
                         input=PASSWORD + "\n").exit_code == 0
    exported = tmp_path / "org.yaml"
    assert runner.invoke(args=["governance", "export", "-o", str(exported)]).exit_code == 0
    applied = runner.invoke(args=["governance", "apply", str(exported)])
    assert applied.exit_code == 0, applied.output
    assert f"conflict: role {ADMIN_ROLE} belongs to the cli; left as the cli keeps it" in \
        applied.output
    leave_out_the_administrator(exported)
    again = runner.invoke(args=["governance", "apply", str(exported)])
    assert again.exit_code == 0, again.output
    assert f"retire roles {ADMIN_ROLE}" not in again.output
    with console.app_context():
        session = state(console).session
        role = session.get(Role, ADMIN_ROLE)
        assert (role.source, role.retired_at) == ("cli", None)
        assert ADMIN in powers_of(session, "ada", NOW)
    assert sign_in(console.test_client(), "ada").status_code == 302


def test_an_administrators_role_an_earlier_apply_took_over_is_still_never_retired(
        console, runner, tmp_path):
    """Before ccc3781 an apply of an export made governance_admin the file's; such a role is
    not retired by a file that leaves it out either."""
    assert runner.invoke(args=["governance", "user", "create-admin", "ada"],
                         input=PASSWORD + "\n").exit_code == 0
    exported = tmp_path / "org.yaml"
    assert runner.invoke(args=["governance", "export", "-o", str(exported)]).exit_code == 0
    with console.app_context():
        session = state(console).session
        session.get(Role, ADMIN_ROLE).source = "file"
        session.commit()
    leave_out_the_administrator(exported)
    applied = runner.invoke(args=["governance", "apply", str(exported)])
    assert applied.exit_code == 0, applied.output
    assert f"conflict: role {ADMIN_ROLE} is the first administrator's; left live" in \
        applied.output
    with console.app_context():
        assert state(console).session.get(Role, ADMIN_ROLE).retired_at is None
        assert ADMIN in powers_of(state(console).session, "ada", NOW)


def test_short_passwords_are_refused(console, runner):
    result = runner.invoke(args=["governance", "user", "create-admin", "shorty"],
                           input="tooshort\n")
    assert result.exit_code == 1 and "at least 15 characters" in result.output
    assert "tooshort" not in result.output
    with console.app_context():
        assert state(console).session.get(User, "shorty") is None


def test_set_password_changes_it_and_audits_without_the_password(console, runner):
    new = "a brand new pass phrase"
    result = runner.invoke(args=["governance", "user", "set-password", "alice"],
                           input=new + "\n")
    assert result.exit_code == 0, result.output
    assert new not in result.output
    client = console.test_client()
    assert sign_in(client, "alice").status_code == 200  # the old one no longer works
    assert sign_in(client, "alice", new).status_code == 302
    row = audit_rows(console, "user.password_set")[-1]
    assert row.subject == "alice" and new not in row.payload


def test_set_password_refuses_directory_users_and_unknown_ones(console, runner):
    with console.app_context():
        state(console).session.get(User, "sam").source = "directory"
        state(console).session.commit()
    refused = runner.invoke(args=["governance", "user", "set-password", "sam"],
                            input=PASSWORD + "\n")
    assert refused.exit_code == 1 and "directory" in refused.output
    unknown = runner.invoke(args=["governance", "user", "set-password", "ghost"],
                            input=PASSWORD + "\n")
    assert unknown.exit_code == 1 and "no user 'ghost'" in unknown.output
