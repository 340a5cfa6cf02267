"""The console's Flask-Login session: who is signed in, for how long, with which powers.

The session is Flask's signed cookie; besides Flask-Login's user id it keeps when the user
signed in, when they were last seen (idle sessions end after
``GOVERNANCE_SESSION_IDLE_MINUTES``), a keyed mark of the password hash (a new password ends
the sessions made with the old one) and the directory assignments their groups no longer
backed at sign-in. Every console request checks it on the server again: an account disabled
since, or a session idle too long, is signed out there and then (audited as ``signout``).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_fresh,
    login_user,
    logout_user,
)

from governance.extension import state
from governance.models import User
from governance.signin.powers import Powers, powers_of
from governance.signin.sign_in import SignedIn, SignOut

SIGN_IN_ENDPOINT = "governance_console.sign_in"
SIGNED_IN_AT, SEEN = "governance_signed_in_at", "governance_seen"
CREDENTIAL, WITHDRAWN = "governance_credential", "governance_withdrawn"
OUR_KEYS = (SIGNED_IN_AT, SEEN, CREDENTIAL, WITHDRAWN)


class ConsoleUser(UserMixin):
    """What Flask-Login holds for a signed-in person: their id (the row is read per request)."""

    def __init__(self, user_id: str):
        self.id = user_id


def install_login(app: Flask, login_manager: LoginManager | None) -> LoginManager:
    """Use the app's LoginManager (a host's, or the standalone one); load our users by id
    unless the host already loads its own users: their ids are then ours, or
    ``Governance(app, user_id_of=...)`` maps them (and the host signs people in)."""
    if login_manager is None:
        login_manager = LoginManager()
        login_manager.init_app(app)
    if getattr(login_manager, "_user_callback", None) is None:
        login_manager.user_loader(load_console_user)
    return login_manager


def host_signs_in() -> bool:
    """The host signs people in (``Governance(app, user_id_of=...)``), not our sign-in page."""
    return state().user_id_of is not None


def governance_user_id() -> str | None:
    """Our user id for Flask-Login's current user (mapped from the host's user), or None."""
    if not current_user.is_authenticated:
        return None
    if not host_signs_in():
        return current_user.get_id()
    user_id = state().user_id_of(current_user._get_current_object())
    return str(user_id) if user_id else None


def load_console_user(user_id: str) -> ConsoleUser | None:
    """Flask-Login's loader: only an active user's session is accepted."""
    user = state().session.get(User, user_id)
    return ConsoleUser(user.id) if user is not None and user.active else None


def client_address() -> str | None:
    return request.remote_addr


def begin_session(signed: SignedIn, user: User) -> None:
    """A new session for ``user`` (nothing of the one before sign-in carries over)."""
    session.clear()
    login_user(ConsoleUser(signed.user_id), remember=False, fresh=True)
    session[SIGNED_IN_AT] = session[SEEN] = signed.at.isoformat()
    session[CREDENTIAL] = credential_mark(user)
    session[WITHDRAWN] = [list(pair) for pair in signed.withdrawn]


def end_session(reason: str = "signed_out") -> None:
    """Sign the current user out, audited with ``reason`` (signed_out, idle, inactive...)."""
    user_id = session.get("_user_id") if SIGNED_IN_AT in session else None
    if current_user.is_authenticated:
        user_id = governance_user_id()
    logout_user()
    for key in OUR_KEYS:
        session.pop(key, None)
    g.pop("governance_user", None)
    if user_id is not None:
        SignOut(user_id, client_address(), state().clock(), reason).execute(state().session)


def credential_mark(user: User) -> str:
    """A keyed digest of what the user signs in with, so a new password ends old sessions."""
    secret = str(current_app.secret_key or "").encode()
    what = f"{user.id}\0{user.source}\0{user.password_hash or ''}".encode()
    return hmac.new(secret, what, hashlib.sha256).hexdigest()[:32]


def signed_in_user() -> User | None:
    """The active user this request is signed in as, checked on the server (cached per
    request); a session past its idle time or of an account no longer active ends here."""
    if "governance_user" in g:
        return g.governance_user
    g.governance_user = None
    if not current_user.is_authenticated:
        if SIGNED_IN_AT in session:  # ours, but the loader refused it: no longer active
            end_session("inactive")
        return None
    user_id = governance_user_id()
    user = state().session.get(User, user_id) if user_id else None
    now = state().clock()
    ours = SIGNED_IN_AT in session  # began by our sign-in page (not by a host's)
    reason = None
    if user is None or not user.active:
        reason = "inactive"
    elif ours and not hmac.compare_digest(str(session.get(CREDENTIAL, "")),
                                          credential_mark(user)):
        reason = "credentials_changed"
    elif ours and _idle_since(now) > timedelta(minutes=_idle_minutes()):
        reason = "idle"
    if reason is not None:
        if ours:
            end_session(reason)
            g.governance_session_ended = reason
        return None
    if ours:
        session[SEEN] = now.isoformat()
    g.governance_user = user
    return user


def signed_in_powers() -> Powers:
    """The powers of the signed-in user now (none when nobody is)."""
    if "governance_powers" not in g:
        user = signed_in_user()
        g.governance_powers = (Powers("") if user is None else powers_of(
            state().session, user.id, state().clock(), session.get(WITHDRAWN, [])))
    return g.governance_powers


def fresh_sign_in(now: datetime | None = None) -> bool:
    """Signed in within ``GOVERNANCE_FRESH_SIGN_IN_MINUTES`` (when the host signs people in,
    as fresh as Flask-Login says: signed in this session, not by a remember-me cookie)."""
    if host_signs_in():
        return login_fresh()
    at = _read_time(session.get(SIGNED_IN_AT))
    now = now or state().clock()
    limit = timedelta(minutes=int(current_app.config["GOVERNANCE_FRESH_SIGN_IN_MINUTES"]))
    return at is not None and now - at <= limit


def sign_in_required(view: Callable) -> Callable:
    """The view needs a signed-in, active user; anyone else goes to the sign-in page."""

    @wraps(view)
    def inner(*args, **kwargs):
        if signed_in_user() is None:
            if g.get("governance_session_ended") == "idle":
                flash("Your session ended after a time without activity. Sign in again.")
            if host_signs_in():
                if current_user.is_authenticated:
                    abort(403)  # signed in to the host, but no governance user (or inactive)
                return state().login_manager.unauthorized()  # the host's sign-in page
            return redirect(url_for(SIGN_IN_ENDPOINT, next=own_path(request.full_path)))
        return view(*args, **kwargs)

    return inner


def power_required(*powers: str) -> Callable:
    """The view needs a signed-in user holding every one of ``powers`` (403 otherwise)."""

    def wrap(view: Callable) -> Callable:
        @sign_in_required
        @wraps(view)
        def inner(*args, **kwargs):
            held = signed_in_powers()
            if not all(p in held for p in powers):
                abort(403)
            return view(*args, **kwargs)

        return inner

    return wrap


def any_power_required(*powers: str) -> Callable:
    """The view needs a signed-in user holding at least one of ``powers`` (403 otherwise):
    for pages that several powers may open (the access explorer: admin or auditor)."""

    def wrap(view: Callable) -> Callable:
        @sign_in_required
        @wraps(view)
        def inner(*args, **kwargs):
            held = signed_in_powers()
            if not any(p in held for p in powers):
                abort(403)
            return view(*args, **kwargs)

        return inner

    return wrap


def fresh_sign_in_required(view: Callable) -> Callable:
    """A sensitive action: the user must have signed in within the last
    ``GOVERNANCE_FRESH_SIGN_IN_MINUTES``, or sign in again first."""

    @sign_in_required
    @wraps(view)
    def inner(*args, **kwargs):
        if not fresh_sign_in():
            if host_signs_in():
                return state().login_manager.needs_refresh()  # the host's refresh_view
            flash("This action needs a recent sign-in: sign in again to continue.")
            return redirect(url_for(SIGN_IN_ENDPOINT, next=own_path(request.full_path)))
        return view(*args, **kwargs)

    return inner


def own_path(target: str | None, prefix: str | None = None) -> str | None:
    """``target`` if it is a path of ours (under the console), else None: after sign-in we go
    only there, never to another site (``//evil``, ``https://evil``, ``/\\evil``)."""
    if not target or any(c in target for c in "\\\r\n\t\0") or not target.startswith("/"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    prefix = prefix or url_for("governance_console.home")
    path = target[:-1] if target.endswith("?") else target
    return path if parts.path.startswith(prefix) else None


def _idle_minutes() -> int:
    return int(current_app.config["GOVERNANCE_SESSION_IDLE_MINUTES"])


def _idle_since(now: datetime) -> timedelta:
    seen = _read_time(session.get(SEEN))
    return timedelta.max if seen is None else now - seen


def _read_time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
