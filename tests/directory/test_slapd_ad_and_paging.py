"""The test directory itself (tests/directory/slapd.py), proved with ldap3 over real connections:
the Active Directory look-alike attributes, the size limits and paging."""
from __future__ import annotations

import uuid

from ldap3.utils.conv import escape_bytes

from .ldap_client import connect, one, reader, uids
from .slapd import Slapd


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
