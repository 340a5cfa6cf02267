"""OpenID Connect sign-in through Authlib's Flask client (contract section 8).

When ``GOVERNANCE_OIDC_METADATA_URL`` is set, each app registers its own client (kept in
``app.extensions``). The flow is the authorization code flow with PKCE (S256), ``state`` and
``nonce``; Authlib checks the state against the session, and the ID token's signature (the
provider's published keys), issuer, audience, expiry and nonce. What comes back is only who the
person is (``ProviderIdentity``): ``governance.signin.oidc_sign_in`` decides which user that is,
and nothing else in the token (groups, roles) grants anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Flask, current_app, request, session, url_for
from werkzeug.wrappers import Response

# Authlib, joserfc and requests are imported where a flow needs them, not here: most apps and
# every CLI command never use a provider, and the three cost a tenth of a second to load.

OIDC_KEY = "governance_oidc"
AUTHLIB_KEY = "authlib.integrations.flask_client"
CLIENT_NAME = "governance_console_oidc"  # Authlib also reads <NAME>_* config keys: keep it ours
SCOPES = "openid email profile"
CALLBACK_ENDPOINT = "governance_console.oidc_callback"
PROVIDER_TIMEOUT_SECONDS = 10

# Reason codes of signin.failed before any user is known.
PROVIDER_ERROR = "oidc_provider_error"  # the provider answered error=... (access_denied...)
BAD_STATE = "oidc_bad_state"  # no such flow in this browser's session (tampered, replayed)
PROVIDER_UNREACHABLE = "oidc_provider_unreachable"
INVALID_ANSWER = "oidc_invalid_answer"  # no ID token, or one that does not verify

_ERROR_CODE = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in: its subject and, when it has one, the e-mail."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False


class ProviderFailed(Exception):
    """The flow did not end with a verified identity; ``reason`` is audited, ``error`` is the
    provider's own code (``access_denied``...) when it sent one."""

    def __init__(self, reason: str, error: str | None = None):
        super().__init__(reason)
        self.reason, self.error = reason, error


def install_oidc(app: Flask) -> None:
    """Register this app's OpenID Connect client, when a provider is configured."""
    url = app.config.get("GOVERNANCE_OIDC_METADATA_URL")
    if not url:
        return
    if not app.config.get("GOVERNANCE_OIDC_CLIENT_ID"):
        raise RuntimeError("GOVERNANCE_OIDC_METADATA_URL is set but GOVERNANCE_OIDC_CLIENT_ID "
                           "is not: set the client id (and secret) the provider gave you.")
    from authlib.integrations.flask_client import OAuth

    hosts = app.extensions.get(AUTHLIB_KEY)  # a host app's own Authlib registry, if any
    oauth = OAuth(app)
    if hosts is not None:
        app.extensions[AUTHLIB_KEY] = hosts
    app.extensions[OIDC_KEY] = oauth.register(
        CLIENT_NAME, client_id=app.config["GOVERNANCE_OIDC_CLIENT_ID"],
        client_secret=app.config.get("GOVERNANCE_OIDC_CLIENT_SECRET"), server_metadata_url=url,
        client_kwargs={"scope": SCOPES, "code_challenge_method": "S256",
                       "default_timeout": PROVIDER_TIMEOUT_SECONDS})


def oidc_enabled() -> bool:
    """Whether the current app signs people in with an OpenID Connect provider."""
    return OIDC_KEY in current_app.extensions


def redirect_uri() -> str:
    """Our callback as registered at the provider: built on GOVERNANCE_BASE_URL, never on the
    request's Host."""
    return str(current_app.config["GOVERNANCE_BASE_URL"]).rstrip("/") + url_for(
        CALLBACK_ENDPOINT)


def redirect_to_provider() -> Response:
    """Start a flow: state, nonce and PKCE verifier kept in the session, then off to the
    provider's authorization endpoint. One flow at a time per browser: an earlier one that was
    never finished is forgotten (its answer is refused, and the session cookie stays small)."""
    from requests import RequestException

    for key in [k for k in session if k.startswith(f"_state_{CLIENT_NAME}_")]:  # Authlib's
        session.pop(key)
    try:
        return _client().authorize_redirect(redirect_uri())
    except (RequestException, ValueError, RuntimeError) as exc:
        # unreachable, metadata that is not JSON, or metadata without an authorization endpoint
        raise ProviderFailed(PROVIDER_UNREACHABLE) from exc


def identity_at_callback() -> ProviderIdentity:
    """The verified identity the provider's answer carries (raises ``ProviderFailed``)."""
    from authlib.common.errors import AuthlibBaseError
    from authlib.integrations.base_client import MismatchingStateError, OAuthError
    from joserfc.errors import JoseError
    from requests import RequestException

    client = _client()
    try:
        _check_issuer(client, request.args.get("iss"))
        token = client.authorize_access_token()
    except MismatchingStateError as exc:
        raise ProviderFailed(BAD_STATE) from exc
    except OAuthError as exc:
        raise ProviderFailed(PROVIDER_ERROR, _error_code(exc.error)) from exc
    except RequestException as exc:
        raise ProviderFailed(PROVIDER_UNREACHABLE) from exc
    except (AuthlibBaseError, JoseError, ValueError, KeyError, RuntimeError) as exc:
        raise ProviderFailed(INVALID_ANSWER) from exc  # e.g. a signature or claim that fails
    claims = token.get("userinfo")  # set only when an ID token came and verified
    if not claims or not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise ProviderFailed(INVALID_ANSWER)
    if "email" not in claims:
        claims = {**_userinfo(client, token, claims["sub"]), **claims}
    return ProviderIdentity(
        issuer=str(claims.get("iss") or ""), subject=claims["sub"],
        email=claims["email"] if isinstance(claims.get("email"), str) else None,
        email_verified=claims.get("email_verified") is True)


def _check_issuer(client, issuer: str | None) -> None:  # noqa: ANN001
    """An answer that names its issuer (RFC 9207) must name ours: no mix-up with another."""
    if issuer is not None and issuer != client.load_server_metadata().get("issuer"):
        raise ProviderFailed(INVALID_ANSWER)


def _userinfo(client, token: dict, subject: str) -> dict:  # noqa: ANN001
    """The userinfo endpoint's claims (providers keep e-mail out of the ID token), only if
    they are about the same subject."""
    from requests import RequestException

    if not client.load_server_metadata().get("userinfo_endpoint"):
        return {}
    try:
        info = client.userinfo(token=token)
    except RequestException as exc:
        raise ProviderFailed(PROVIDER_UNREACHABLE) from exc
    except ValueError as exc:
        raise ProviderFailed(INVALID_ANSWER) from exc
    if info.get("sub") != subject:
        raise ProviderFailed(INVALID_ANSWER)
    return {k: info[k] for k in ("email", "email_verified") if k in info}


def _client():
    client = current_app.extensions.get(OIDC_KEY)
    if client is None:
        raise RuntimeError("OpenID Connect is not configured: set GOVERNANCE_OIDC_METADATA_URL.")
    return client


def _error_code(error: object) -> str:
    """The provider's error code as we repeat it: a plain OAuth code, or ``error``."""
    text = str(error or "")
    return text if _ERROR_CODE.fullmatch(text) else "error"
