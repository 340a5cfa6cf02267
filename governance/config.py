"""Configuration keys: GOVERNANCE_* environment variables (or a host app's config)."""
from __future__ import annotations

import os

DEFAULTS: dict[str, object] = {
    # SQLAlchemy URL; default is a SQLite file in the instance folder (set in create_app).
    "GOVERNANCE_DATABASE_URL": None,
    # Signs console sessions and CSRF tokens; create_app generates a per-process one if unset.
    "GOVERNANCE_SECRET_KEY": None,
    "GOVERNANCE_LDAP_URL": None,
    "GOVERNANCE_LDAP_BIND_DN": None,
    "GOVERNANCE_LDAP_BIND_PASSWORD": None,
    "GOVERNANCE_LDAP_USER_BASE": None,
    "GOVERNANCE_LDAP_GROUP_BASE": None,
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
}

AUDIT_DURABILITY = ("fsync", "commit")

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
                value = int(value)  # type: ignore[arg-type]
            found[key] = value
    return found


def flag(key: str, text: str) -> bool:
    """A yes/no environment variable; anything else is a configuration error."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise RuntimeError(f"{key} must be true or false, not {text!r}")
