"""The directory sync against a real slapd (contract section 8), on both stores; the setup
is tests/directory/sync_support.py's. Here: renames, nested groups, groupOfUniqueNames,
the Active Directory dialect and a server size limit paged through.
"""
from __future__ import annotations

from governance.db import DIRECTORY
from tests.conftest import apply_file

from .sync_support import MAPPED, Directory, ldap_config


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
