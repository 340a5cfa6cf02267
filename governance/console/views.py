"""Sign-in and sign-out; the checks every console request passes. (The home page, the
dashboard, is ``pages/dashboard.py``.)"""
from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from wtforms import ValidationError

from governance import audit
from governance.console import bp
from governance.console.forms import SignInForm, SignOutForm
from governance.console.nav import links_for
from governance.db import release_session
from governance.directory.connection import DirectorySettings
from governance.errors import GovernanceError, Invalid, Unavailable
from governance.extension import state
from governance.models import User
from governance.signin.session import (
    begin_session,
    client_address,
    end_session,
    host_signs_in,
    own_path,
    signed_in_powers,
    signed_in_user,
)
from governance.signin.sign_in import SignIn, SignInRefused, plausible_id, printable

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self'; "
                           "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGE_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


@bp.before_request
def _check_csrf():
    """Every write needs the form's CSRF token: a POST without one is a 400 and does nothing."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        try:
            validate_csrf(request.form.get("csrf_token"))
        except ValidationError as exc:
            raise CSRFError(exc.args[0]) from None


@bp.after_request
def _page_headers(response):
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.context_processor
def _console_context() -> dict:
    user = signed_in_user()
    return {"csrf_token": generate_csrf, "console_user": user,
            "sign_out_form": SignOutForm() if user else None,
            "nav_links": links_for(signed_in_powers()) if user else []}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if host_signs_in():  # the host's own page signs people in (Governance(user_id_of=...))
        return state().login_manager.unauthorized()
    form = SignInForm()
    target = own_path(request.args.get("next"))
    if request.method == "GET":
        return render_template("governance/console/sign_in.html", form=form, next=target)
    try:
        signed = SignIn(form.user.data, form.password.data, client_address(),
                        state().clock(),
                        max_failures=int(current_app.config["GOVERNANCE_LOGIN_MAX_FAILURES"]),
                        directory=lambda: DirectorySettings.from_config(current_app.config)
                        ).execute(state().session)
    except (SignInRefused, Invalid, Unavailable) as exc:
        release_session(state().session)
        status = 200 if isinstance(exc, SignInRefused) else exc.status
        message = (exc.message if not isinstance(exc, Unavailable) else
                   "The directory cannot be reached just now; try again in a few minutes.")
        return render_template("governance/console/sign_in.html", form=form, next=target,
                               error=message), status
    begin_session(signed, state().session.get(User, signed.user_id))
    return redirect(target or url_for(".home"))


@bp.post("/sign-out")
def sign_out():
    end_session()
    return redirect(url_for(".sign_in"))


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(exc: RateLimitExceeded):
    name = request.form.get("user", "").strip()
    audit.append(state().session, "signin.rate_limited",
                 {"user": printable(name), "address": client_address(),
                  "limit": str(exc.limit.limit) if exc.limit else None},
                 subject=name if plausible_id(name) else None, at=state().clock())
    state().session.commit()
    # Flask-Limiter's own after-request hook adds Retry-After to this answer.
    return render_template("governance/console/error.html", status=429,
                           title="Too many attempts",
                           message="Too many sign-in attempts. Wait a minute, then try again."
                           ), 429


@bp.errorhandler(CSRFError)
def _csrf_refused(exc: CSRFError):
    return render_template("governance/console/error.html", status=400,
                           title="The form could not be accepted",
                           message="The form had expired or did not come from this site. "
                                   "Go back, reload the page and try again."), 400


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException, **context):
    messages = {403: "You do not hold the power this page needs. If you should, ask an "
                     "administrator for the role that gives it.",
                405: ("This address only takes a form's answer. Go back to the page and use "
                      "its button." if "POST" in (getattr(exc, "valid_methods", None) or ())
                      else "This page is only for reading; nothing can be sent to it. Open "
                           "it from the menu.")}
    return render_template("governance/console/error.html", status=exc.code, title=exc.name,
                           message=messages.get(exc.code, exc.description), **context
                           ), exc.code


def unrouted_page(exc: Exception):
    """The console's error page, with its menu and Sign out, for an address under the console
    that no route answers (a 404, or a 405 such as a POST-only address opened as a link);
    None for any other path. Routing fails before a blueprint is known, so neither this
    blueprint's handlers nor its context run: the app's handler asks here."""
    home = url_for("governance_console.home")
    if not isinstance(exc, HTTPException) or not (request.path + "/").startswith(home):
        return None
    body, status = _http_error(exc, **_console_context())
    response = _page_headers(current_app.make_response((body, status)))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value  # Allow on a 405
    return response


@bp.errorhandler(SQLAlchemyError)
def _store_unreachable(exc: SQLAlchemyError):
    """The console's own answer (mounted in a host, the host's handlers are for its pages)."""
    release_session(state().session)
    current_app.logger.exception("store error")
    g.governance_user = None  # the page must not ask the store who is signed in
    return render_template("governance/console/error.html", status=503,
                           title="Service unavailable",
                           message="The store cannot be reached just now; try again in a few "
                                   "minutes."), 503


@bp.errorhandler(GovernanceError)
def _refused(exc: GovernanceError):
    release_session(state().session)
    return render_template("governance/console/error.html", status=exc.status,
                           title="Not done", message=exc.message), exc.status
