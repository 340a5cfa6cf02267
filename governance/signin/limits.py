"""Rate limits on the console's sign-in form, with Flask-Limiter (contract section 8).

Two limits on each POST of the sign-in form: one per client address, one per submitted user
name (so a guesser spreading over addresses is held too). Counts live in
``GOVERNANCE_RATELIMIT_STORAGE_URL`` (``redis://...``, shared by every worker and instance) or
in this process's memory; when Redis cannot be reached they fall back to memory rather than
stop limiting. The limiter answers for the sign-in form only: a request filter exempts every
other endpoint, so neither the decision API nor a host app's own pages are ever limited here,
whatever ``RATELIMIT_*`` defaults a host configures.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

LIMITER_KEY = "governance_signin_limiter"


def submitted_user() -> str:
    """The per-user key: the name typed in the form, as sign-in reads it."""
    return "user:" + request.form.get("user", "").strip()[:200].lower()


def install_sign_in_limits(app: Flask, endpoint: str) -> Limiter:
    """Limit POSTs to ``endpoint`` (already registered) per address and per user name."""
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=app.config.get("GOVERNANCE_RATELIMIT_STORAGE_URL") or "memory://",
        key_prefix=app.config.get("GOVERNANCE_RATELIMIT_KEY_PREFIX") or "need-to-know",
        strategy="moving-window",
        in_memory_fallback_enabled=True,
        headers_enabled=True,
    )
    limiter.request_filter(lambda: request.endpoint != endpoint)
    limiter.init_app(app)
    view = app.view_functions[endpoint]
    view = limiter.limit(lambda: app.config["GOVERNANCE_SIGNIN_RATE_PER_USER"],
                         key_func=submitted_user, methods=["POST"], scope="user")(view)
    view = limiter.limit(lambda: app.config["GOVERNANCE_SIGNIN_RATE_PER_ADDRESS"],
                         methods=["POST"], scope="address")(view)
    app.view_functions[endpoint] = view
    app.extensions[LIMITER_KEY] = limiter
    return limiter
