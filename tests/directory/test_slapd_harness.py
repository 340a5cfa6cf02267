"""The test directory itself: every property the LDAP sync and sign-in tests rely on, proved
with ldap3 over real connections to a private slapd (tests/directory/slapd.py)."""
from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from ldap3 import BASE, MODIFY_REPLACE, NONE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError, LDAPStartTLSError
from ldap3.utils.conv import escape_bytes

from .slapd import EMPTY_MEMBER, LOCKED_FOREVER, Slapd


def connect(url: str, user: str | None = None, password: str | None = None,
            tls: Tls | None = None, start_tls: bool = False) -> Connection:
    server = Server(url, get_info=NONE, tls=tls, connect_timeout=5)
    conn = Connection(server, user, password, receive_timeout=10, raise_exceptions=False)
    if start_tls:
        conn.open()
        conn.start_tls()
    assert conn.bind(), conn.result
    return conn


def reader(slapd: Slapd) -> Connection:
    return connect(slapd.url, slapd.reader_dn, slapd.reader_password)


def one(conn: Connection, dn: str, attributes) -> dict:
    assert conn.search(dn, "(objectClass=*)", BASE, attributes=attributes), conn.result
    return conn.response[0]


def uids(conn: Connection, search_filter: str = "(objectClass=inetOrgPerson)",
         base: str = "ou=people,dc=example,dc=org") -> set[str]:
    conn.search(base, search_filter, SUBTREE, attributes=["uid"])
    return {e["attributes"]["uid"][0] for e in conn.response if e["type"] == "searchResEntry"}


def verifying(ca_file: str) -> Tls:
    return Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)


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


# -- Active Directory look-alike attributes ---------------------------------------------------
def test_ad_attributes_are_stored_and_filter_by_usn(slapd):
    guid = uuid.uuid4()
    alice = slapd.add_user("alice", ad=True, objectGUID=guid.bytes_le)
    bob = slapd.add_user("bob", ad=True, userAccountControl=514)  # 512 + 2: disabled
    carol = slapd.add_user("carol")  # not an AD user
    group = slapd.add_group("staff", [alice, bob], ad=True)
    conn = reader(slapd)
    entry = one(conn, alice, ["sAMAccountName", "userAccountControl", "objectGUID",
                              "uSNChanged", "objectClass"])
    assert entry["attributes"]["sAMAccountName"] == ["alice"]
    assert entry["raw_attributes"]["userAccountControl"] == [b"512"]
    assert entry["raw_attributes"]["objectGUID"] == [guid.bytes_le]
    assert uuid.UUID(bytes_le=entry["raw_attributes"]["objectGUID"][0]) == guid
    assert "adTestUser" in entry["attributes"]["objectClass"]
    assert entry["raw_attributes"]["uSNChanged"] == [b"1"]
    assert not one(conn, carol, ["uSNChanged"])["attributes"]["uSNChanged"]

    by_guid = f"(objectGUID={escape_bytes(guid.bytes_le)})"
    assert uids(conn, by_guid) == {"alice"}
    assert uids(conn, "(userAccountControl=514)") == {"bob"}
    assert uids(conn, "(sAMAccountName=BOB)") == {"bob"}  # case-ignore, as in AD
    mark = slapd.usn  # 3: alice, bob, the group
    assert mark == 3
    slapd.replace(bob, mail="bob@example.org")  # bumps bob's uSNChanged to 4
    slapd.set_members("staff", [alice])  # and the group's to 5
    assert uids(conn, f"(uSNChanged>={mark + 1})") == {"bob"}
    conn.search(slapd.groups_dn, f"(uSNChanged>={mark + 1})", attributes=["uSNChanged"])
    assert [e["dn"] for e in conn.response if e["type"] == "searchResEntry"] == [group]
    assert uids(conn, "(uSNChanged<=1)") == {"alice"}
    slapd.rename_user("alice", "alice2")
    renamed = one(conn, slapd.user_dn("alice2"), ["sAMAccountName", "uSNChanged"])
    assert renamed["attributes"]["sAMAccountName"] == ["alice2"]
    assert renamed["raw_attributes"]["uSNChanged"] == [str(slapd.usn).encode()]


