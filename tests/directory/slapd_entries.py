"""Writing to the private slapd (tests/directory/slapd.py) as its root DN: LDIF through the
OpenLDAP tools, users and groups (AD look-alikes included), and bulk loads with ``slapadd``."""
from __future__ import annotations

import os
import subprocess
import uuid

from .slapd_constants import (
    ADMIN_DN,
    EMPTY_MEMBER,
    LOCKED_FOREVER,
    MEMBER_ATTR,
    SLAPADD,
    UAC_NORMAL_ACCOUNT,
    SlapdError,
)
from .slapd_ldif import Values, _as_list, _norm_dn, _parse_ldif, _plain, ldif_entry, ldif_line, ssha


class SlapdEntries:
    """The writing half of :class:`Slapd` (mixed into it): needs its URL, root DN password,
    folders and ``start``/``stop``."""

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
