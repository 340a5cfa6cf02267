"""The sign-in and sign-out operations (contract section 8).

One answer for every refusal a guesser could learn from (unknown user, wrong password,
inactive or locked account), after comparable work (an unknown user's password is checked
against a dummy hash). The reason is in the audit row, never in the answer; the password is in
neither. Failures are counted in a 15-minute window; ``max_failures`` of them lock the account
for 15 minutes. The password is checked without holding any lock (a hash takes 0.2 s, a bind
longer); only the few writes that record the outcome take the user's row.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso
from governance.db import DIRECTORY
from governance.directory.connection import (
    DirectoryConfigError,
    DirectorySettings,
    DirectoryUnavailable,
)
from governance.errors import GovernanceError, Invalid
from governance.models import User
from governance.operations.common import locked_row
from governance.signin import directory_bind
from governance.signin.passwords import MAX_PASSWORD_CHARS, burn_time, check_password
from governance.signin.powers import unbacked_directory_roles

FAILURE_WINDOW = timedelta(minutes=15)
LOCK_PERIOD = timedelta(minutes=15)
MAX_ID_CHARS = 200

REFUSAL = ("Sign-in failed: the user or the password is wrong, or the account is locked "
           "after too many failed attempts (it unlocks by itself after 15 minutes).")

# Reason codes of signin.failed (besides those of governance.signin.directory_bind).
UNKNOWN_USER, INACTIVE, LOCKED = "unknown_user", "inactive", "locked"
NO_PASSWORD_SET, EMPTY_PASSWORD, EMPTY_USER = "no_password_set", "empty_password", "empty_user"
DIRECTORY_UNREACHABLE = "directory_unavailable"


class SignInRefused(GovernanceError):
    """The one answer to a failed sign-in (the reason is audited, not told)."""

    status, code = 401, "sign_in_failed"

    def __init__(self, reason: str):
        super().__init__(REFUSAL)
        self.reason = reason


@dataclass
class SignedIn:
    user_id: str
    name: str | None
    method: str  # password | directory
    at: datetime
    # Directory assignments the directory no longer backs (see powers.powers_of).
    withdrawn: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class SignIn:
    user_id: object
    password: object
    address: str | None
    now: datetime
    max_failures: int = 5
    directory: Callable[[], DirectorySettings] | None = None  # read only for directory users
    _rehashed: str | None = field(default=None, init=False, repr=False)

    def execute(self, session: Session) -> SignedIn:
        name = self.user_id.strip() if isinstance(self.user_id, str) else ""
        password = self.password if isinstance(self.password, str) else ""
        if not name or not password:
            missing = {"user": "required"} if not name else {"password": "required"}
            self._record(session, "signin.failed", name,
                         {"reason": EMPTY_PASSWORD if not password else EMPTY_USER})
            raise Invalid("Enter your user name and your password.", missing)
        user = session.get(User, name) if plausible_id(name) else None
        reason = self._refusal_before_check(user)
        check = None
        if reason is not None:
            burn_time(password)
        else:
            try:
                check = self._check(user, password)
            except DirectoryUnavailable:
                self._record(session, "signin.failed", user.id,
                             {"reason": DIRECTORY_UNREACHABLE})
                raise
            reason = None if check.outcome == directory_bind.ACCEPTED else check.outcome
        if user is None:
            self._record(session, "signin.failed", name, {"reason": reason})
            raise SignInRefused(reason)
        user = locked_row(session, User, user.id)  # the counters are updated one at a time
        if reason is not None:
            self._failed(session, user, reason)
            raise SignInRefused(reason)
        return self._succeeded(session, user, check)

    def _refusal_before_check(self, user: User | None) -> str | None:
        if user is None:
            return UNKNOWN_USER
        if not user.active:
            return INACTIVE
        if user.locked_until is not None and user.locked_until > self.now:
            return LOCKED
        if user.source != DIRECTORY and not user.password_hash:
            return NO_PASSWORD_SET
        return None

    def _check(self, user: User, password: str) -> directory_bind.DirectoryCheck:
        if len(password) > MAX_PASSWORD_CHARS:
            burn_time(password[:MAX_PASSWORD_CHARS])
            return directory_bind.DirectoryCheck(directory_bind.WRONG_PASSWORD)
        if user.source != DIRECTORY:
            ok, self._rehashed = check_password(user.password_hash, password)
            return directory_bind.DirectoryCheck(
                directory_bind.ACCEPTED if ok else directory_bind.WRONG_PASSWORD)
        try:
            settings = self.directory() if self.directory else None
        except DirectoryConfigError as exc:
            raise DirectoryUnavailable(str(exc)) from None
        if settings is None:
            raise DirectoryUnavailable("the directory is not configured for sign-in")
        return directory_bind.check_directory_password(settings, user.id, user.directory_uuid,
                                                       password)

    def _failed(self, session: Session, user: User, reason: str) -> None:
        payload: dict = {"reason": reason}
        locked = False
        if reason == directory_bind.WRONG_PASSWORD:
            if user.failures_since is None or user.failures_since <= self.now - FAILURE_WINDOW:
                user.failed_sign_ins, user.failures_since = 0, self.now
            user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
            payload["failures"] = user.failed_sign_ins
            if user.failed_sign_ins >= self.max_failures:
                user.locked_until = self.now + LOCK_PERIOD
                user.failed_sign_ins, user.failures_since = 0, None
                locked = True
        self._record(session, "signin.failed", user.id, payload, commit=not locked)
        if locked:
            self._record(session, "signin.locked", user.id,
                         {"failures": payload["failures"], "until": iso(user.locked_until)})

    def _succeeded(self, session: Session, user: User,
                   check: directory_bind.DirectoryCheck) -> SignedIn:
        method = "directory" if user.source == DIRECTORY else "password"
        withdrawn = (unbacked_directory_roles(session, user.id, check.groups)
                     if method == "directory" else [])
        if self._rehashed:
            user.password_hash = self._rehashed
        user.failed_sign_ins, user.failures_since, user.locked_until = 0, None, None
        user.last_sign_in_at = self.now
        if check.dn and check.dn != user.directory_dn:
            user.directory_dn = check.dn  # where it binds now (the sync may not have run yet)
        self._record(session, "signin.succeeded", user.id, {
            "method": method, "withdrawn": [list(pair) for pair in withdrawn]})
        return SignedIn(user.id, user.name, method, self.now, withdrawn)

    def _record(self, session: Session, kind: str, user_id: str, payload: dict, *,
                commit: bool = True) -> None:
        subject = user_id if plausible_id(user_id) else None
        audit.append(session, kind, {"user": printable(user_id), "address": self.address,
                                     **payload},
                     actor=subject if kind == "signin.succeeded" else None, subject=subject,
                     ref=subject, at=self.now)
        if commit:
            session.commit()


@dataclass
class SignOut:
    user_id: str
    address: str | None
    now: datetime
    reason: str = "signed_out"  # or idle, inactive, credentials_changed

    def execute(self, session: Session) -> None:
        audit.append(session, "signout", {"user": self.user_id, "address": self.address,
                                          "reason": self.reason},
                     actor=self.user_id if self.reason == "signed_out" else None,
                     subject=self.user_id, ref=self.user_id, at=self.now)
        session.commit()


def plausible_id(name: str) -> bool:
    """Could be a user id: 1-200 characters, none of them a control character (a NUL would
    not even reach PostgreSQL)."""
    return 0 < len(name) <= MAX_ID_CHARS and not any(
        unicodedata.category(c) == "Cc" for c in name)


def printable(name: str) -> str:
    """The submitted name as the audit trail shows it: at most 200 characters, control
    characters written as escapes."""
    return "".join(c if unicodedata.category(c) != "Cc" else repr(c)[1:-1]
                   for c in name[:MAX_ID_CHARS])
