"""Check a directory user's password by binding as them, and read their entry again.

Each sign-in looks the person up afresh as the service account, so a removal or a lock in the
directory counts at once, before the next sync: an entry that is gone, locked (OpenLDAP
``pwdAccountLockedTime``, Active Directory ``userAccountControl`` bit 2) or now someone else's
(another ``entryUUID`` behind the same id) refuses the sign-in. Every value put in a filter is
escaped; an empty password never reaches a bind (it would be an anonymous bind that succeeds).
"""
from __future__ import annotations

from dataclasses import dataclass

from ldap3 import NO_ATTRIBUTES, SUBTREE
from ldap3.core.exceptions import LDAPException, LDAPInvalidCredentialsResult
from ldap3.utils.conv import escape_filter_chars

from governance.directory.connection import DirectorySettings, DirectoryUnavailable
from governance.directory.entries import disabled, stable_id, uuid_text

ENTRY_ATTRIBUTES = ["entryUUID", "objectGUID", "pwdAccountLockedTime", "userAccountControl"]

# Outcomes of a check (the reason code a refusal is audited with).
ACCEPTED = "accepted"
WRONG_PASSWORD = "wrong_password"
NOT_IN_DIRECTORY = "not_in_directory"
DIRECTORY_DISABLED = "directory_disabled"
DIRECTORY_MISMATCH = "directory_mismatch"


@dataclass(frozen=True)
class DirectoryCheck:
    outcome: str
    dn: str | None = None
    groups: tuple[str, ...] = ()


def check_directory_password(settings: DirectorySettings, user_id: str,
                             known_uuid: str | None, password: str) -> DirectoryCheck:
    """Find ``user_id``'s entry as the service account, refuse it if it is gone, locked or
    someone else's, bind as it with ``password``, and read the groups it is a member of now.

    Raises ``DirectoryUnavailable`` when the directory cannot answer (nothing is concluded).
    """
    if not password:
        raise ValueError("an empty password must be refused before any bind")
    return _check_entry(settings, user_id, known_uuid, password)


def read_directory_entry(settings: DirectorySettings, user_id: str,
                         known_uuid: str | None) -> DirectoryCheck:
    """The same checks and groups without a bind, for someone another party vouched for (an
    OpenID Connect provider): a user gone or locked in the directory is refused there too."""
    return _check_entry(settings, user_id, known_uuid, None)


def _check_entry(settings: DirectorySettings, user_id: str, known_uuid: str | None,
                 password: str | None) -> DirectoryCheck:
    service = settings.connect()
    try:
        entries = _search(service, settings, settings.user_base,
                          user_filter(settings, user_id), ENTRY_ATTRIBUTES)
        if len(entries) != 1:
            return DirectoryCheck(NOT_IN_DIRECTORY)
        dn, attributes = entries[0]
        if disabled(attributes):
            return DirectoryCheck(DIRECTORY_DISABLED, dn)
        known, found = uuid_text(known_uuid or ""), stable_id(attributes)
        if known and found and known != found:
            return DirectoryCheck(DIRECTORY_MISMATCH, dn)
        if password is not None:
            try:
                settings.connect(dn=dn, password=password).unbind()
            except LDAPInvalidCredentialsResult:
                return DirectoryCheck(WRONG_PASSWORD, dn)
        groups = _search(service, settings, settings.group_base, member_filter(settings, dn),
                         [NO_ATTRIBUTES])
        return DirectoryCheck(ACCEPTED, dn, tuple(sorted(g for g, _ in groups)))
    finally:
        service.unbind()


def user_filter(settings: DirectorySettings, user_id: str) -> str:
    """``(&USER_FILTER(ID_ATTR=value))`` with the value escaped (``*``, ``(``, NUL...)."""
    return (f"(&{settings.user_filter}"
            f"({settings.user_id_attr}={escape_filter_chars(user_id)}))")


def member_filter(settings: DirectorySettings, dn: str) -> str:
    """Groups of the configured kinds that name ``dn`` as a member."""
    value = escape_filter_chars(dn)
    return f"(&{settings.group_filter}(|(member={value})(uniqueMember={value})))"


def _search(connection, settings: DirectorySettings, base: str, search_filter: str,  # noqa: ANN001
            attributes: list[str]) -> list[tuple[str, dict]]:
    """(dn, raw attributes) of each entry found, in pages (a server's size limit is no
    partial answer); any failure is the directory's, never read as "no one"."""
    try:
        found = connection.extend.standard.paged_search(
            base, search_filter, search_scope=SUBTREE, attributes=attributes,
            paged_size=settings.page_size, generator=False)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"a directory search failed: {type(exc).__name__}") from None
    return [(e["dn"], e.get("raw_attributes") or {}) for e in found
            if e.get("type") == "searchResEntry"]
