"""Console sign-in of directory users: an LDAP bind as themselves against a real slapd, their
entry read again at sign-in (gone, locked or someone else's: refused before any sync)."""
from __future__ import annotations

import json

import pytest

from governance.directory.connection import DirectorySettings
from governance.extension import state
from governance.models import AuditEvent, User
from governance.signin import directory_bind
from governance.signin.sign_in import REFUSAL
from tests.conftest import apply_file
from tests.signin.conftest import ROOMY_LIMITS, sign_in

PASSWORD = "ann's directory passphrase"


def ldap_config(server) -> dict:
    return {"GOVERNANCE_LDAP_URL": server.url, "GOVERNANCE_LDAP_START_TLS": True,
            "GOVERNANCE_LDAP_CA_FILE": server.ca_file,
            "GOVERNANCE_LDAP_BIND_DN": server.reader_dn,
            "GOVERNANCE_LDAP_BIND_PASSWORD": server.reader_password,
            "GOVERNANCE_LDAP_USER_BASE": server.people_dn,
            "GOVERNANCE_LDAP_GROUP_BASE": server.groups_dn}


@pytest.fixture
def directory_app(slapd, make_app, backend):
    """ann, a supervisor in housing by her group, synced in; her password is in slapd only."""
    app = make_app(backend, **ldap_config(slapd), **ROOMY_LIMITS)
    apply_file(app, "directory_org.yaml")
    dn = slapd.add_user("ann", cn="Ann Person", mail="ann@example.org", password=PASSWORD)
    slapd.add_group("housing-sup", [dn])
    for cn in ("housing-cm", "records"):
        slapd.add_group(cn)
    result = app.test_cli_runner().invoke(args=["governance", "directory", "sync"])
    assert result.exit_code == 0, result.output
    return app


def last_failure(app) -> dict:
    with app.app_context():
        row = state(app).session.query(AuditEvent).filter_by(kind="signin.failed").order_by(
            AuditEvent.seq.desc()).first()
        return json.loads(row.payload)


def test_a_directory_user_signs_in_with_the_directory_password(directory_app):
    client = directory_app.test_client()
    assert sign_in(client, "ann", PASSWORD).status_code == 302
    page = client.get("/console/").get_data(as_text=True)
    assert "Ann Person" in page and "Review: access reviews" in page
    with directory_app.app_context():
        ann = state(directory_app).session.get(User, "ann")
        assert ann.password_hash is None and ann.last_sign_in_at is not None


def test_a_wrong_directory_password_is_refused_and_counted(directory_app):
    response = sign_in(directory_app.test_client(), "ann", "not ann's password")
    assert REFUSAL in response.get_data(as_text=True)
    assert last_failure(directory_app) == {"user": "ann", "address": "127.0.0.1",
                                           "reason": "wrong_password", "failures": 1}


def test_an_entry_locked_in_the_directory_is_refused_before_the_next_sync(directory_app,
                                                                          slapd):
    slapd.lock_user("ann")
    response = sign_in(directory_app.test_client(), "ann", PASSWORD)
    assert REFUSAL in response.get_data(as_text=True)
    assert last_failure(directory_app)["reason"] == "directory_disabled"


def test_a_user_deleted_from_the_directory_is_refused_before_the_next_sync(directory_app,
                                                                           slapd):
    slapd.delete(slapd.user_dn("ann"))
    response = sign_in(directory_app.test_client(), "ann", PASSWORD)
    assert REFUSAL in response.get_data(as_text=True)
    assert last_failure(directory_app)["reason"] == "not_in_directory"


def test_another_entry_behind_the_same_id_is_refused(directory_app, slapd):
    slapd.delete(slapd.user_dn("ann"))
    slapd.add_user("ann", cn="Another Ann", password=PASSWORD)  # a new entryUUID
    response = sign_in(directory_app.test_client(), "ann", PASSWORD)
    assert REFUSAL in response.get_data(as_text=True)
    assert last_failure(directory_app)["reason"] == "directory_mismatch"


def test_a_group_left_since_the_sync_gives_no_power_at_sign_in(directory_app, slapd):
    slapd.set_members("housing-sup", [])
    client = directory_app.test_client()
    assert sign_in(client, "ann", PASSWORD).status_code == 302
    page = client.get("/console/").get_data(as_text=True)
    assert "Review: access reviews" not in page and "Approve" not in page
    with directory_app.app_context():
        row = state(directory_app).session.query(AuditEvent).filter_by(
            kind="signin.succeeded").one()
        assert json.loads(row.payload)["withdrawn"] == [["supervisor", "housing"]]


def test_an_unreachable_directory_refuses_with_a_503_and_says_so(directory_app, slapd):
    slapd.stop()
    response = sign_in(directory_app.test_client(), "ann", PASSWORD)
    assert response.status_code == 503
    assert "directory cannot be reached" in response.get_data(as_text=True)
    assert last_failure(directory_app)["reason"] == "directory_unavailable"


@pytest.mark.parametrize("hostile", ["*", "*)(uid=*", "ann)(|(uid=*", "ann\x00", "a*"])
def test_hostile_ids_never_widen_the_search(slapd, hostile):
    """The filter escapes every value: with ann the only person, no wildcard finds her."""
    slapd.add_user("ann", password=PASSWORD)
    settings = DirectorySettings.from_config(
        {**ldap_config(slapd), "GOVERNANCE_LDAP_USER_FILTER": "(objectClass=inetOrgPerson)",
         "GOVERNANCE_LDAP_USER_ID_ATTR": "uid",
         "GOVERNANCE_LDAP_GROUP_FILTER": "(objectClass=groupOfNames)"})
    check = directory_bind.check_directory_password(settings, hostile, None, PASSWORD)
    assert check.outcome == directory_bind.NOT_IN_DIRECTORY
    assert directory_bind.check_directory_password(settings, "ann", None, PASSWORD).outcome == (
        directory_bind.ACCEPTED)


def test_an_empty_password_never_reaches_a_bind(directory_app, slapd):
    slapd.stop()  # were a bind attempted, this would be a 503, not a 400
    response = sign_in(directory_app.test_client(), "ann", "")
    assert response.status_code == 400
    assert last_failure(directory_app)["reason"] == "empty_password"


def test_active_directory_accounts_disabled_by_user_account_control_are_refused(slapd):
    slapd.add_user("adam", password=PASSWORD, ad=True)
    slapd.add_user("dora", password=PASSWORD, ad=True, userAccountControl=512 | 2)
    settings = DirectorySettings.from_config(
        {**ldap_config(slapd), "GOVERNANCE_LDAP_USER_FILTER": "(objectClass=adTestUser)",
         "GOVERNANCE_LDAP_USER_ID_ATTR": "sAMAccountName",
         "GOVERNANCE_LDAP_GROUP_FILTER": "(objectClass=groupOfNames)"})
    assert directory_bind.check_directory_password(settings, "adam", None, PASSWORD).outcome == (
        directory_bind.ACCEPTED)
    assert directory_bind.check_directory_password(settings, "dora", None, PASSWORD).outcome == (
        directory_bind.DIRECTORY_DISABLED)
    other_guid = "00000000-0000-4000-8000-000000000000"
    assert directory_bind.check_directory_password(settings, "adam", other_guid,
                                                   PASSWORD).outcome == (
        directory_bind.DIRECTORY_MISMATCH)
