"""The private slapd's fixed names: the OpenLDAP binaries and folders it uses, the DNs of its
tree and the values a sync must know (see tests/directory/slapd.py), and its error."""
from __future__ import annotations

from pathlib import Path

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")

BASE_DN = "dc=example,dc=org"
PEOPLE_DN = f"ou=people,{BASE_DN}"
GROUPS_DN = f"ou=groups,{BASE_DN}"
POLICY_DN = f"cn=default,ou=policies,{BASE_DN}"
ADMIN_DN = f"cn=admin,{BASE_DN}"
READER_DN = f"cn=reader,{BASE_DN}"
EMPTY_MEMBER = ""  # the one member value of an empty group
LOCKED_FOREVER = "000001010000Z"
UAC_NORMAL_ACCOUNT = 512
MEMBER_ATTR = {"groupOfNames": "member", "groupOfUniqueNames": "uniqueMember"}


class SlapdError(RuntimeError):
    pass
