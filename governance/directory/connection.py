"""Connections to the directory, with the settings every use shares (contract section 8).

ldap3's defaults are unsafe for us, so each is set here once: TLS certificates are verified
(ldap3 does not unless told to), referrals are not followed, every failure raises (ldap3 returns
``False`` otherwise, which a caller could read as "no users"), and a connection belongs to one
caller (the SYNC strategy is not thread-safe). Plain ``ldap://`` without StartTLS is accepted
only to a loopback address, where nothing crosses a network.
"""
from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ldap3 import NONE, SYNC, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException

from governance.errors import Unavailable


class DirectoryUnavailable(Unavailable):
    """The directory could not be reached, or refused or broke off a search: act on nothing."""

    code = "directory_unavailable"


REQUIRED_SETTINGS = ("GOVERNANCE_LDAP_URL", "GOVERNANCE_LDAP_USER_BASE",
                     "GOVERNANCE_LDAP_GROUP_BASE")


class DirectoryConfigError(RuntimeError):
    """The directory settings are missing or unsafe (raised at use, naming the setting)."""

    def __init__(self, message: str, missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.missing = missing  # the required settings that are not set, if that is why


@dataclass(frozen=True)
class DirectorySettings:
    url: str
    bind_dn: str | None
    bind_password: str | None
    user_base: str
    group_base: str
    user_filter: str
    user_id_attr: str
    group_filter: str
    start_tls: bool = False
    ca_file: str | None = None
    nested_groups: bool = False
    max_leavers: int = 0
    timeout: int = 10
    page_size: int = 500

    @classmethod
    def from_config(cls, config: dict) -> DirectorySettings:
        missing = [k for k in REQUIRED_SETTINGS if not config.get(k)]
        if missing:
            raise DirectoryConfigError("the directory is not configured: set "
                                       + ", ".join(missing), tuple(missing))
        settings = cls(
            url=str(config["GOVERNANCE_LDAP_URL"]),
            bind_dn=config.get("GOVERNANCE_LDAP_BIND_DN") or None,
            bind_password=config.get("GOVERNANCE_LDAP_BIND_PASSWORD") or None,
            user_base=str(config["GOVERNANCE_LDAP_USER_BASE"]),
            group_base=str(config["GOVERNANCE_LDAP_GROUP_BASE"]),
            user_filter=str(config["GOVERNANCE_LDAP_USER_FILTER"]),
            user_id_attr=str(config["GOVERNANCE_LDAP_USER_ID_ATTR"]),
            group_filter=str(config["GOVERNANCE_LDAP_GROUP_FILTER"]),
            start_tls=bool(config.get("GOVERNANCE_LDAP_START_TLS")),
            ca_file=config.get("GOVERNANCE_LDAP_CA_FILE") or None,
            nested_groups=bool(config.get("GOVERNANCE_LDAP_NESTED_GROUPS")),
            max_leavers=int(config.get("GOVERNANCE_LDAP_MAX_LEAVERS") or 0),
            timeout=int(config.get("GOVERNANCE_LDAP_TIMEOUT_SECONDS") or 10),
            page_size=int(config.get("GOVERNANCE_LDAP_PAGE_SIZE") or 500))
        settings.check()
        return settings

    @property
    def dialect(self) -> str:
        """``ad`` when users are named by ``sAMAccountName``, else ``openldap``."""
        return "ad" if self.user_id_attr.lower() == "samaccountname" else "openldap"

    def check(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise DirectoryConfigError("GOVERNANCE_LDAP_URL: ldap://host[:port] or "
                                       "ldaps://host[:port]")
        if parts.scheme == "ldap" and not self.start_tls and not _loopback(parts.hostname):
            raise DirectoryConfigError(
                "GOVERNANCE_LDAP_URL: plain ldap:// would send passwords in clear; use "
                "ldaps:// or set GOVERNANCE_LDAP_START_TLS=true")

    def server(self) -> Server:
        parts = urlsplit(self.url)
        secure = parts.scheme == "ldaps"
        tls = Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.ca_file,
                  version=ssl.PROTOCOL_TLS_CLIENT) if secure or self.start_tls else None
        return Server(parts.hostname, port=parts.port or (636 if secure else 389),
                      use_ssl=secure, tls=tls, get_info=NONE, connect_timeout=self.timeout)

    def connect(self, dn: str | None = None, password: str | None = None) -> Connection:
        """A bound, read-only connection: as the service account, or as ``dn`` to check a
        user's password. Raises ``DirectoryUnavailable`` if the server cannot be reached and
        ``ldap3``'s ``LDAPInvalidCredentialsResult`` if the credentials are wrong."""
        user, secret = (dn, password) if dn is not None else (self.bind_dn, self.bind_password)
        connection = Connection(self.server(), user=user, password=secret, read_only=True,
                                client_strategy=SYNC, auto_referrals=False,
                                raise_exceptions=True, receive_timeout=self.timeout,
                                auto_bind=False)
        try:
            connection.open()
            if self.start_tls and not connection.server.ssl:
                connection.start_tls()
            connection.bind()
        except LDAPException as exc:
            try:
                connection.unbind()
            except LDAPException:
                pass
            if _wrong_credentials(exc):
                raise
            raise DirectoryUnavailable(f"the directory at {self.url} cannot be used: "
                                       f"{type(exc).__name__}: {exc}") from None
        return connection


def _wrong_credentials(exc: LDAPException) -> bool:
    return getattr(exc, "result", None) == 49  # invalidCredentials


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
