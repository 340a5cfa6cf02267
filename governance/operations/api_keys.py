"""Create, list, revoke and check API keys. Keys are shown once; only their digest is stored."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import utcnow
from governance.models import ApiKey
from governance.operations.errors import Conflict, Invalid, NotFound
from governance.operations.state import bump_revision
from governance.policy.snapshot import KeyInfo

SCOPES = ("decide", "manage")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
KEY = re.compile(r"^ntk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")


def digest(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough; nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class CreateApiKey:
    name: str
    scopes: tuple[str, ...] = ("decide",)
    actor: str = "cli"

    def execute(self, session: Session) -> str:
        if not NAME.match(self.name):
            rule = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"
            raise Invalid(f"invalid key name '{self.name[:100]}': {rule}", {"name": rule})
        bad = [s for s in self.scopes if s not in SCOPES]
        if bad or not self.scopes:
            raise Invalid(f"unknown scope(s) {bad}: choose from {', '.join(SCOPES)}",
                          {"scopes": f"choose from {', '.join(SCOPES)}"})
        if session.scalar(select(ApiKey.id).where(ApiKey.name == self.name)) is not None:
            raise Conflict(f"a key named '{self.name}' already exists", {"name": "taken"})
        prefix = secrets.token_hex(6)
        key = f"ntk_{prefix}_{secrets.token_urlsafe(32)}"
        session.add(ApiKey(name=self.name, prefix=prefix, digest=digest(key),
                           scopes=sorted(set(self.scopes))))
        bump_revision(session, [("api_keys", self.name)])
        audit.append(session, "api_key.created", {"name": self.name, "scopes": list(self.scopes)},
                     actor=self.actor, ref=self.name)
        session.commit()
        return key


@dataclass
class RevokeApiKey:
    name: str
    actor: str = "cli"

    def execute(self, session: Session) -> None:
        row = session.scalar(select(ApiKey).where(ApiKey.name == self.name).with_for_update())
        if row is None:
            raise NotFound(f"no key named '{self.name}'", {"name": "unknown"})
        if row.revoked_at is not None:
            raise Conflict(f"key '{self.name}' is already revoked", {"status": "revoked"})
        row.revoked_at = utcnow()
        bump_revision(session, [("api_keys", self.name)])
        audit.append(session, "api_key.revoked", {"name": self.name}, actor=self.actor,
                     ref=self.name)
        session.commit()


def authenticate(keys: dict[str, KeyInfo], presented: str) -> KeyInfo | None:
    """The live key matching ``presented``, compared in constant time; None otherwise."""
    match = KEY.match(presented or "")
    if not match:
        return None
    key = keys.get(match.group(1))
    if key is None:
        return None
    return key if hmac.compare_digest(key.digest, digest(presented)) else None


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
