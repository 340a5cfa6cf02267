"""The test directory itself (tests/directory/slapd.py), proved with ldap3 over real connections:
stop and start, bulk loads, and that no slapd or folder outlives its test."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from ldap3 import BASE, NONE, Connection, Server
from ldap3.core.exceptions import LDAPException, LDAPSocketOpenError

from .ldap_client import connect, one, reader, uids
from .slapd import Slapd


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