# -- size limit and paging --------------------------------------------------------------------
def test_size_limit_needs_paging(slapd_small_limit):
    server = slapd_small_limit
    for i in range(12):
        server.add_user(f"user{i:02d}")
    conn = reader(server)
    conn.search(server.people_dn, "(objectClass=inetOrgPerson)", attributes=["uid"])
    assert conn.result["description"] == "sizeLimitExceeded"
    assert len([e for e in conn.response if e["type"] == "searchResEntry"]) == 5
    conn.search(server.people_dn, "(objectClass=inetOrgPerson)", attributes=["uid"],
                size_limit=100)  # a client cannot ask for more than the hard limit
    assert conn.result["description"] == "sizeLimitExceeded"

    pages = []
    cookie = None
    while True:
        assert conn.search(server.people_dn, "(objectClass=inetOrgPerson)",
                           attributes=["uid"], paged_size=5, paged_cookie=cookie), conn.result
        pages.append(len(conn.entries))
        cookie = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]["cookie"]
        if not cookie:
            break
    assert pages == [5, 5, 2]
    found = conn.extend.standard.paged_search(server.people_dn, "(objectClass=inetOrgPerson)",
                                              attributes=["uid"], paged_size=3,
                                              generator=False)
    assert len([e for e in found if e["type"] == "searchResEntry"]) == 12
    # Without size.pr a page may be bigger than the limit: paging circumvents it entirely.
    conn.search(server.people_dn, "(objectClass=inetOrgPerson)", attributes=["uid"],
                paged_size=100)
    assert conn.result["description"] == "success" and len(conn.entries) == 12
    # The root DN is not limited.
    admin = connect(server.url, server.admin_dn, server.admin_password)
    assert len(uids(admin)) == 12 and admin.result["description"] == "success"


def test_max_page_size_refuses_bigger_pages():
    with Slapd(size_limit=5, max_page_size=5) as server:
        for i in range(7):
            server.add_user(f"user{i}")
        conn = reader(server)
        conn.search(server.people_dn, "(uid=*)", attributes=["uid"], paged_size=6)
        assert conn.result["description"] == "adminLimitExceeded"
        found = conn.extend.standard.paged_search(server.people_dn, "(uid=*)",
                                                  attributes=["uid"], paged_size=5,
                                                  generator=False)
        assert len([e for e in found if e["type"] == "searchResEntry"]) == 7


def test_no_size_limit_by_default(slapd):
    slapd.bulk_load(slapd.bulk_ldif(users=600, groups=0))
    conn = reader(slapd)
    assert len(uids(conn)) == 600  # OpenLDAP's own default limit would stop at 500
    assert conn.result["description"] == "success"


# -- TLS ---------------------------------------------------------------------------------------
def test_start_tls_verifies_against_the_test_ca(slapd):
    slapd.add_user("alice", password="s3cret")
    for url in (slapd.url, slapd.url.replace("127.0.0.1", "localhost")):
        conn = connect(url, slapd.reader_dn, slapd.reader_password,
                       tls=verifying(slapd.ca_file), start_tls=True)
        assert conn.tls_started and uids(conn) == {"alice"}
    conn = Connection(Server(slapd.url, get_info=NONE, tls=verifying(slapd.other_ca_file)))
    conn.open()
    with pytest.raises((LDAPStartTLSError, LDAPSocketOpenError), match="(?i)certificate"):
        conn.start_tls()


def test_ldaps_verifies_against_the_test_ca(slapd):
    slapd.add_user("alice", password="s3cret")
    conn = connect(slapd.ldaps_url, slapd.user_dn("alice"), "s3cret",
                   tls=verifying(slapd.ca_file))
    assert conn.server.ssl and conn.extend.standard.who_am_i() == f"dn:{slapd.user_dn('alice')}"
    conn = Connection(Server(slapd.ldaps_url, get_info=NONE,
                             tls=verifying(slapd.other_ca_file)))
    with pytest.raises(LDAPSocketOpenError, match="(?i)certificate"):
        conn.open()


