"""Signing in with the OpenID Connect provider: the start of a flow and its callback.

Thin views over ``governance.signin.oidc`` (the flow) and ``oidc_sign_in`` (which user). Every
way a flow can end is audited; a failure is a message on the sign-in page, never a 500.
"""
from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, session, url_for

from governance.console import bp
from governance.console.forms import SignInForm
from governance.db import release_session
from governance.directory.connection import DirectorySettings, DirectoryUnavailable
from governance.extension import state
from governance.models import User
from governance.signin import oidc
from governance.signin.oidc_sign_in import SignInWithProvider, record_provider_failure
from governance.signin.session import begin_session, client_address, own_path
from governance.signin.sign_in import SignInRefused

NEXT_KEY = "governance_oidc_next"  # where to go once signed in (a console path, or none)

MESSAGES = {
    oidc.PROVIDER_ERROR: "Single sign-on did not sign you in: the provider answered "
                         "\u201c{error}\u201d. Try again, or sign in with your password.",
    oidc.BAD_STATE: "The single sign-on answer could not be accepted: it had expired or was "
                    "not for this browser. Start again.",
    oidc.PROVIDER_UNREACHABLE: "The single sign-on provider cannot be reached just now; try "
                               "again in a few minutes, or sign in with your password.",
    oidc.INVALID_ANSWER: "The single sign-on provider's answer could not be verified. Start "
                         "again; if it happens again, tell an administrator.",
}
DIRECTORY_DOWN = "The directory cannot be reached just now; try again in a few minutes."
STATUS = {oidc.PROVIDER_ERROR: 400, oidc.BAD_STATE: 400, oidc.PROVIDER_UNREACHABLE: 503,
          oidc.INVALID_ANSWER: 502}


@bp.context_processor
def _single_sign_on() -> dict:
    return {"single_sign_on": oidc.oidc_enabled()}


@bp.get("/sign-in/oidc")
def oidc_sign_in():
    """Off to the provider (the page's "Sign in with single sign-on")."""
    if not oidc.oidc_enabled():
        abort(404)
    session[NEXT_KEY] = own_path(request.args.get("next"))
    try:
        return oidc.redirect_to_provider()
    except oidc.ProviderFailed as failed:
        return _failed(failed)


@bp.get("/sign-in/oidc/callback")
def oidc_callback():
    """The provider's answer: a verified identity becomes a session, or a message."""
    if not oidc.oidc_enabled():
        abort(404)
    target = own_path(session.pop(NEXT_KEY, None))
    try:
        identity = oidc.identity_at_callback()
    except oidc.ProviderFailed as failed:
        return _failed(failed)
    try:
        signed = SignInWithProvider(
            identity, client_address(), state().clock(),
            directory=lambda: DirectorySettings.from_config(current_app.config),
        ).execute(state().session)
    except SignInRefused as refused:
        release_session(state().session)
        return _page(refused.message, 200)
    except DirectoryUnavailable:
        release_session(state().session)
        return _page(DIRECTORY_DOWN, 503)
    begin_session(signed, state().session.get(User, signed.user_id))
    return redirect(target or url_for(".home"))


def _failed(failed: oidc.ProviderFailed):
    record_provider_failure(state().session, failed.reason, failed.error, client_address(),
                            state().clock())
    return _page(MESSAGES[failed.reason].format(error=failed.error), STATUS[failed.reason])


def _page(message: str, status: int):
    return render_template("governance/console/sign_in.html", form=SignInForm(), next=None,
                           error=message), status
