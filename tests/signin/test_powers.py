"""Console powers come from live role assignments; the server checks them on every page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extension import state
from governance.models import Role, RoleAssignment
from governance.signin.powers import (
    ADMIN,
    APPROVER,
    AUDITOR,
    EVERY_USER,
    REVIEWER,
    powers_of,
)
from governance.signin.session import power_required
from tests.conftest import NOW
from tests.signin.conftest import set_password, sign_in


def give_console(app, role_id: str, powers: list[str]) -> None:
    with app.app_context():
        state(app).session.get(Role, role_id).console = powers
        state(app).session.commit()


def powers(app, user_id: str, withdrawn=()) -> list[str]:
    with app.app_context():
        return powers_of(state(app).session, user_id, NOW, withdrawn).names


@pytest.mark.parametrize(("user", "expected"), [
    ("alice", list(EVERY_USER)),                          # case_manager: nothing more
    ("rita", [AUDITOR, *EVERY_USER]),                     # records: console [auditor]
    ("sam", [REVIEWER, APPROVER, *EVERY_USER]),           # supervisor approves, reviews
    ("olga", list(EVERY_USER)),                           # supervisor until 2026-06-30: over
    ("paul", list(EVERY_USER)),                           # supervisor from 2027: not yet
    ("lee", []),                                          # inactive: nothing at all
    ("nobody", []),
])
def test_powers_follow_live_assignments(console, user, expected):
    give_console(console, "records", [AUDITOR])
    give_console(console, "supervisor", [REVIEWER])
    assert powers(console, user) == expected


def test_ended_assignments_and_retired_roles_give_nothing(console):
    give_console(console, "records", [ADMIN])
    assert ADMIN in powers(console, "rita")
    with console.app_context():
        session = state(console).session
        session.get(Role, "records").retired_at = NOW
        session.commit()
    assert ADMIN not in powers(console, "rita")


def test_directory_assignments_withdrawn_at_sign_in_count_for_nothing(console):
    give_console(console, "records", [ADMIN])
    with console.app_context():
        session = state(console).session
        row = session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == "rita"))
        row.source = "directory"
        session.commit()
    assert ADMIN in powers(console, "rita")
    assert ADMIN not in powers(console, "rita", withdrawn=[("records", None)])


@pytest.fixture
def admin_page(make_console):
    app = make_console()

    @power_required(ADMIN)
    def role_matrix():
        return "the matrix"

    app.add_url_rule("/console/test-admin", "test_admin", role_matrix)
    return app


def test_a_page_needing_admin_is_a_403_for_others_and_opens_for_admins(admin_page):
    client = admin_page.test_client()
    assert client.get("/console/test-admin").status_code == 302  # not signed in
    sign_in(client, "alice")
    assert client.get("/console/test-admin").status_code == 403
    give_console(admin_page, "case_manager", [ADMIN])  # checked again on every request
    assert client.get("/console/test-admin").get_data(as_text=True) == "the matrix"


def test_home_lists_the_powers_the_roles_give(console):
    give_console(console, "records", [AUDITOR])
    set_password(console, "rita")
    client = console.test_client()
    sign_in(client, "rita")
    page = client.get("/console/").get_data(as_text=True)
    assert "Audit: audit trail" in page and "Administer" not in page
