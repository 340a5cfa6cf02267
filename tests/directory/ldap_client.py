"""ldap3 over real connections, as the slapd harness tests (tests/directory/test_slapd_*.py)
check the private slapd (tests/directory/slapd.py) with: bind, read one entry, list uids."""
from __future__ import annotations

import ssl

from ldap3 import BASE, NONE, SUBTREE, Connection, Server, Tls

from .slapd import Slapd


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
