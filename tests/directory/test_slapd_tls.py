"""The test directory itself (tests/directory/slapd.py), proved with ldap3 over real connections:
StartTLS and ldaps:// verified against the test CA, refused against another."""
from __future__ import annotations

import pytest
from ldap3 import NONE, Connection, Server
from ldap3.core.exceptions import LDAPSocketOpenError, LDAPStartTLSError

from .ldap_client import connect, uids, verifying


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
