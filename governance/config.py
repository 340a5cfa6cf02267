"""Configuration keys: GOVERNANCE_* environment variables (or a host app's config)."""
from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit

DEFAULTS: dict[str, object] = {
    # SQLAlchemy URL; default is a SQLite file in the instance folder (set in create_app).
    "GOVERNANCE_DATABASE_URL": None,
    # Signs console sessions and CSRF tokens: one value for every worker and instance. The
    # standalone service refuses to start without it, except in development (see secret_key).
    "GOVERNANCE_SECRET_KEY": None,
    # The directory (contract section 8): ldap:// with START_TLS, or ldaps://; certificates are
    # always verified (against CA_FILE when set, else the system's store).
    "GOVERNANCE_LDAP_URL": None,
    "GOVERNANCE_LDAP_START_TLS": False,
    "GOVERNANCE_LDAP_CA_FILE": None,
    "GOVERNANCE_LDAP_BIND_DN": None,
    "GOVERNANCE_LDAP_BIND_PASSWORD": None,
    "GOVERNANCE_LDAP_USER_BASE": None,
    "GOVERNANCE_LDAP_GROUP_BASE": None,
    "GOVERNANCE_LDAP_USER_FILTER": "(objectClass=inetOrgPerson)",
    "GOVERNANCE_LDAP_USER_ID_ATTR": "uid",
    "GOVERNANCE_LDAP_GROUP_FILTER": "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
    "GOVERNANCE_LDAP_NESTED_GROUPS": False,
    # A sync that would disable more users than this changes nothing (0: 10% of the
    # directory's users, at least 5).
    "GOVERNANCE_LDAP_MAX_LEAVERS": 0,
    "GOVERNANCE_LDAP_TIMEOUT_SECONDS": 10,
    "GOVERNANCE_LDAP_PAGE_SIZE": 500,
    # Console sign-in: idle sessions end; repeated failures lock the account for 15 minutes.
    "GOVERNANCE_SESSION_IDLE_MINUTES": 30,
    "GOVERNANCE_LOGIN_MAX_FAILURES": 5,
    # Sensitive actions (break-glass, applying changes) need a sign-in this recent.
    "GOVERNANCE_FRESH_SIGN_IN_MINUTES": 10,
    # Flask-Limiter storage for sign-in rate limits (redis://...); memory when unset.
    "GOVERNANCE_RATELIMIT_STORAGE_URL": None,
    # Sign-in attempts (POSTs of the console's sign-in form) allowed per client address and per
    # submitted user name, in Flask-Limiter's notation ("20 per minute; 200 per hour").
    "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "20 per minute; 200 per hour",
    "GOVERNANCE_SIGNIN_RATE_PER_USER": "10 per minute; 50 per hour",
    # OpenID Connect sign-in, when the metadata URL is set.
    "GOVERNANCE_OIDC_METADATA_URL": None,
    "GOVERNANCE_OIDC_CLIENT_ID": None,
    "GOVERNANCE_OIDC_CLIENT_SECRET": None,
    # Service-wide cap for override durations, in minutes.
    "GOVERNANCE_MAX_OVERRIDE_MINUTES": 480,
    # Maximum number of evaluations accepted in one AuthZEN batch.
    "GOVERNANCE_MAX_BATCH": 1000,
    # When a decision may be answered: "fsync" (default) once its audit row is committed and
    # flushed to disk; "commit" once it is committed (it survives any worker crash, but a
    # database server or power failure in the next fraction of a second may lose it).
    "GOVERNANCE_AUDIT_DURABILITY": "fsync",
    # Answer decision calls (POST /api/v1/decisions, /access/v1/evaluation) in WSGI, outside
    # Flask's request machinery (a quarter of a decision's CPU under load). Off for host apps,
    # whose own request hooks would not run for those calls; create_app turns it on.
    "GOVERNANCE_DIRECT_DECISIONS": False,
    # A pending override request lapses after this many minutes without approval.
    "GOVERNANCE_PENDING_OVERRIDE_MINUTES": 1440,
    # Break-glass uses by one user within 30 days that raise an alert.
    "GOVERNANCE_BREAK_GLASS_ALERT": 3,
    # Notifications by e-mail when GOVERNANCE_SMTP_HOST is set (else they are logged).
    "GOVERNANCE_SMTP_HOST": None,
    "GOVERNANCE_SMTP_PORT": 587,
    "GOVERNANCE_SMTP_USER": None,
    "GOVERNANCE_SMTP_PASSWORD": None,
    "GOVERNANCE_SMTP_FROM": "need-to-know@localhost",
    "GOVERNANCE_SMTP_STARTTLS": "true",
    # The public URL: AuthZEN metadata and links are built from it, never from a request's Host.
    "GOVERNANCE_BASE_URL": "http://127.0.0.1:5000",
    # Host names our paths answer (comma separated); default: the base URL's host, localhost,
    # 127.0.0.1 and ::1. Any other Host header is a 400.
    "GOVERNANCE_ALLOWED_HOSTS": None,
    # Strict-Transport-Security max-age in seconds; 0 sends none (set it once served over HTTPS).
    "GOVERNANCE_HSTS_SECONDS": 0,
    # Request bodies: at most this many bytes (413 beyond), the AuthZEN batch its own.
    "GOVERNANCE_MAX_BODY_BYTES": 1 << 20,
    "GOVERNANCE_MAX_BATCH_BODY_BYTES": 16 << 20,
    # JSON bodies nested deeper than this are a 400.
    "GOVERNANCE_MAX_JSON_DEPTH": 32,
    # A request not decided within this many milliseconds is a 503 (never an allow).
    "GOVERNANCE_DECISION_TIMEOUT_MS": 2000,
    # Keys the audit chain (HMAC-SHA256); held outside the database. Without it the chain is
    # plain SHA-256 and anyone who can write the database could re-chain it unnoticed.
    "GOVERNANCE_AUDIT_KEY": None,
}

