"""The directory sync against a real slapd (contract section 8), on both stores; the setup
is tests/directory/sync_support.py's. Here: the circuit breaker, a directory going down,
conflicts with the file, reviews and administrators, hostile ids, refused settings and
certificates, and the provisioning lock shared with apply.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.db import DIRECTORY
from governance.directory.connection import DirectorySettings
from governance.extension import state
from governance.models import RoleAssignment, User
from governance.operations.directory_sync import SyncDirectory
from governance.operations.users import DisableUser
from tests.conftest import NOW, apply_file

from .sync_support import MAPPED, Directory, ldap_config


def test_an_authoritative_mapping_ends_grants_made_elsewhere_and_others_are_left(directory):
    directory.people("ann", records=["ann"])
    directory.sync()
    # fiona's records role came from the file, but the directory is authoritative for it;
    # her case_manager role (not authoritative) is left to the file.
    assert directory.roles("fiona") == {("case_manager", "housing", "file")}
    assert directory.roles("ann") == {("records", None, DIRECTORY)}
    with directory.app.app_context():
        ended = state(directory.app).session.scalar(select(RoleAssignment).where(
            RoleAssignment.user_id == "fiona", RoleAssignment.role_id == "records"))
        assert ended.ended_via == DIRECTORY
        assert ended.end_reason == "the directory is authoritative for records -"


def test_a_review_revoke_and_an_administrators_disable_are_not_undone(directory):
    directory.people("ann", "ben", housing_sup=["ann"], housing_cm=["ben"])
    directory.sync()
    with directory.app.app_context():
        session = state(directory.app).session
        held = session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == "ann"))
        held.end(NOW, "rita", "workflow", "access review rvc_1: revoke")
        session.commit()
        DisableUser("ben", "carl", "left the agency", NOW).execute(session)
    output = directory.sync()
    assert "conflict: assignment supervisor housing of ann was ended on" in output
    assert "by rita (workflow); left ended" in output
    assert "conflict: user ben was disabled on" in output and "left disabled" in output
    assert directory.roles("ann") == set() and not directory.user("ben").active
    assert directory.audit_kinds().count("directory.conflict") == 2


def test_the_file_user_with_a_directory_namesake_is_not_taken_over(directory):
    directory.people("fiona", housing_sup=["fiona"])
    output = directory.sync()
    assert "conflict: user fiona of the directory" in output and "owned by file" in output
    assert directory.user("fiona").source == "file"
    assert ("supervisor", "housing", DIRECTORY) not in directory.roles("fiona")


def test_a_mass_leave_is_held_by_the_circuit_breaker(directory):
    uids = [f"u{i}" for i in range(7)]
    directory.people(*uids, housing_cm=uids)
    directory.sync()
    for uid in uids[:6]:
        directory.server.delete(directory.server.user_dn(uid))
    before = directory.audit_kinds()
    output = directory.sync(ok=False)
    assert "would disable 6 users, more than the limit of 5" in output
    assert "--allow-mass-leave" in output and directory.audit_kinds() == before
    assert all(directory.user(u).active for u in uids)
    assert "leave: 6" in directory.sync("--allow-mass-leave")


def test_a_directory_that_goes_down_mid_sync_changes_nothing(directory):
    directory.people("ann", housing_cm=["ann"])
    before = directory.audit_kinds()

    def stop_after_groups(what: str, _n: int) -> None:
        if what == "groups":
            directory.server.stop()

    with directory.app.app_context():
        st = state(directory.app)
        operation = SyncDirectory(DirectorySettings.from_config(st.config), NOW,
                                  progress=stop_after_groups)
        with pytest.raises(Exception) as failed:
            operation.execute(st.session)
    assert "directory" in str(failed.value).lower()
    assert directory.user("ann") is None and directory.audit_kinds() == before
    output = directory.sync(ok=False)  # still down: a message and a non-zero exit
    assert "cannot be used" in output
    directory.server.start()
    directory.sync()
    assert directory.user("ann").active


def test_hostile_ids_never_become_accounts(directory):
    server = directory.server
    server.add_user("ann")
    server.add(f"dn: cn=hostile,{server.people_dn}\nobjectClass: inetOrgPerson\ncn: hostile\n"
               f"sn: x\nuid: *)(uid=*\n")
    directory.sync()
    with directory.app.app_context():
        ids = set(state(directory.app).session.scalars(select(User.id)))
    assert "ann" in ids and not any("*" in i or "(" in i for i in ids)
    assert "directory.conflict" in directory.audit_kinds()


def test_an_apply_leaves_directory_assignments_alone(directory):
    directory.people("ann", housing_sup=["ann"])
    directory.sync()
    apply_file(directory.app, "directory_org.yaml", now=NOW + timedelta(minutes=1))
    assert directory.roles("ann") == {("supervisor", "housing", DIRECTORY)}


def test_the_settings_refuse_plain_ldap_to_another_host():
    with pytest.raises(RuntimeError, match="START_TLS"):
        DirectorySettings.from_config({
            "GOVERNANCE_LDAP_URL": "ldap://ldap.example.org", "GOVERNANCE_LDAP_USER_BASE": "x",
            "GOVERNANCE_LDAP_GROUP_BASE": "y", "GOVERNANCE_LDAP_USER_FILTER": "(uid=*)",
            "GOVERNANCE_LDAP_USER_ID_ATTR": "uid", "GOVERNANCE_LDAP_GROUP_FILTER": "(cn=*)"})


def test_a_mapped_group_missing_from_the_directory_changes_nothing_it_grants(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    directory.server.delete(directory.server.group_dn("records"))
    directory.server.delete(directory.server.group_dn("housing-cm"))
    output = directory.sync()
    assert "skipped: group cn=housing-cm,ou=groups,dc=example,dc=org (mapped to case_manager " \
           "housing) is not in the directory" in output
    assert directory.roles("ann") == {("case_manager", "housing", DIRECTORY)}


def test_a_certificate_from_another_ca_is_refused(slapd, make_app):
    app = make_app("sqlite", **ldap_config(slapd, GOVERNANCE_LDAP_CA_FILE=slapd.other_ca_file))
    apply_file(app, "directory_org.yaml")
    output = Directory(app, slapd).sync(ok=False)
    assert "cannot be used" in output


def test_a_sync_waits_for_an_apply_holding_the_provisioning_lock(slapd, make_app):
    """Serialised with apply: a sync started while another transaction holds the lock (as an
    apply does while it reconciles) changes nothing until that transaction ends."""
    import threading

    from sqlalchemy.orm import Session

    from governance.operations.state import provisioning_lock

    app = make_app("postgres", **ldap_config(slapd))
    apply_file(app, "directory_org.yaml")
    for cn in MAPPED:
        slapd.add_group(cn)
    slapd.add_user("ann")
    done = threading.Event()

    def sync() -> None:
        with app.app_context():
            st = state(app)
            SyncDirectory(DirectorySettings.from_config(st.config), NOW).execute(st.session)
            done.set()

    with app.app_context():
        holder = Session(state(app).db.engine)
        provisioning_lock(holder)
        worker = threading.Thread(target=sync)
        worker.start()
        assert not done.wait(1.5)  # blocked behind the lock
        holder.rollback()
        holder.close()
    worker.join(30)
    assert done.is_set() and Directory(app, slapd).user("ann") is not None
