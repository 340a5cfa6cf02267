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
"""
from __future__ import annotations

import atexit
import base64
import ctypes
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
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


class SlapdError(RuntimeError):
    pass


try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: rely on stop() and atexit alone
    _LIBC = None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL slapd when the process (strictly: the thread) that
    started it dies, even by SIGKILL, when atexit never runs."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# -- every live server is ended when the interpreter exits ---------------------------------------
_LIVE: set[Slapd] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _end_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop(final=True)


# -- TLS material: made once per process with the openssl CLI ------------------------------------
_TLS_DIR: Path | None = None
_TLS_LOCK = threading.Lock()


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise SlapdError(f"openssl {' '.join(args)} failed: {result.stderr}")


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
             "-subj", f"/O=Need-to-Know tests/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)


def tls_material() -> Path:
    """A folder with ``ca.pem``, ``other-ca.pem`` and ``server.pem``/``server.key`` (signed by
    ca, for 127.0.0.1, ::1 and localhost); EC P-256 keys, so making them takes milliseconds."""
    global _TLS_DIR
    with _TLS_LOCK:
        if _TLS_DIR is None:
            folder = Path(tempfile.mkdtemp(prefix="ntk-slapd-tls-"))
            atexit.register(shutil.rmtree, folder, True)
            _make_ca(folder, "ca")
            _make_ca(folder, "other-ca")
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", "server.key", "-out", "server.csr",
                     "-subj", "/O=Need-to-Know tests/CN=localhost", cwd=folder)
            (folder / "server.ext").write_text(
                "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
            _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", "server.pem", "-days", "30",
                     "-extfile", "server.ext", cwd=folder)
            _TLS_DIR = folder
        return _TLS_DIR


# -- LDIF ------------------------------------------------------------------------------------
Value = str | bytes | int
Values = Value | list[Value] | tuple[Value, ...] | None


def _as_list(values: Values) -> list[Value]:
    if values is None:
        return []
    if isinstance(values, list | tuple):
        return list(values)
    return [values]


def _safe(text: str) -> bool:
    return (text.isascii() and text.isprintable() and not text.startswith((" ", ":", "<"))
            and not text.endswith(" "))


def ldif_line(attr: str, value: Value) -> str:
    """``attr: value``, or ``attr:: base64`` when the value is bytes or not plain ASCII."""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _safe(value):
        return f"{attr}: {value}" if value else f"{attr}:"
    raw = value if isinstance(value, bytes) else value.encode()
    return f"{attr}:: {base64.b64encode(raw).decode()}"


def ldif_entry(dn: str, attrs: dict[str, Values]) -> str:
    """One entry (for ldapadd or slapadd), values in the order given."""
    lines = [ldif_line("dn", dn)]
    for attr, values in attrs.items():
        lines.extend(ldif_line(attr, v) for v in _as_list(values))
    return "\n".join(lines) + "\n"


def ssha(password: str) -> str:
    """An RFC 2307 ``{SSHA}`` hash, which slapd verifies on bind."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parse_ldif(text: str) -> list[list[tuple[str, str]]]:
    """Entries as lists of (attr, raw-text) pairs; continuation lines unfolded; base64 values
    keep their ``:`` prefix (``("objectGUID", ": AbC=")``) so they are written back as is."""
    entries: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    for line in lines + [""]:
        if not line.strip():
            if current:
                entries.append(current)
                current = []
            continue
        if line.startswith("#"):
            continue
        attr, _, rest = line.partition(":")
        current.append((attr.strip(), rest[1:] if rest.startswith(" ") else rest))
    return entries


def _plain(raw: str) -> str:
    """The text of an LDIF value as :func:`_parse_ldif` keeps it."""
    if raw.startswith(":"):
        return base64.b64decode(raw[1:].strip()).decode()
    return raw


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.lower().split(","))