# Set by create_app: the standalone service owns every path (JSON errors and security headers
# everywhere); mounted in a host app, only our own paths are ours.
STANDALONE = "GOVERNANCE_STANDALONE"
# app.extensions key of the console's page for an address under it that no route answers
# (routing fails before a blueprint is known, so the app's error handler asks it).
UNROUTED_CONSOLE_PAGE = "governance_console_unrouted"

AUDIT_DURABILITY = ("fsync", "commit")
# Whole-number settings that not every non-negative value suits: (least, most). A decision
# timeout of 0 would answer every decision 503; ten minutes is beyond any caller's wait.
RANGES: dict[str, tuple[int, int]] = {"GOVERNANCE_DECISION_TIMEOUT_MS": (1, 600_000)}

ENV_KEYS = [k for k in DEFAULTS]


def from_environment() -> dict[str, object]:
    """The GOVERNANCE_* variables that are set in the environment."""
    found: dict[str, object] = {}
    for key in ENV_KEYS:
        if key in os.environ:
            value: object = os.environ[key]
            if isinstance(DEFAULTS[key], bool):
                value = flag(key, os.environ[key])
            elif isinstance(DEFAULTS[key], int):
                value = integer(key, os.environ[key])
            found[key] = value
    return found


SECRET_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_hex(32))"'


def secret_key(config: dict, *, development: bool) -> str:
    """GOVERNANCE_SECRET_KEY, required outside development: a key made per process would
    sign each worker's sessions differently and forget them all at a restart."""
    key = config.get("GOVERNANCE_SECRET_KEY")
    if key:
        return str(key)
    if development:
        return secrets.token_hex(32)
    raise RuntimeError(
        "GOVERNANCE_SECRET_KEY is not set. It signs the console's sessions and forms and "
        "must be one value for every worker and instance. Generate one with\n"
        f"    {SECRET_KEY_COMMAND}\n"
        "and set it in the environment: export GOVERNANCE_SECRET_KEY=<that value>")


def flag(key: str, text: str) -> bool:
    """A yes/no environment variable; anything else is a configuration error."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise RuntimeError(f"{key} must be true or false, not {text!r}")


def integer(key: str, text: str) -> int:
    """A whole-number environment variable within its range (``RANGES``, else not negative);
    anything else is a configuration error."""
    try:
        value = int(text.strip())
    except ValueError:
        raise RuntimeError(f"{key} must be {whole_number(key)}, not {text!r}") from None
    return in_range(key, value)


def whole_number(key: str) -> str:
    """The values a whole-number setting may take, in words."""
    low, high = RANGES.get(key, (0, None))
    return f"a whole number from {low} to {high}" if high is not None else \
        f"a whole number, {low} or more"


def in_range(key: str, value: object) -> int:
    """``value`` as the whole number ``key`` needs; a configuration error outside its range
    (a host app may pass anything in its config, so a string or a bool is refused too)."""
    low, high = RANGES.get(key, (0, None))
    if not isinstance(value, int) or isinstance(value, bool) or value < low \
            or (high is not None and value > high):
        raise RuntimeError(f"{key} must be {whole_number(key)}, not {value!r}")
    return value


def check_ranges(config: dict) -> None:
    """Every setting of ``RANGES`` as given (environment or a host app's config)."""
    for key in RANGES:
        in_range(key, config[key])


def allowed_hosts(config: dict) -> frozenset[str]:
    """The host names (lower case, without port) that our paths answer."""
    listed = config.get("GOVERNANCE_ALLOWED_HOSTS")
    if listed:
        return frozenset(h.strip().lower() for h in str(listed).split(",") if h.strip())
    base = urlsplit(str(config["GOVERNANCE_BASE_URL"])).hostname or ""
    return frozenset({base.lower(), "localhost", "127.0.0.1", "::1"} - {""})


def host_name(host_header: str) -> str:
    """``Host`` without its port, lower case (``[::1]:5000`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def check_base_url(url: object) -> None:
    """GOVERNANCE_BASE_URL must be an absolute http(s) URL; a configuration error otherwise."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeError(f"GOVERNANCE_BASE_URL must be an absolute http(s) URL such as "
                           f"https://governance.example.org, not {url!r}")
