"""Read the directory's users and groups into plain values, all of it before anything is planned.

Every search is paged, so a server size limit below the directory's size never truncates it; a
search that fails, is cut short or answers with a referral (part of the tree is elsewhere) raises
``DirectoryUnavailable``: a partial read is never taken for "these users left".
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from ldap3 import SUBTREE
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import safe_dn

from governance.directory.connection import DirectorySettings, DirectoryUnavailable
from governance.directory.entries import disabled, stable_id

MAX_NESTING = 10  # nested groups deeper than this are not followed


@dataclass(slots=True)  # not frozen: twenty thousand are made per sync, frozen ones cost 3x
class DirectoryUser:
    id: str
    dn: str
    uuid: str
    name: str | None
    email: str | None
    disabled: bool
    member_of: frozenset[str] = frozenset()  # normalised group DNs (memberOf)


@dataclass
class DirectoryView:
    """What one read found: every group, and every user or (``complete`` False, a changed-only
    read) only the users changed since the last sync."""

    users: list[DirectoryUser]
    groups: dict[str, frozenset[str]]  # normalised group DN -> normalised member DNs
    high_water: str | None
    complete: bool = True


# What keeps a DN off the quickest path: an escape, quoting or multi-valued RDN, or whitespace
# beside a separator or at either end (which the comparison ignores).
_NOT_PLAIN = re.compile(r'[\\"+#<>;]|\s[,=]|[,=]\s|^\s|\s$')


@lru_cache(maxsize=1 << 16)
def normal_dn(dn: str) -> str:
    """A DN compared as the directory compares it: spacing and case do not matter. (Cached:
    the same member DNs come back in group after group.)"""
    if not _NOT_PLAIN.search(dn):  # the usual DN: nothing to strip or unescape
        return dn.lower()
    if not any(c in dn for c in '\\"+#<>;'):  # nothing escaped or multi-valued: split plainly
        return ",".join("=".join(p.strip() for p in rdn.split("=", 1))
                        for rdn in dn.split(",")).lower()
    try:
        return safe_dn(dn).lower()
    except (LDAPException, ValueError, TypeError, IndexError):
        return dn.strip().lower()


class DirectoryReader:
    """Reads users and groups with one service-account connection (owned by this reader)."""

    def __init__(self, settings: DirectorySettings,
                 progress: Callable[[str, int], None] | None = None):
        self.settings = settings
        self.progress = progress or (lambda _what, _n: None)
        ad = settings.dialect == "ad"
        self.uuid_attr = "objectGUID" if ad else "entryUUID"
        self.change_attr = "uSNChanged" if ad else "modifyTimestamp"
        self.lock_attr = "userAccountControl" if ad else "pwdAccountLockedTime"

    def read(self, since: str | None = None) -> DirectoryView:
        """Everything, or (``since`` a high-water mark) the users changed after it."""
        connection = self.settings.connect()
        try:
            groups, group_water = self._groups(connection)
            users, user_water = self._users(connection, since)
        except LDAPException as exc:
            raise DirectoryUnavailable(f"the directory search failed: {type(exc).__name__}: "
                                       f"{exc}") from None
        finally:
            _member_dn.cache_clear()  # it serves one read; a web worker keeps no county's DNs
            try:
                connection.unbind()
            except LDAPException:
                pass
        marks = [m for m in (group_water, user_water, since) if m]
        return DirectoryView(users, groups, self._newest(marks), since is None)

    # -- searches ---------------------------------------------------------------------------
    def _search(self, connection, base: str, query: str, attributes: list[str]
                ) -> Iterator[tuple[str, dict[str, list[bytes]]]]:
        for entry in connection.extend.standard.paged_search(
                base, query, search_scope=SUBTREE, attributes=attributes,
                paged_size=self.settings.page_size, generator=True):
            if entry["type"] == "searchResRef":
                raise DirectoryUnavailable(
                    f"the search under {base} was referred elsewhere ({entry.get('uri')}): "
                    "part of the directory is on another server; narrow the base")
            if entry["type"] != "searchResEntry":
                continue
            yield entry["dn"], _attributes(entry["raw_attributes"])

    def _groups(self, connection) -> tuple[dict[str, frozenset[str]], str | None]:
        groups: dict[str, frozenset[str]] = {}
        newest: list[str] = []
        attributes = ["member", "uniqueMember", self.change_attr]
        for dn, values in self._search(connection, self.settings.group_base,
                                       self.settings.group_filter, attributes):
            groups[normal_dn(dn)] = frozenset(
                [_member_dn(v) for v in values.get("member", ())]
                + [_member_dn(v) for v in values.get("uniquemember", ())])
            newest += [_text(v) for v in values.get(self.change_attr.lower(), [])]
        self.progress("groups", len(groups))
        return groups, self._newest(newest)

    def _users(self, connection, since: str | None) -> tuple[list[DirectoryUser], str | None]:
        s = self.settings
        query = s.user_filter if s.user_filter.startswith("(") else f"({s.user_filter})"
        if since is not None:
            query = f"(&{query}({self.change_attr}>={escape_filter_chars(self._after(since))}))"
        attributes = [s.user_id_attr, "displayName", "cn", "mail", "memberOf", self.uuid_attr,
                      self.change_attr, self.lock_attr]
        users, newest, batch = [], [], 0
        for dn, values in self._search(connection, s.user_base, query, attributes):
            user = self._user(dn, values)
            if user is not None:
                users.append(user)
            newest += [_text(v) for v in values.get(self.change_attr.lower(), [])]
            batch += 1
            if batch == 500:
                self.progress("users", batch)
                batch = 0
        self.progress("users", batch)
        return users, self._newest(newest)

    # -- values -----------------------------------------------------------------------------
    def _user(self, dn: str, values: dict[str, list[bytes]]) -> DirectoryUser | None:
        ids = values.get(self.settings.user_id_attr.lower())
        if not ids:
            return None  # an entry without the id attribute is no account of ours
        return DirectoryUser(
            id=_text(ids[0]), dn=dn, uuid=stable_id(values) or "",
            name=_first(values, "displayname") or _first(values, "cn"),
            email=_first(values, "mail"), disabled=disabled(values),
            member_of=frozenset(normal_dn(_text(v)) for v in values.get("memberof", [])))

    def _after(self, mark: str) -> str:
        """The filter value for "changed after": uSNChanged counts, so the next number."""
        return str(int(mark) + 1) if self.change_attr == "uSNChanged" else mark

    def _newest(self, marks: list[str]) -> str | None:
        if not marks:
            return None
        if self.change_attr == "uSNChanged":
            return str(max(int(m) for m in marks if m.isdigit()))
        return max(marks)  # generalized time in UTC ("...Z") sorts as text


@lru_cache(maxsize=1 << 17)
def _member_dn(value: bytes) -> str:
    """A ``member`` or ``uniqueMember`` value as a normalised DN (a ``uniqueMember``'s
    ``#uid`` suffix dropped). Cached on the raw value: each member is in several groups."""
    return normal_dn(_text(value).split("#", 1)[0])


def _attributes(raw: dict) -> dict[str, list[bytes]]:
    """Attribute values by lower-case name, ranged parts (``member;range=0-1499``) merged."""
    merged: dict[str, list[bytes]] = {}
    for name, values in raw.items():
        merged.setdefault(name.split(";", 1)[0].lower(), []).extend(values)
    return merged


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _first(values: dict[str, list[bytes]], name: str) -> str | None:
    found = values.get(name)
    return _text(found[0]) if found else None
