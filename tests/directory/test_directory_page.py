"""The console's Directory page against a real slapd, on both stores: the connection and the
last sync as they are, the group mappings, the people list (filters, pages), and a preview and
a sync from the console (through the CLI's operation, audited, the administrator named), with
the refusals: another power, no CSRF token, a stale sign-in, an unreachable directory."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from governance.extension import state
from governance.models import AuditEvent, RoleAssignment, User
from governance.operations.users import DisableUser
from tests.conftest import NOW
from tests.console.conftest import console_org, make_console_app
from tests.directory.sync_support import ldap_config
from tests.signin.conftest import csrf_token, sign_in

PAGE = "/console/directory"


def directory_org(server) -> dict:
    org = console_org()
    org["directory"] = {"group_roles": [
        {"group": server.group_dn("housing-sup"), "role": "supervisor", "program": "housing"},
        {"group": server.group_dn("records"), "role": "compliance", "authoritative": True}]}
    return org


@pytest.fixture
def synced(make_app, backend, slapd):
    """The console org with two directory groups mapped, and a slapd with dora in one."""
    app = make_console_app(make_app, backend, directory_org(slapd), **ldap_config(slapd))
    dora = slapd.add_user("dora", "Dora Dir", "dora@example.org")
    slapd.add_group("housing-sup", [dora])
    slapd.add_group("records")
    app.slapd = slapd
    return app


def admin(app):
    client = app.test_client()
    assert sign_in(client, "ada").status_code == 302
    return client


def users(app) -> dict[str, User]:
    with app.app_context():
        return {u.id: u for u in state(app).session.scalars(select(User))}


def post(client, path: str, token: str | None = "", **data):
    if token is not None:
        data["csrf_token"] = token or csrf_token(client, PAGE)
    return client.post(path, data=data)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_a_partly_configured_directory_names_what_is_missing(make_app, backend):
    app = make_console_app(make_app, backend, GOVERNANCE_LDAP_URL="ldaps://ldap.example.org")
    page = text(admin(app).get(PAGE))
    assert ("The directory is only partly configured: set GOVERNANCE_LDAP_USER_BASE, "
            "GOVERNANCE_LDAP_GROUP_BASE too.") in page
    assert "No directory is configured" not in page


def test_without_a_directory_the_page_says_so_and_lists_people(make_app, backend):
    app = make_console_app(make_app, backend)
    client = admin(app)
    page = text(client.get(PAGE))
    assert "No directory is configured" in page and "GOVERNANCE_LDAP_URL" in page
    assert page.count("configured") == 1  # said once, not once per panel
    assert "The directory has not been synced yet." in page
    # The file's mapping is shown even with no directory to read it from.
    assert "cn=housing-case-managers,ou=groups,dc=example,dc=org" in page
    assert 'name="preview"' not in page  # nothing to sync from
    assert '<span class="person">Ada Admin</span><br><code>ada</code>' in page
    total = len(users(app))
    assert f"People <span class=\"count\">({total})</span>" in page
    only = text(client.get(PAGE, query_string={"q": "admin"}))
    assert "<br><code>ada</code>" in only and "<br><code>cora</code>" not in only
    assert "People <span class=\"count\">(1)</span>" in only
    wildcard = text(client.get(PAGE, query_string={"q": "%"}))  # a character, not "anything"
    assert "People <span class=\"count\">(0)</span>" in wildcard and "No one matches." in wildcard


def test_people_filter_by_status_and_pages(make_app, backend):
    app = make_console_app(make_app, backend)
    with app.app_context():
        DisableUser("nick", actor="ada", reason="left the agency", now=NOW).execute(
            state(app).session)
    client = admin(app)
    disabled = text(client.get(PAGE, query_string={"status": "disabled"}))
    assert "<br><code>nick</code>" in disabled and "<br><code>ada</code>" not in disabled
    assert "by <code>ada</code>: left the agency" in disabled
    first = text(client.get(PAGE))
    if len(users(app)) > 50:
        assert "Page 1 of" in first and 'rel="next"' in first
        second = text(client.get(PAGE, query_string={"page": "2"}))
        assert "Page 2 of" in second
    odd = client.get(PAGE, query_string={"page": "x" * 20, "status": "nonsense"})
    assert odd.status_code == 200  # an unreadable page or status is the first page, any status


def test_only_administrators_open_it(make_app, backend):
    app = make_console_app(make_app, backend)
    client = app.test_client()
    assert client.get(PAGE).status_code == 302  # to the sign-in page
    assert sign_in(client, "cora").status_code == 302
    assert client.get(PAGE).status_code == 403
    assert client.post(f"{PAGE}/preview", data={"csrf_token": csrf_token(client, "/console/")}
                       ).status_code == 403


def test_preview_writes_nothing_then_sync_applies_and_is_audited(synced):
    client = admin(synced)
    page = text(client.get(PAGE))
    assert "StartTLS, certificate checked" in page
    assert synced.slapd.group_dn("housing-sup") in page
    assert "Yes: the sync also ends this role" in page  # records is authoritative
    preview = post(client, f"{PAGE}/preview")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    body = text(preview)
    assert "Sync preview" in body and "Nothing was written." in body and "dora" in body
    assert "dora" not in users(synced)

    applied = post(client, f"{PAGE}/sync")
    assert applied.status_code == 200, applied.get_data(as_text=True)
    assert "Sync applied" in text(applied)
    assert "directory sync applied" in text(applied)
    dora = users(synced)["dora"]
    assert dora.source == "directory" and dora.active and dora.email == "dora@example.org"
    with synced.app_context():
        session = state(synced).session
        held = session.scalars(select(RoleAssignment).where(
            RoleAssignment.user_id == "dora", RoleAssignment.ended_at.is_(None))).all()
        assert [(a.role_id, a.program_id) for a in held] == [("supervisor", "housing")]
        synced_row = session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "directory.synced")).one()
        assert synced_row.actor == "directory"
        assert json.loads(synced_row.payload)["started_by"] == "ada"
    after = text(client.get(PAGE))
    assert "Last full sync" in after and "1 join" in after


def test_sync_refused_without_csrf_or_a_fresh_sign_in(synced):
    client = admin(synced)
    assert post(client, f"{PAGE}/sync", token=None).status_code == 400
    assert post(client, f"{PAGE}/preview", token=None).status_code == 400
    assert "dora" not in users(synced)
    token = csrf_token(client, PAGE)
    synced.clock.advance(minutes=int(synced.config["GOVERNANCE_FRESH_SIGN_IN_MINUTES"]) + 1)
    stale = client.post(f"{PAGE}/sync", data={"csrf_token": token})
    assert stale.status_code == 302 and "/console/sign-in" in stale.headers["Location"]
    assert "dora" not in users(synced)
    # Signed in again, the sign-in page returns to the page (a GET), which leads back home.
    assert client.get(f"{PAGE}/sync").headers["Location"].endswith(PAGE)


def test_an_unreachable_directory_changes_nothing(synced):
    client = admin(synced)
    synced.slapd.stop()
    for path in (f"{PAGE}/preview", f"{PAGE}/sync"):
        refused = post(client, path)
        assert refused.status_code == 503, refused.get_data(as_text=True)
        assert "Nothing was changed" in text(refused)
    assert "dora" not in users(synced)
