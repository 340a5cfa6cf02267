"""A private OpenLDAP ``slapd`` for the directory tests: real LDAP on loopback, never a mock.

``Slapd()`` writes a ``slapd.conf`` and an mdb database into a temporary folder, loads the base
entries with ``slapadd`` and starts ``slapd`` in the foreground (its own process group) on two
free loopback ports: ``ldap://`` (StartTLS allowed) and ``ldaps://``. Writes go through the
OpenLDAP command-line tools as the root DN, so the harness does not depend on the client
library the tests exercise.

The tree::

    dc=example,dc=org
      cn=admin       the root DN (not an entry; slapd.conf's rootdn/rootpw)
      cn=reader      read-only service account: reads everything but userPassword, writes nothing
      ou=people      users: uid=<uid>, inetOrgPerson (+ adTestUser with ``ad=True``)
      ou=groups      groups: cn=<cn>, groupOfNames (memberOf maintained) or groupOfUniqueNames
      ou=policies    cn=default, the ppolicy default policy (pwdLockout TRUE, no failure limit)

Access: users may bind as themselves (``by anonymous auth`` on userPassword) and read their
own entry and the containers above it (the suffix, the ``ou=`` entries), no one else's; the
reader reads every entry and attribute except userPassword; anonymous reads only the root
DSE. The root DN is exempt from ACLs and limits. Running ``slapd`` is quiet (``-d none``: only
errors reach ``log_file``); a start that fails quotes that log and ``slaptest``.

Processes: slapd runs in its own session; ``stop(final=True)``, the context manager, an atexit
hook and PR_SET_PDEATHSIG (slapd gets SIGKILL when the thread that started it dies) make sure
none outlives the tests. Start a ``Slapd`` from a thread that lives as long as you use it.

Schemas: core, cosine, inetorgperson, nis, plus a generated ``adtest.schema`` with Active
Directory look-alike attributes under the private arc 1.3.6.1.4.1.99999.1: ``sAMAccountName``
(case-ignore string), ``userAccountControl`` and ``uSNChanged`` (integers with ordering, so
``(uSNChanged>=N)`` works), ``objectGUID`` (binary octet string: stored, compared and returned
as the 16 raw bytes, as AD does); the AUXILIARY classes ``adTestUser`` and ``adTestGroup`` MAY
carry them. Our OIDs are not AD's, so ldap3 does not apply its AD objectGUID formatter: read
the GUID from ``entry.raw_attributes['objectGUID'][0]`` (bytes), never from ``.value``.
slapd does not maintain uSNChanged: the helpers here give AD entries the next value of the
harness's own counter (``usn``) whenever they create or change them.

Overlays (OpenLDAP 2.5 modules): ``memberof`` keeps the operational ``memberOf`` of
groupOfNames members (with refint: renames and deletes update the groups' ``member``);
``ppolicy`` honours ``pwdAccountLockedTime`` (``000001010000Z`` locks for good). ``memberOf``,
``entryUUID``, ``modifyTimestamp`` and ``pwdAccountLockedTime`` are operational: a search
returns them only when asked for by name (or with ``+``).

Empty groups: groupOfNames and groupOfUniqueNames MUST have a member, so a group with no
members carries one empty-DN value (``member: `` / ``uniqueMember: ``), which names no entry.
A sync must skip it (``EMPTY_MEMBER``). Deleting an entry takes it out of the groupOfNames
it is in (memberof refint), except where it is the last member: there the schema keeps its DN,
dangling, so a sync must also skip members that name no entry.

Limits bind everyone but the root DN (the reader too). ``size_limit=N`` sets
``limits * size.soft=N size.hard=N size.prtotal=unlimited``: a search without the
paged-results control that matches more than N entries returns N of them and ends in
sizeLimitExceeded (so does one asking for a client-side limit above N), while a paged search
reads everything, whatever its page size -- even one page bigger than N. ``max_page_size=M``
adds ``size.pr=M``: a paged search asking for pages bigger than M is refused outright with
adminLimitExceeded ("illegal pagedResults page size"; OpenLDAP cannot shrink pages the way
AD's MaxPageSize does), so a test can make sure a client really follows the paging cookie.
Without ``size_limit`` there is no size limit at all (OpenLDAP's default would be 500).

The harness is split by responsibility; this module is its front door and re-exports what the
tests and bench/directory_sync.py import from it: ``slapd_constants.py`` (the binaries, the
tree's DNs, ``SlapdError``), ``slapd_tls.py`` (the TLS material), ``slapd_ldif.py`` (LDIF text
and password hashes), ``slapd_config.py`` (``slapd.conf``, the AD look-alike schema, the base
entries), ``slapd_entries.py`` (writes through the OpenLDAP tools, users and groups, bulk
loads) and ``slapd_server.py`` (the ``Slapd`` class: the process, its ports and its life).
"""
from __future__ import annotations

from .slapd_config import AD_TEST_SCHEMA
from .slapd_constants import (
    ADMIN_DN,
    BASE_DN,
    EMPTY_MEMBER,
    GROUPS_DN,
    LOCKED_FOREVER,
    MEMBER_ATTR,
    MODULE_DIR,
    PEOPLE_DN,
    POLICY_DN,
    READER_DN,
    SCHEMA_DIR,
    SLAPADD,
    SLAPD,
    UAC_NORMAL_ACCOUNT,
    SlapdError,
)
from .slapd_ldif import Value, Values, ldif_entry, ldif_line, ssha
from .slapd_server import Slapd
from .slapd_tls import tls_material

__all__ = [
    "AD_TEST_SCHEMA", "ADMIN_DN", "BASE_DN", "EMPTY_MEMBER", "GROUPS_DN", "LOCKED_FOREVER",
    "MEMBER_ATTR", "MODULE_DIR", "PEOPLE_DN", "POLICY_DN", "READER_DN", "SCHEMA_DIR", "SLAPADD",
    "SLAPD", "UAC_NORMAL_ACCOUNT", "Slapd", "SlapdError", "Value", "Values", "ldif_entry",
    "ldif_line", "ssha", "tls_material",
]
