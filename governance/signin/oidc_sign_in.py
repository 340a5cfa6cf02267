"""Signing in with what an OpenID Connect provider vouched for (contract section 8).

The provider's subject is a user when it equals the user's id; otherwise its e-mail, only when
the provider says it is verified, names the one user with that e-mail (compared without regard
to case; two users with it name no one). Only an ``active`` user signs in, and only with their
own roles: nothing in the token grants anything. A directory user's entry is read again, as
for a password sign-in (gone or locked there: refused; groups left: no power). A refusal gives
the same answer as a wrong password (the reason is audited, never told). The password lockout
does not apply: it guards the password, which this path never sees, and it leaves the
password's counters alone.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import DIRECTORY
from governance.directory.connection import (
    DirectoryConfigError,
    DirectorySettings,
    DirectoryUnavailable,
)
from governance.models import User
from governance.operations.common import locked_row
from governance.signin import directory_bind
from governance.signin.oidc import ProviderIdentity
from governance.signin.powers import unbacked_directory_roles
from governance.signin.sign_in import (
    DIRECTORY_UNREACHABLE,
    INACTIVE,
    SignedIn,
    SignInRefused,
    plausible_id,
    printable,
)

METHOD = "oidc"

# Reason codes of signin.failed (besides sign_in.INACTIVE and those of governance.signin.oidc).
UNKNOWN_SUBJECT = "oidc_unknown_subject"  # neither the subject nor a verified e-mail is a user
EMAIL_UNVERIFIED = "oidc_email_unverified"  # an e-mail that would match, but not verified
EMAIL_AMBIGUOUS = "oidc_email_ambiguous"  # a verified e-mail that several users have


@dataclass
class SignInWithProvider:
    identity: ProviderIdentity
    address: str | None
    now: datetime
    directory: Callable[[], DirectorySettings] | None = None  # read only for directory users

    def execute(self, session: Session) -> SignedIn:
        user, matched_by, reason = self._match(session)
        if user is None:
            self._record(session, "signin.failed", None, {"reason": reason})
            raise SignInRefused(reason)
        groups = self._directory_groups(session, user) if user.source == DIRECTORY else None
        user = locked_row(session, User, user.id)  # read fresh: disabled a moment ago counts
        if not user.active:
            self._record(session, "signin.failed", user.id, {"reason": INACTIVE})
            raise SignInRefused(INACTIVE)
        withdrawn = ([] if groups is None else
                     unbacked_directory_roles(session, user.id, groups))
        user.last_sign_in_at = self.now
        self._record(session, "signin.succeeded", user.id, {
            "matched_by": matched_by, "withdrawn": [list(pair) for pair in withdrawn]})
        return SignedIn(user.id, user.name, METHOD, self.now, withdrawn)

    def _directory_groups(self, session: Session, user: User) -> tuple[str, ...]:
        """A directory user's entry read again, as a password sign-in does (gone or locked
        there: refused; groups left since the sync: no power); no directory, no sign-in."""
        try:
            settings = self.directory() if self.directory else None
            if settings is None:
                raise DirectoryUnavailable("the directory is not configured for sign-in")
            check = directory_bind.read_directory_entry(settings, user.id, user.directory_uuid)
        except (DirectoryConfigError, DirectoryUnavailable) as exc:
            self._record(session, "signin.failed", user.id, {"reason": DIRECTORY_UNREACHABLE})
            raise DirectoryUnavailable(str(exc)) from None
        if check.outcome != directory_bind.ACCEPTED:
            self._record(session, "signin.failed", user.id, {"reason": check.outcome})
            raise SignInRefused(check.outcome)
        return check.groups

    def _match(self, session: Session) -> tuple[User | None, str | None, str | None]:
        """(user, "sub" or "email", None), or (None, None, the reason no one matched)."""
        subject = self.identity.subject
        user = session.get(User, subject) if plausible_id(subject) else None
        if user is not None:
            return user, "sub", None
        email = (self.identity.email or "").strip().lower()
        if not email:
            return None, None, UNKNOWN_SUBJECT
        found = session.scalars(select(User).where(func.lower(User.email) == email)
                                .limit(2)).all()
        if not found:
            return None, None, UNKNOWN_SUBJECT
        if not self.identity.email_verified:
            return None, None, EMAIL_UNVERIFIED
        if len(found) > 1:
            return None, None, EMAIL_AMBIGUOUS
        return found[0], "email", None

    def _record(self, session: Session, kind: str, user_id: str | None, payload: dict) -> None:
        identity = self.identity
        audit.append(session, kind, {
            "user": user_id, "address": self.address, "method": METHOD,
            "issuer": identity.issuer, "sub": printable(identity.subject),
            "email": printable(identity.email) if identity.email else None, **payload},
            actor=user_id if kind == "signin.succeeded" else None, subject=user_id,
            ref=user_id, at=self.now)
        session.commit()


def record_provider_failure(session: Session, reason: str, error: str | None,
                            address: str | None, now: datetime) -> None:
    """Audit a flow that ended before the provider named anyone (``signin.failed``)."""
    audit.append(session, "signin.failed", {
        "user": None, "address": address, "method": METHOD, "reason": reason,
        "error": error}, at=now)
    session.commit()
