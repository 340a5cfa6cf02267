"""The test directory itself (tests/directory/slapd.py), proved with ldap3 over real connections:
who may bind and read what, groups and memberOf, renames and timestamps."""
from __future__ import annotations

import time
import uuid

from ldap3 import BASE, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server

from .ldap_client import connect, one, reader, uids
from .slapd import EMPTY_MEMBER, LOCKED_FOREVER


# -- accounts and access ---------------------------------------------------------------------
def test_reader_reads_everything_but_passwords_and_writes_nothing(slapd):
    dn = slapd.add_user("alice", cn="Alice Smith", mail="alice@example.org", password="s3cret")
    conn = reader(slapd)
    entry = one(conn, dn, ["*", "userPassword"])["attributes"]
    assert entry["cn"] == ["Alice Smith"] and entry["sn"] == ["Smith"]
    assert entry["mail"] == ["alice@example.org"]
    assert not entry["userPassword"]  # ldap3 lists a requested attribute it did not get
    assert not conn.search(slapd.people_dn, "(userPassword=*)", attributes=["uid"])
    assert uids(conn) == {"alice"}

    assert not conn.modify(dn, {"mail": [(MODIFY_REPLACE, ["x@example.org"])]})
    assert conn.result["description"] == "insufficientAccessRights"
    assert not conn.add(f"uid=mallory,{slapd.people_dn}", "inetOrgPerson",
                        {"cn": "m", "sn": "m"})
    assert conn.result["description"] == "insufficientAccessRights"
    assert not conn.delete(dn)
    assert conn.result["description"] == "insufficientAccessRights"
    assert one(conn, dn, ["mail"])["attributes"]["mail"] == ["alice@example.org"]


def test_anonymous_sees_only_the_root_dse(slapd):
    slapd.add_user("alice", password="s3cret")
    conn = connect(slapd.url)
    conn.search(slapd.base_dn, "(objectClass=*)", SUBTREE, attributes=["*"])
    assert [e for e in conn.response if e["type"] == "searchResEntry"] == []
    assert conn.search("", "(objectClass=*)", BASE, attributes=["namingContexts"])
    assert conn.response[0]["attributes"]["namingContexts"] == [slapd.base_dn]


def test_users_bind_with_their_own_password_only(slapd):
    alice = slapd.add_user("alice", password="s3cret")
    bob = slapd.add_user("bob")  # no password: cannot bind at all
    conn = connect(slapd.url, alice, "s3cret")
    assert conn.extend.standard.who_am_i() == f"dn:{alice}"
    assert uids(conn) == {"alice"}  # a user reads their own entry, nobody else's
    for user, password in ((alice, "wrong"), (bob, "anything"), (slapd.user_dn("nobody"), "x")):
        attempt = Connection(Server(slapd.url, get_info=NONE), user, password)
        assert not attempt.bind()
        assert attempt.result["description"] == "invalidCredentials"
    assert connect(slapd.url, slapd.admin_dn, slapd.admin_password).bound
    # Wrong passwords do not lock anyone out by themselves (pwdMaxFailure 0).
    assert connect(slapd.url, alice, "s3cret").bound


def test_locked_user_cannot_bind_and_the_lock_is_readable(slapd):
    dn = slapd.add_user("alice", password="s3cret")
    slapd.lock_user("alice")
    conn = reader(slapd)
    assert not one(conn, dn, ["*"])["attributes"].get("pwdAccountLockedTime")
    locked = one(conn, dn, ["pwdAccountLockedTime"])["raw_attributes"]["pwdAccountLockedTime"]
    assert locked == [LOCKED_FOREVER.encode()]
    attempt = Connection(Server(slapd.url, get_info=NONE), dn, "s3cret")
    assert not attempt.bind() and attempt.result["description"] == "invalidCredentials"
    slapd.unlock_user("alice")
    assert connect(slapd.url, dn, "s3cret").bound
    assert not one(conn, dn, ["pwdAccountLockedTime"])["attributes"]["pwdAccountLockedTime"]


# -- groups ------------------------------------------------------------------------------------
def test_member_of_follows_group_of_names_membership(slapd):
    alice, bob = slapd.add_user("alice"), slapd.add_user("bob")
    staff = slapd.add_group("staff", [alice, bob])
    admins = slapd.add_group("admins", [alice])
    conn = reader(slapd)

    def member_of(dn: str) -> set[str]:
        return set(one(conn, dn, ["memberOf"])["attributes"]["memberOf"])

    assert member_of(alice) == {staff, admins} and member_of(bob) == {staff}
    assert "memberOf" not in one(conn, alice, ["*"])["attributes"]  # operational: ask for it
    slapd.set_members("admins", [bob])
    assert member_of(alice) == {staff} and member_of(bob) == {staff, admins}
    slapd.set_members("staff", [])
    assert one(conn, staff, ["member"])["attributes"]["member"] == [EMPTY_MEMBER]
    assert member_of(alice) == set() and member_of(bob) == {admins}
    both = slapd.add_group("both", [alice, bob])
    slapd.delete(bob)
    assert one(conn, both, ["member"])["attributes"]["member"] == [alice]  # refint removed bob
    # ... but not from a group he was the last member of: groupOfNames MUST have a member.
    assert one(conn, admins, ["member"])["attributes"]["member"] == [bob]


def test_empty_and_unique_member_groups(slapd):
    alice = slapd.add_user("alice")
    empty = slapd.add_group("empty")
    unique = slapd.add_group("unique", [alice], kind="groupOfUniqueNames")
    conn = reader(slapd)
    assert one(conn, empty, ["member"])["attributes"]["member"] == [EMPTY_MEMBER]
    assert one(conn, unique, ["uniqueMember"])["attributes"]["uniqueMember"] == [alice]
    # memberOf is kept for groupOfNames only.
    assert not one(conn, alice, ["memberOf"])["attributes"]["memberOf"]
    slapd.set_members("unique", [])
    assert one(conn, unique, ["uniqueMember"])["attributes"]["uniqueMember"] == [EMPTY_MEMBER]
    slapd.set_members("empty", [alice])
    assert one(conn, alice, ["memberOf"])["attributes"]["memberOf"] == [empty]


def test_rename_keeps_entry_uuid_and_memberships(slapd):
    old = slapd.add_user("alice", password="s3cret")
    staff = slapd.add_group("staff", [old])
    conn = reader(slapd)
    before = one(conn, old, ["entryUUID", "modifyTimestamp"])["attributes"]
    assert uuid.UUID(before["entryUUID"][0])
    assert before["modifyTimestamp"]  # operational, returned when asked for
    new = slapd.rename_user("alice", "alice.smith")
    after = one(conn, new, ["uid", "entryUUID", "memberOf"])["attributes"]
    assert after["entryUUID"] == before["entryUUID"]
    assert after["uid"] == ["alice.smith"] and after["memberOf"] == [staff]
    assert one(conn, staff, ["member"])["attributes"]["member"] == [new]
    assert not conn.search(old, "(objectClass=*)", BASE)
    assert conn.result["description"] == "noSuchObject"
    assert connect(slapd.url, new, "s3cret").bound


def test_modify_timestamp_moves_on_change(slapd):
    dn = slapd.add_user("alice")
    conn = reader(slapd)
    before = one(conn, dn, ["modifyTimestamp"])["raw_attributes"]["modifyTimestamp"][0]
    time.sleep(1.05)  # generalized time has whole seconds
    slapd.replace(dn, mail="alice@example.org")
    after = one(conn, dn, ["modifyTimestamp"])["raw_attributes"]["modifyTimestamp"][0]
    assert after > before