class Slapd:
    """One private slapd; see the module docstring for its tree, ACLs, schemas and limits."""

    base_dn = BASE_DN
    people_dn = PEOPLE_DN
    groups_dn = GROUPS_DN
    policy_dn = POLICY_DN
    admin_dn = ADMIN_DN
    reader_dn = READER_DN

    def __init__(self, size_limit: int | None = None, *, max_page_size: int | None = None,
                 admin_password: str = "admin-secret", reader_password: str = "reader-secret",
                 start: bool = True) -> None:
        for name, value in (("size_limit", size_limit), ("max_page_size", max_page_size)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number of entries")
        self.size_limit = size_limit
        self.max_page_size = max_page_size
        self.admin_password = admin_password
        self.reader_password = reader_password
        self.root = Path(tempfile.mkdtemp(prefix="ntk-slapd-"))
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.conf = self.root / "slapd.conf"
        self.log_file = self.root / "slapd.log"
        tls = tls_material()
        self.ca_file = str(tls / "ca.pem")
        self.other_ca_file = str(tls / "other-ca.pem")
        self._tls = tls
        self.usn = 0  # the last uSNChanged the harness gave out
        self.port, self.ldaps_port = self._free_ports()
        self._process: subprocess.Popen | None = None
        self._final = False
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            if not os.access(SLAPD, os.X_OK):
                raise SlapdError(f"{SLAPD} is missing: apt-get install slapd ldap-utils "
                                 "(.ci/run does)")
            (self.root / "adtest.schema").write_text(AD_TEST_SCHEMA)
            self.conf.write_text(self._config())
            self._slapadd(self._base_ldif())
            if start:
                self._first_start()
        except BaseException:
            self.stop(final=True)
            raise

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @staticmethod
    def user_dn(uid: str) -> str:
        return f"uid={uid},{PEOPLE_DN}"

    @staticmethod
    def group_dn(cn: str) -> str:
        return f"cn={cn},{GROUPS_DN}"

    # -- the server's life -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @staticmethod
    def _free_ports() -> tuple[int, int]:
        while True:
            ports = _free_port(), _free_port()
            if ports[0] != ports[1]:
                return ports

    def _first_start(self) -> None:
        """Start; should a port be taken between choosing and binding it, retry on others."""
        for attempt in range(3):
            try:
                self.start()
                return
            except SlapdError:
                if attempt == 2:
                    raise
                self.port, self.ldaps_port = self._free_ports()

    def start(self, timeout: float = 10.0) -> None:
        """Start (again) on the same ports with the same data; returns once it answers."""
        if self._final:
            raise SlapdError("this server was stopped for good")
        if self.running:
            return
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [SLAPD, "-f", str(self.conf), "-h", f"{self.url}/ {self.ldaps_url}/",
                 "-d", "none"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise SlapdError(f"slapd exited on start:\n{self._diagnose()}")
            if self._answers():
                return
            time.sleep(0.01)
        self._kill()
        raise SlapdError(f"slapd did not answer within {timeout}s:\n{self._diagnose()}")

    def stop(self, final: bool = False, timeout: float = 10.0) -> None:
        """Stop the server (clients' connections drop); ``final`` also removes its folder."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._kill()
        self._process = None
        if final and not self._final:
            self._final = True
            shutil.rmtree(self.root, ignore_errors=True)
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def close(self) -> None:
        self.stop(final=True)

    def __enter__(self) -> Slapd:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop(final=True)

    def _kill(self) -> None:
        """SIGKILL slapd's process group (its own session) while slapd is not yet reaped: after
        that its id may belong to someone else."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _answers(self) -> bool:
        """True once slapd reads and answers an LDAP request (an anonymous bind)."""
        # BindRequest, messageID 1, version 3, empty name, simple empty password.
        request = bytes.fromhex("300c020101600702010304008000")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(request)
                return sock.recv(64)[:1] == b"\x30"
        except OSError:
            return False

    def _diagnose(self) -> str:
        check = subprocess.run(["/usr/sbin/slaptest", "-u", "-f", str(self.conf)],
                               capture_output=True, text=True, timeout=30)
        log = self.log_file.read_text(errors="replace")[-4000:]
        return f"slaptest: {check.stdout}{check.stderr}\nlog:\n{log}"

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

    # -- writes as the root DN, through the OpenLDAP tools --------------------------------------
    def _tool(self, tool: str, *args: str, ldif: str | None = None) -> str:
        command = [tool, "-x", "-H", self.url, "-D", ADMIN_DN, "-w", self.admin_password, *args]
        env = {**os.environ, "LDAPNOINIT": "1"}  # ignore /etc/ldap/ldap.conf and ~/.ldaprc
        result = subprocess.run(command, input=ldif, capture_output=True, text=True,
                                timeout=60, env=env)
        if result.returncode != 0:
            raise SlapdError(f"{tool} failed ({result.returncode}): {result.stderr.strip()}"
                             + (f"\n--- LDIF ---\n{ldif}" if ldif else ""))
        return result.stdout

    def add(self, ldif: str) -> None:
        """Add the entries of an LDIF text (records without ``changetype`` are adds)."""
        self._tool("ldapmodify", "-a", ldif=ldif)

    def modify(self, ldif: str) -> None:
        """Apply LDIF change records (``changetype: modify|add|delete|modrdn``)."""
        self._tool("ldapmodify", ldif=ldif)

    def delete(self, dn: str) -> None:
        self._tool("ldapdelete", dn)

    def replace(self, dn: str, **attrs: Values) -> None:
        """Replace attributes of an entry (``None`` or ``[]`` removes one); an AD entry's
        uSNChanged moves on to the next value unless given."""
        if "uSNChanged" not in attrs and self._is_ad(dn):
            attrs["uSNChanged"] = self.next_usn()
        lines = [ldif_line("dn", dn), "changetype: modify"]
        for attr, values in attrs.items():
            lines.append(f"replace: {attr}")
            lines.extend(ldif_line(attr, v) for v in _as_list(values))
            lines.append("-")
        self.modify("\n".join(lines) + "\n")

    def object_classes(self, dn: str) -> set[str]:
        out = self._tool("ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-s", "base", "-b", dn,
                         "(objectClass=*)", "objectClass")
        return {line.split(":", 1)[1].strip() for line in out.splitlines()
                if line.lower().startswith("objectclass:")}

    def _is_ad(self, dn: str) -> bool:
        return bool({"adTestUser", "adTestGroup"} & self.object_classes(dn))

    def next_usn(self) -> int:
        self.usn += 1
        return self.usn

    # -- users and groups --------------------------------------------------------------------
    def user_attrs(self, uid: str, cn: str | None = None, mail: str | None = None,
                   password: str | None = None, ad: bool = False,
                   **attrs: Values) -> dict[str, Values]:
        """The attributes :meth:`add_user` stores (also for building bulk LDIF)."""
        cn = cn or uid
        classes = ["inetOrgPerson", *(["adTestUser"] if ad else [])]
        classes += [c for c in _as_list(attrs.pop("objectClass", None)) if c not in classes]
        entry: dict[str, Values] = {"objectClass": classes, "uid": uid, "cn": cn,
                                    "sn": cn.split()[-1], "mail": mail,
                                    "userPassword": ssha(password) if password else None}
        if ad:
            entry.update({"sAMAccountName": uid, "userAccountControl": UAC_NORMAL_ACCOUNT,
                          "objectGUID": uuid.uuid4().bytes_le, "uSNChanged": None})
        entry.update(attrs)
        if ad and entry["uSNChanged"] is None:
            entry["uSNChanged"] = self.next_usn()
        return {k: v for k, v in entry.items() if v is not None and v != []}

    def add_user(self, uid: str, cn: str | None = None, mail: str | None = None,
                 password: str | None = None, ad: bool = False, **attrs: Values) -> str:
        """Add ``uid=<uid>,ou=people``: inetOrgPerson, cn defaults to uid, sn to cn's last
        word. ``ad=True`` adds adTestUser with sAMAccountName=uid, userAccountControl=512, a
        random objectGUID (16 bytes) and the next uSNChanged; ``attrs`` add or override
        attributes (``objectClass=...`` adds classes). Returns the DN."""
        dn = self.user_dn(uid)
        self.add(ldif_entry(dn, self.user_attrs(uid, cn, mail, password, ad, **attrs)))
        return dn

    def group_attrs(self, cn: str, members: list[str] | tuple[str, ...] = (),
                    kind: str = "groupOfNames", ad: bool = False,
                    **attrs: Values) -> dict[str, Values]:
        """The attributes :meth:`add_group` stores (also for building bulk LDIF)."""
        if kind not in MEMBER_ATTR:
            raise ValueError(f"kind must be one of {sorted(MEMBER_ATTR)}")
        classes = [kind, *(["adTestGroup"] if ad else [])]
        entry: dict[str, Values] = {"objectClass": classes, "cn": cn,
                                    MEMBER_ATTR[kind]: list(members) or [EMPTY_MEMBER]}
        if ad:
            entry.update({"sAMAccountName": cn, "objectGUID": uuid.uuid4().bytes_le,
                          "uSNChanged": None})
        entry.update(attrs)
        if ad and entry["uSNChanged"] is None:
            entry["uSNChanged"] = self.next_usn()
        return {k: v for k, v in entry.items() if v is not None and v != []}

    def add_group(self, cn: str, members: list[str] | tuple[str, ...] = (),
                  kind: str = "groupOfNames", ad: bool = False, **attrs: Values) -> str:
        """Add ``cn=<cn>,ou=groups`` with ``member`` (groupOfNames, memberOf maintained) or
        ``uniqueMember`` (groupOfUniqueNames) DNs; no members: one empty-DN value. ``ad=True``
        adds adTestGroup (sAMAccountName=cn, objectGUID, uSNChanged). Returns the DN."""
        dn = self.group_dn(cn)
        self.add(ldif_entry(dn, self.group_attrs(cn, members, kind, ad, **attrs)))
        return dn

    def set_members(self, group_cn: str, dns: list[str] | tuple[str, ...]) -> None:
        """Replace a group's members (empty: the one empty-DN value)."""
        dn = self.group_dn(group_cn)
        classes = self.object_classes(dn)
        kind = next((k for k in MEMBER_ATTR if k in classes), None)
        if kind is None:
            raise SlapdError(f"{dn} is not a groupOfNames or groupOfUniqueNames")
        changes: dict[str, Values] = {MEMBER_ATTR[kind]: list(dns) or [EMPTY_MEMBER]}
        if "adTestGroup" in classes:
            changes["uSNChanged"] = self.next_usn()
        self.replace(dn, **changes)

    def rename_user(self, old_uid: str, new_uid: str) -> str:
        """modrdn ``uid=old`` to ``uid=new`` (the old uid value goes): entryUUID stays, and the
        memberof overlay rewrites groupOfNames ``member`` values. An AD user's sAMAccountName
        follows and its uSNChanged moves on. Returns the new DN."""
        old_dn, new_dn = self.user_dn(old_uid), self.user_dn(new_uid)
        ad = self._is_ad(old_dn)
        self.modify(f"{ldif_line('dn', old_dn)}\nchangetype: modrdn\n"
                    f"{ldif_line('newrdn', f'uid={new_uid}')}\ndeleteoldrdn: 1\n")
        if ad:
            self.replace(new_dn, sAMAccountName=new_uid, uSNChanged=self.next_usn())
        return new_dn

    def lock_user(self, uid: str) -> None:
        """Lock for good (ppolicy: pwdAccountLockedTime 000001010000Z): binds then fail."""
        self.replace(self.user_dn(uid), pwdAccountLockedTime=LOCKED_FOREVER)

    def unlock_user(self, uid: str) -> None:
        self.replace(self.user_dn(uid), pwdAccountLockedTime=None)

    # -- bulk ----------------------------------------------------------------------------------
    def _slapadd(self, ldif: str) -> None:
        path = self.root / "load.ldif"
        path.write_text(ldif)
        try:
            result = subprocess.run([SLAPADD, "-q", "-f", str(self.conf), "-l", str(path)],
                                    capture_output=True, text=True, timeout=600)
        finally:
            path.unlink(missing_ok=True)
        if result.returncode != 0:
            raise SlapdError(f"slapadd failed ({result.returncode}): {result.stderr[-4000:]}")

    def bulk_load(self, ldif_text: str) -> None:
        """Load many entries fast: stop, ``slapadd -q``, start (same ports). slapadd runs no
        overlay, so the harness writes the groupOfNames members' memberOf itself; the entries
        get entryUUID and timestamps from slapadd; ``usn`` moves past any uSNChanged loaded.
        Base entries already exist: the LDIF must not repeat them."""
        entries = _parse_ldif(ldif_text)
        member_of: dict[str, list[str]] = {}
        for entry in entries:
            dn = _plain(entry[0][1])
            classes = {_plain(v).lower() for a, v in entry if a.lower() == "objectclass"}
            if "groupofnames" in classes:
                for attr, value in entry:
                    if attr.lower() == "member" and _plain(value):
                        member_of.setdefault(_norm_dn(_plain(value)), []).append(dn)
        out = []
        for entry in entries:
            lines = [f"{a}:{' ' if not v.startswith(':') else ''}{v}" for a, v in entry]
            lines += [ldif_line("memberOf", g)
                      for g in member_of.get(_norm_dn(_plain(entry[0][1])), [])]
            for attr, value in entry:
                if attr.lower() == "usnchanged":
                    self.usn = max(self.usn, int(_plain(value)))
            out.append("\n".join(lines) + "\n")
        was_running = self.running
        self.stop()
        self._slapadd("\n".join(out))
        if was_running:
            self.start()

    def bulk_ldif(self, users: int, groups: int, groups_per_user: int = 3, ad: bool = False,
                  password: str | None = None) -> str:
        """LDIF for :meth:`bulk_load`: users ``u00000``.. (cn ``User 00000``, mail
        ``u00000@example.org``) and groups ``g0000``.., each user in ``groups_per_user``
        groups (user i in groups i, i+1, .. modulo ``groups``). A password, if given, is
        hashed once and shared by everyone."""
        members: list[list[str]] = [[] for _ in range(groups)]
        hashed = ssha(password) if password else None
        parts = []
        for i in range(users):
            uid = f"u{i:05d}"
            attrs = self.user_attrs(uid, cn=f"User {i:05d}", mail=f"{uid}@example.org",
                                    ad=ad, userPassword=hashed)
            parts.append(ldif_entry(self.user_dn(uid), attrs))
            for k in range(min(groups_per_user, groups)):
                members[(i + k) % groups].append(self.user_dn(uid))
        for j in range(groups):
            cn = f"g{j:04d}"
            parts.append(ldif_entry(self.group_dn(cn), self.group_attrs(cn, members[j], ad=ad)))
        return "\n".join(parts)
