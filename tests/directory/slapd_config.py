"""What the private slapd (tests/directory/slapd.py) is configured with: the generated AD
look-alike schema, ``slapd.conf`` (schemas, overlays, TLS, ACLs, limits) and the base entries
``slapadd`` loads before the first start."""
from __future__ import annotations

from .slapd_constants import (
    ADMIN_DN,
    BASE_DN,
    GROUPS_DN,
    MODULE_DIR,
    PEOPLE_DN,
    POLICY_DN,
    READER_DN,
    SCHEMA_DIR,
)
from .slapd_ldif import ldif_entry, ssha

AD_TEST_SCHEMA = """\
# Active Directory look-alike attributes for the test directory (private arc, not AD's OIDs).
attributetype ( 1.3.6.1.4.1.99999.1.1.1 NAME 'sAMAccountName'
    DESC 'AD logon name (test)'
    EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.1.2 NAME 'userAccountControl'
    DESC 'AD account flags (test): 512 normal, +2 disabled'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.1.3 NAME 'objectGUID'
    DESC 'AD object GUID (test): 16 raw bytes'
    EQUALITY octetStringMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.40{16} SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.1.4 NAME 'uSNChanged'
    DESC 'AD update sequence number (test; set by the harness, not by slapd)'
    EQUALITY integerMatch ORDERING integerOrderingMatch
    SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.1.2.1 NAME 'adTestUser'
    DESC 'AD look-alike user attributes (test)' AUXILIARY
    MAY ( sAMAccountName $ userAccountControl $ objectGUID $ uSNChanged ) )
objectclass ( 1.3.6.1.4.1.99999.1.2.2 NAME 'adTestGroup'
    DESC 'AD look-alike group attributes (test)' AUXILIARY
    MAY ( sAMAccountName $ objectGUID $ uSNChanged ) )
"""


class SlapdConfig:
    """The configuration half of :class:`Slapd` (mixed into it): reads its limits, folders,
    passwords and TLS files."""

    # -- configuration -----------------------------------------------------------------------
    def _config(self) -> str:
        schemas = "\n".join(f"include {SCHEMA_DIR / name}.schema"
                            for name in ("core", "cosine", "inetorgperson", "nis"))
        if self.size_limit is None:
            limits = "limits * size=unlimited"
        else:
            n = self.size_limit
            limits = f"limits * size.soft={n} size.hard={n} size.prtotal=unlimited"
        if self.max_page_size is not None:
            limits += f" size.pr={self.max_page_size}"
        return f"""\
{schemas}
include {self.root / "adtest.schema"}

modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
moduleload ppolicy

pidfile {self.root / "slapd.pid"}
argsfile {self.root / "slapd.args"}
loglevel none
sizelimit unlimited

TLSCACertificateFile {self.ca_file}
TLSCertificateFile {self._tls / "server.pem"}
TLSCertificateKeyFile {self._tls / "server.key"}

database mdb
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw {ssha(self.admin_password)}
directory {self.data_dir}
maxsize 1073741824
index objectClass eq
index uid,cn,mail,sAMAccountName eq,sub
index member,uniqueMember,memberOf,entryUUID,uSNChanged eq
# What a changed-only sync asks for (modifyTimestamp>=...): a directory run for it indexes it.
index modifyTimestamp eq
{limits}

access to attrs=userPassword
    by anonymous auth
    by * none
access to dn.regex="^(ou=[^,]+,)?{BASE_DN}$"
    by users read
    by * none
access to *
    by dn.exact="{READER_DN}" read
    by self read
    by * none

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

overlay ppolicy
ppolicy_default "{POLICY_DN}"
"""

    def _base_ldif(self) -> str:
        entries = [
            (BASE_DN, {"objectClass": ["dcObject", "organization"], "dc": "example",
                       "o": "Example"}),
            (READER_DN, {"objectClass": ["organizationalRole", "simpleSecurityObject"],
                         "cn": "reader", "description": "read-only service account",
                         "userPassword": ssha(self.reader_password)}),
            (PEOPLE_DN, {"objectClass": "organizationalUnit", "ou": "people"}),
            (GROUPS_DN, {"objectClass": "organizationalUnit", "ou": "groups"}),
            (f"ou=policies,{BASE_DN}", {"objectClass": "organizationalUnit",
                                        "ou": "policies"}),
            # pwdLockout makes pwdAccountLockedTime count; pwdMaxFailure 0: wrong passwords
            # never lock anyone out by themselves.
            (POLICY_DN, {"objectClass": ["organizationalRole", "pwdPolicy"], "cn": "default",
                         "pwdAttribute": "userPassword", "pwdLockout": "TRUE",
                         "pwdMaxFailure": 0}),
        ]
        return "\n".join(ldif_entry(dn, attrs) for dn, attrs in entries)
