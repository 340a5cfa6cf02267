"""The directory sync against a real slapd (contract section 8), on both stores.

Each test starts its own slapd (tests/directory/slapd.py) and an app whose org file maps
``housing-cm`` to case_manager, ``housing-sup`` to supervisor and ``records`` (authoritative)
to records; fiona and carl are the file's users.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from governance.db import DIRECTORY
from governance.directory.connection import DirectorySettings
from governance.extension import state
from governance.models import AuditEvent, Override, RoleAssignment, User
from governance.notify import MemoryNotifier
from governance.operations.directory_sync import SyncDirectory
from governance.operations.elevation import OverrideRequest, RequestOverride
from governance.operations.users import DisableUser
from tests.conftest import NOW, apply_file


def ldap_config(server, **extra) -> dict:
    return {"GOVERNANCE_LDAP_URL": server.url, "GOVERNANCE_LDAP_START_TLS": True,
            "GOVERNANCE_LDAP_CA_FILE": server.ca_file,
            "GOVERNANCE_LDAP_BIND_DN": server.reader_dn,
            "GOVERNANCE_LDAP_BIND_PASSWORD": server.reader_password,
            "GOVERNANCE_LDAP_USER_BASE": server.people_dn,
            "GOVERNANCE_LDAP_GROUP_BASE": server.groups_dn, **extra}


MAPPED = ("housing-cm", "housing-sup", "records")


@pytest.fixture
def directory(slapd, make_app, backend):
    """The app, its org file applied, and the slapd it syncs from (the mapped groups empty)."""
    app = make_app(backend, **ldap_config(slapd))
    apply_file(app, "directory_org.yaml")
    for cn in MAPPED:
        slapd.add_group(cn)
    return Directory(app, slapd)


class Directory:
    def __init__(self, app, server):
        self.app, self.server = app, server

    def sync(self, *flags: str, ok: bool = True):
        result = self.app.test_cli_runner().invoke(args=["governance", "directory", "sync",
                                                         *flags])
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    def roles(self, user: str) -> set[tuple[str, str | None, str]]:
        with self.app.app_context():
            session = state(self.app).session
            return {(a.role_id, a.program_id, a.source) for a in session.scalars(
                select(RoleAssignment).where(RoleAssignment.user_id == user,
                                             RoleAssignment.ended_at.is_(None)))}

    def user(self, user_id: str) -> User | None:
        with self.app.app_context():
            user = state(self.app).session.get(User, user_id)
            if user is not None:
                state(self.app).session.expunge(user)
            return user

    def audit_kinds(self) -> list[str]:
        with self.app.app_context():
            return list(state(self.app).session.scalars(
                select(AuditEvent.kind).order_by(AuditEvent.seq)))

    def people(self, *uids: str, **groups: list[str]) -> None:
        for uid in uids:
            self.server.add_user(uid, cn=f"{uid.title()} Person", mail=f"{uid}@example.org")
        for cn, members in groups.items():
            self.server.set_members(cn.replace("_", "-"), [self.server.user_dn(m)
                                                          for m in members])


def test_joiner_mover_and_leaver(directory):
    directory.people("ann", "ben", housing_cm=["ann", "ben"], housing_sup=["ben"])
    output = directory.sync()
    assert "join: 2" in output and "grant: 3" in output
    assert directory.roles("ann") == {("case_manager", "housing", DIRECTORY)}
    assert directory.roles("ben") == {("case_manager", "housing", DIRECTORY),
                                      ("supervisor", "housing", DIRECTORY)}
    ann = directory.user("ann")
    assert (ann.source, ann.active, ann.name, ann.email) == (DIRECTORY, True, "Ann Person",
                                                             "ann@example.org")
    assert ann.directory_uuid and ann.directory_dn == directory.server.user_dn("ann")

    directory.server.set_members("housing-sup", [directory.server.user_dn("ann")])
    directory.sync()
    assert ("supervisor", "housing", DIRECTORY) in directory.roles("ann")
    assert directory.roles("ben") == {("case_manager", "housing", DIRECTORY)}

    directory.server.delete(directory.server.user_dn("ben"))
    output = directory.sync()
    assert "leave: 1" in output
    ben = directory.user("ben")
    assert not ben.active and ben.disabled_via == DIRECTORY
    assert ben.disabled_reason == "gone from the directory"
    assert directory.roles("ben") == set()
    kinds = directory.audit_kinds()
    assert kinds.count("directory.join") == 2 and "directory.leave" in kinds
    assert kinds.count("directory.synced") == 3 and "user.disabled" in kinds


def test_a_second_sync_without_changes_changes_nothing(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    rows = len(directory.audit_kinds())
    output = directory.sync()
    assert " 0 change(s) applied" in output
    assert directory.audit_kinds()[rows:] == ["directory.synced"]


def test_dry_run_prints_one_line_per_change_and_writes_nothing(directory):
    directory.people("ann", housing_cm=["ann"])
    before = directory.audit_kinds()
    output = directory.sync("--dry-run")
    assert "join ann (Ann Person)" in output
    assert "grant ann case_manager housing (member of cn=housing-cm,ou=groups," in output
    assert "end fiona records - (the directory is authoritative for records -)" in output
    assert "change(s) would be made; nothing was written" in output
    assert directory.user("ann") is None and directory.audit_kinds() == before


def test_a_member_that_points_at_nothing_grants_nothing(directory):
    directory.people("ann")
    directory.server.set_members("housing-sup", [directory.server.user_dn("ann"),
                                                 "uid=ghost,ou=people,dc=example,dc=org"])
    directory.sync()
    assert directory.user("ghost") is None
    assert directory.roles("ann") == {("supervisor", "housing", DIRECTORY)}


def test_a_locked_entry_is_a_leaver_and_returns_when_unlocked(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    with directory.app.app_context():
        RequestOverride("ann", OverrideRequest.from_json({
            "program": "housing", "fields": ["identity.*"], "actions": ["view"],
            "reason": "cover", "minutes": 30}), NOW, notifier=MemoryNotifier()
        ).execute(state(directory.app).session)
    directory.server.lock_user("ann")
    directory.sync()
    ann = directory.user("ann")
    assert not ann.active and ann.disabled_reason == "disabled in the directory"
    with directory.app.app_context():
        request = state(directory.app).session.scalar(select(Override))
        assert request.status == "denied"  # the pending request was refused
    directory.server.unlock_user("ann")
    directory.sync()
    assert directory.user("ann").active
    assert directory.roles("ann") == {("case_manager", "housing", DIRECTORY)}


def test_a_rename_keeps_the_account_and_its_grants(directory):
    directory.people("ann", housing_sup=["ann"])
    directory.sync()
    uuid = directory.user("ann").directory_uuid
    directory.server.rename_user("ann", "anne")
    output = directory.sync()
    assert "rename: 1" in output
    assert directory.user("ann") is None
    anne = directory.user("anne")
    assert anne.directory_uuid == uuid and anne.directory_dn == directory.server.user_dn("anne")
    assert directory.roles("anne") == {("supervisor", "housing", DIRECTORY)}


def test_nested_groups_are_followed_when_asked_and_a_cycle_ends(slapd, make_app, backend):
    app = make_app(backend, **ldap_config(slapd, GOVERNANCE_LDAP_NESTED_GROUPS=True))
    apply_file(app, "directory_org.yaml")
    directory = Directory(app, slapd)
    directory.people("ann")
    inner, outer = slapd.group_dn("team-a"), slapd.group_dn("housing-sup")
    slapd.add_group("team-a", [slapd.user_dn("ann")])
    slapd.add_group("housing-sup", [inner])
    slapd.add_group("housing-cm")
    slapd.add_group("records")
    slapd.set_members("team-a", [slapd.user_dn("ann"), outer])  # a cycle
    directory.sync()
    assert directory.roles("ann") == {("supervisor", "housing", DIRECTORY)}


def test_nested_groups_are_not_followed_by_default(directory):
    server = directory.server
    directory.people("ann")
    server.add_group("team-a", [server.user_dn("ann")])
    server.set_members("housing-sup", [server.group_dn("team-a")])
    directory.sync()
    assert directory.roles("ann") == set()


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


def test_changed_only_reads_what_changed_and_a_full_sync_finds_the_deleted(directory):
    directory.people("ann", "ben", housing_cm=["ann", "ben"])
    first = directory.sync("--changed-only")  # nothing remembered yet: a full sync
    assert "Directory sync (full, " in first
    directory.server.add_user("cat", cn="Cat Person")
    directory.server.replace(directory.server.user_dn("ann"), mail="ann@new.example.org")
    directory.server.set_members("housing-cm", [directory.server.user_dn("ann"),
                                                directory.server.user_dn("cat")])
    directory.server.delete(directory.server.user_dn("ben"))
    output = directory.sync("--changed-only")
    assert "Directory sync (changed-only, " in output
    assert directory.roles("cat") == {("case_manager", "housing", DIRECTORY)}
    assert directory.user("ann").email == "ann@new.example.org"
    # ben left his group, so his role ended at once; that he is gone, the full sync sees.
    assert directory.roles("ben") == set() and directory.user("ben").active
    assert "leave: 1" in directory.sync()
    assert not directory.user("ben").active


def test_changed_only_is_a_full_sync_after_a_day_without_one(directory):
    directory.people("ann", housing_cm=["ann"])
    directory.sync()
    state(directory.app).clock = lambda: NOW + timedelta(days=1, minutes=1)
    assert "Directory sync (full, " in directory.sync("--changed-only")


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


def test_active_directory_dialect_reads_samaccountname_guid_and_disabled_flag(
        slapd, make_app, backend):
    app = make_app(backend, **ldap_config(
        slapd, GOVERNANCE_LDAP_USER_ID_ATTR="sAMAccountName",
        GOVERNANCE_LDAP_USER_FILTER="(objectClass=adTestUser)"))
    apply_file(app, "directory_org.yaml")
    directory = Directory(app, slapd)
    for cn in MAPPED:
        slapd.add_group(cn, ad=True)
    for uid in ("ann", "ben"):
        slapd.add_user(uid, cn=f"{uid.title()} Person", ad=True)
    slapd.add_user("plain")  # not an AD user: outside the filter
    slapd.set_members("housing-cm", [slapd.user_dn("ann"), slapd.user_dn("ben")])
    directory.sync()
    ann = directory.user("ann")
    assert ann.directory_uuid and len(ann.directory_uuid) == 36  # objectGUID as a UUID
    assert directory.user("plain") is None
    slapd.replace(slapd.user_dn("ben"), userAccountControl=514, uSNChanged=slapd.next_usn())
    output = directory.sync("--changed-only")
    assert "changed-only" in output
    assert not directory.user("ben").active and directory.user("ann").active
    assert directory.user("ben").disabled_reason == "disabled in the directory"


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


def test_a_server_size_limit_below_the_directory_is_paged_through(slapd_small_limit, make_app):
    """slapd answers at most 5 entries to a plain search; the sync pages and reads all 12."""
    server = slapd_small_limit
    app = make_app("sqlite", **ldap_config(server))
    apply_file(app, "directory_org.yaml")
    directory = Directory(app, server)
    for cn in MAPPED:
        server.add_group(cn)
    uids = [f"u{i:02d}" for i in range(12)]
    directory.people(*uids, housing_cm=uids)
    assert "join: 12" in directory.sync("--allow-mass-leave")
    assert all(directory.roles(u) == {("case_manager", "housing", DIRECTORY)} for u in uids)


def test_unique_member_groups_grant_too(directory):
    server = directory.server
    directory.people("ann")
    server.delete(server.group_dn("housing-sup"))
    server.add_group("housing-sup", [server.user_dn("ann")], kind="groupOfUniqueNames")
    directory.sync()
    assert directory.roles("ann") == {("supervisor", "housing", DIRECTORY)}
