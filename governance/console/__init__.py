"""The console blueprint (contract section 9): server-rendered pages, every form with a CSRF
token, every page checked on the server for the powers it needs.

Mounted by the extension at ``Governance(app, console_prefix=...)`` (``/console`` by default).
Templates are ``governance/console/*.html`` under the top-level ``templates/`` folder, so a
host app may override any of them with its own file of the same name.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask

from governance.config import STANDALONE, UNROUTED_CONSOLE_PAGE
from governance.resources import resource_path

bp = Blueprint("governance_console", __name__, template_folder=str(resource_path("templates")),
               static_folder="static", static_url_path="/static")

log = logging.getLogger(__name__)


def register_console(app: Flask, login_manager, prefix: str = "/console") -> None:  # noqa: ANN001
    """Mount the console at ``prefix``, with its sign-in limits and session cookie flags."""
    from governance.console import single_sign_on, views  # noqa: F401 - the routes
    from governance.console.pages import load_pages
    from governance.signin.limits import install_sign_in_limits
    from governance.signin.oidc import install_oidc
    from governance.signin.session import SIGN_IN_ENDPOINT, install_login

    load_pages()  # every page module adds its routes before the blueprint is registered
    install_login(app, login_manager)
    app.register_blueprint(bp, url_prefix=prefix.rstrip("/") or None)
    app.extensions[UNROUTED_CONSOLE_PAGE] = views.unrouted_page  # for the app's handler
    install_sign_in_limits(app, SIGN_IN_ENDPOINT)
    install_oidc(app)
    secure_cookies(app)


def secure_cookies(app: Flask) -> None:
    """HttpOnly, SameSite=Lax, and Secure behind HTTPS: set for the standalone service; a
    host app keeps its own session settings and is warned when they are weaker."""
    https = str(app.config["GOVERNANCE_BASE_URL"]).startswith("https://")
    if app.config.get(STANDALONE):
        app.config["SESSION_COOKIE_HTTPONLY"] = True
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        app.config["SESSION_COOKIE_SECURE"] = https
        return
    weak = [name for name, ok in (
        ("SESSION_COOKIE_HTTPONLY", app.config.get("SESSION_COOKIE_HTTPONLY")),
        ("SESSION_COOKIE_SAMESITE", app.config.get("SESSION_COOKIE_SAMESITE") in ("Lax",
                                                                                   "Strict")),
        ("SESSION_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE") or not https))
        if not ok]
    if weak:
        log.warning("the console's session cookie is weaker than it should be; set %s",
                    ", ".join(weak))