def test_plain_ldap_port_does_not_speak_tls_and_ca_files_differ(slapd):
    with open(slapd.ca_file) as a, open(slapd.other_ca_file) as b:
        assert a.read() != b.read()
    conn = Connection(Server(f"ldaps://127.0.0.1:{slapd.port}", get_info=NONE,
                             tls=verifying(slapd.ca_file), connect_timeout=5),
                      receive_timeout=5)
    with pytest.raises(LDAPSocketOpenError):
        conn.open()


# -- outages, bulk load, clean-up ---------------------------------------------------------------
def test_stop_and_start_keep_ports_and_data(slapd):
    dn = slapd.add_user("alice", password="s3cret")
    conn = reader(slapd)
    url = slapd.url
    slapd.stop()
    assert not slapd.running
    try:
        answered = conn.search(dn, "(objectClass=*)", BASE)
    except LDAPException:
        answered = False
    assert not answered
    with pytest.raises(LDAPSocketOpenError):
        Connection(Server(url, get_info=NONE, connect_timeout=2), slapd.reader_dn,
                   slapd.reader_password, auto_bind=True)
    slapd.start()
    assert slapd.url == url and slapd.running
    assert connect(url, dn, "s3cret").bound
    assert uids(reader(slapd)) == {"alice"}


def test_bulk_load_gives_member_of_entry_uuid_and_usn(slapd):
    slapd.add_user("early")
    started = time.monotonic()
    slapd.bulk_load(slapd.bulk_ldif(users=300, groups=10, ad=True, password="pw"))
    assert time.monotonic() - started < 30
    conn = reader(slapd)
    assert len(uids(conn)) == 301
    entry = one(conn, slapd.user_dn("u00009"), ["memberOf", "entryUUID", "uSNChanged",
                                                "objectGUID"])
    assert set(entry["attributes"]["memberOf"]) == {slapd.group_dn(f"g{j:04d}")
                                                    for j in (9, 0, 1)}
    assert uuid.UUID(entry["attributes"]["entryUUID"][0])
    assert len(entry["raw_attributes"]["objectGUID"][0]) == 16
    assert slapd.usn == 310  # 300 users, 10 groups
    assert connect(slapd.url, slapd.user_dn("u00299"), "pw").bound
    # Writes after the load still work and keep memberOf.
    slapd.set_members("g0000", [slapd.user_dn("early")])
    assert one(conn, slapd.user_dn("early"), ["memberOf"])["attributes"]["memberOf"] == [
        slapd.group_dn("g0000")]
    assert slapd.group_dn("g0000") not in one(conn, slapd.user_dn("u00000"),
                                              ["memberOf"])["attributes"]["memberOf"]


def test_bulk_load_of_twenty_thousand_users_is_fast(slapd):
    """The benchmark's directory: 20,000 users in 3 of 400 groups each (about 5 s in all)."""
    started = time.monotonic()
    slapd.bulk_load(slapd.bulk_ldif(users=20_000, groups=400))
    elapsed = time.monotonic() - started
    conn = reader(slapd)
    found = conn.extend.standard.paged_search(slapd.people_dn, "(objectClass=inetOrgPerson)",
                                              attributes=["uid"], paged_size=1000,
                                              generator=False)
    assert len(found) == 20_000
    assert elapsed < 60, elapsed


def test_starts_fast_and_leaves_nothing_behind():
    started = time.monotonic()
    server = Slapd()
    elapsed = time.monotonic() - started
    pid, root = server._process.pid, server.root
    assert elapsed < 2, elapsed
    server.stop(final=True)
    assert not root.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(Exception, match="stopped for good"):
        server.start()


def test_slapd_dies_with_a_killed_test_process(tmp_path):
    """SIGKILL skips atexit: PR_SET_PDEATHSIG still takes slapd down with its parent."""
    script = tmp_path / "start.py"
    script.write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[2])!r})\n"
        "from tests.directory.slapd import Slapd\n"
        "server = Slapd()\n"
        "print(server._process.pid, server.root, flush=True)\n"
        "time.sleep(60)\n")
    def alive(pid: str) -> bool:  # a zombie awaiting its reaper counts as dead
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    root = None
    try:
        pid, root = child.stdout.readline().split()
        assert alive(pid)
        child.kill()
        child.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.05)
        assert not alive(pid)
    finally:
        child.kill()
        child.wait(10)
        if root:
            shutil.rmtree(root, ignore_errors=True)
