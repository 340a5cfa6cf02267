"""Shared HTTP plumbing: JSON errors, request bodies, API-key authentication, headers."""
from __future__ import annotations

import io
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import RequestRedirect

from governance import jsontext
from governance.config import STANDALONE, UNROUTED_CONSOLE_PAGE, host_name
from governance.db import release_session
from governance.errors import GovernanceError, Invalid
from governance.extension import state
from governance.operations.api_keys import authenticate
from governance.policy.patterns import MAX_ID_LENGTH

API_PREFIXES = ("/api/v1", "/access/v1", "/.well-known/authzen-configuration", "/healthz")
# Bulk endpoints and the body limit (config key) each one names.
BODY_LIMITS = {"/access/v1/evaluations": "GOVERNANCE_MAX_BATCH_BODY_BYTES"}


class ApiError(GovernanceError):
    """A refusal of the HTTP layer itself (key, content type, host, body)."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(message, details, status=status, code=code)


def error_response(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    return jsonify(body), status


def json_body() -> object:
    """The parsed JSON body, or a 400 naming what is wrong with it."""
    if not request.is_json:
        raise ApiError(400, "bad_content_type", "Content-Type must be application/json")
    body = request.get_data()
    if not body.strip():
        raise ApiError(400, "malformed_json", "the body is empty")
    try:
        data = jsontext.loads(body, current_app.config["GOVERNANCE_MAX_JSON_DEPTH"])
    except jsontext.JsonError as exc:
        raise ApiError(400, "malformed_json", str(exc)) from None
    if data is None:
        raise ApiError(400, "malformed_json", "the body is null")
    return data


def json_object() -> dict:
    """The JSON body, which must be an object (400 otherwise). Its members are the caller's
    to check: a workflow view reads its body with ``json_input``."""
    data = json_body()
    if not isinstance(data, dict):
        raise Invalid.naming({"body": "must be a JSON object"})
    return data


NAMED_AT_MOST = 20


def json_input(*members: str) -> dict:
    """The JSON object a workflow call sends, whose members must all be among ``members``:
    a 400 names each one that is not. A member nobody reads is never harmless here (a
    misspelt ``partcipant`` would make an override program-wide)."""
    data = json_object()
    unknown = [str(name)[:MAX_ID_LENGTH] for name in data if name not in members]
    if unknown:  # the first NAMED_AT_MOST, so the answer never outgrows the request
        named = {name: "unknown member" for name in unknown[:NAMED_AT_MOST]}
        if len(unknown) > NAMED_AT_MOST:
            named["..."] = f"{len(unknown) - NAMED_AT_MOST} more unknown members"
        raise Invalid.naming(named)
    return data


def bearer_token(header: str) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header."""
    kind, _, token = header.partition(" ")
    return (token.strip() or None) if kind.lower() == "bearer" else None


def require_key(scope: str) -> Callable:
    """Authenticate ``Authorization: Bearer KEY`` and check the key carries ``scope``."""

    def wrap(view: Callable) -> Callable:
        @wraps(view)
        def inner(*args, **kwargs):
            token = bearer_token(request.headers.get("Authorization", ""))
            key = None
            if token:
                snapshot = state().snapshot()
                g.governance_snapshot = snapshot
                key = authenticate(snapshot.api_keys, token)
            if key is None:
                raise ApiError(401, "unauthorized", "a valid API key is required "
                               "(Authorization: Bearer KEY)")
            if scope not in key.scopes:
                raise ApiError(403, "forbidden", f"this key lacks the '{scope}' scope")
            g.governance_key = key.name
            return view(*args, **kwargs)

        return inner

    return wrap


def echoed_request_id(value: str | None) -> str | None:
    """The caller's X-Request-ID as answered back (bounded, so it cannot bloat responses)."""
    return value[:200] if value else None


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def body_limit(config: dict, path: str) -> int:
    """The largest body ``path`` accepts, in bytes."""
    return int(config[BODY_LIMITS.get(path, "GOVERNANCE_MAX_BODY_BYTES")])


def host_allowed(allowed: frozenset[str], host_header: str | None) -> bool:
    return host_name(host_header or "") in allowed


def security_headers(config: dict) -> dict[str, str]:
    """The headers every answer of ours carries (HSTS only when configured)."""
    headers = dict(SECURITY_HEADERS)
    if int(config.get("GOVERNANCE_HSTS_SECONDS") or 0) > 0:
        headers["Strict-Transport-Security"] = (
            f"max-age={int(config['GOVERNANCE_HSTS_SECONDS'])}; includeSubDomains")
    return headers


def _ours() -> bool:
    return current_app.config.get(STANDALONE, False) or is_api_path(request.path)


class _NoSessionOnApiPaths:
    """Wraps the app's session interface: API calls authenticate with keys, never cookies, so
    they skip opening and saving a session (about 45 us a request, a sixth of a decision).
    Every other path, and every other attribute, is the wrapped interface's."""

    def __init__(self, wrapped) -> None:  # noqa: ANN001 - any SessionInterface
        self.wrapped = wrapped

    def __getattr__(self, name: str):
        return getattr(self.wrapped, name)

    def open_session(self, app: Flask, request_):  # noqa: ANN001
        if is_api_path(request_.path):
            return self.wrapped.make_null_session(app)
        return self.wrapped.open_session(app, request_)

    def save_session(self, app: Flask, session, response) -> None:  # noqa: ANN001
        if not self.wrapped.is_null_session(session):
            self.wrapped.save_session(app, session, response)


def install(app: Flask) -> None:
    """Headers, limits and JSON errors for our paths only: a host app keeps its own error
    pages and handlers (ours are registered on our blueprints, see ``register_json_errors``)."""
    app.session_interface = _NoSessionOnApiPaths(app.session_interface)
    headers = security_headers(app.config)
    if app.config.get(STANDALONE):
        register_json_errors(app)  # the standalone service owns every path, routed or not
    app.before_request(_limits)

    @app.after_request
    def _headers(response):
        if _ours():
            for name, value in headers.items():
                if name not in response.headers:  # a view may loosen CSP for a printable page
                    response.headers[name] = value
            request_id = echoed_request_id(request.headers.get("X-Request-ID"))
            if request_id:
                response.headers["X-Request-ID"] = request_id
        return response


def _limits():
    """Before any view of ours: the Host check and the body limit; and a JSON answer for a
    path of ours that matched no route (no blueprint of ours, so none of its handlers, would
    see that 404 or 405; the host's handlers are for the host's paths)."""
    if not _ours():
        return None
    if not host_allowed(state().allowed_hosts, request.headers.get("Host")):
        return error_response(400, "host_not_allowed",
                              "this Host is not served here (GOVERNANCE_ALLOWED_HOSTS)")
    request.max_content_length = limit = body_limit(current_app.config, request.path)
    if request.content_length is None and "wsgi.input_terminated" in request.environ \
            and not _buffer_streamed_body(request.environ, limit):
        return _too_large(None)
    unrouted = request.routing_exception
    if isinstance(unrouted, HTTPException) and not isinstance(unrouted, RequestRedirect):
        return _http_error(unrouted)
    return None


def _buffer_streamed_body(environ: dict, limit: int) -> bool:
    """Whether a body sent without Content-Length (chunked) fits the limit: it is read up to
    one byte past it (Werkzeug's stream would stop at the limit and hand on the first
    ``limit`` bytes as if they were the whole body) and, if it fits, put back with its
    length."""
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        return False
    environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
    return True


def _refusal(exc: GovernanceError):
    """Every refusal of every layer, by the status and code it carries. Whatever the
    refused request had begun (a row lock, SQLite's write lock) ends here, not at some
    later teardown: nothing of a refusal is half-written or holds the store."""
    release_session(state().session)
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    if exc.status == 401:
        response[0].headers["WWW-Authenticate"] = 'Bearer realm="need-to-know"'
    return response


def _too_large(exc: RequestEntityTooLarge | None):
    limit = body_limit(current_app.config, request.path)
    return error_response(413, "body_too_large",
                          f"the body is larger than this endpoint's limit of {limit} bytes",
                          {"limit_bytes": limit})


def _store_error(exc: SQLAlchemyError):
    release_session(state().session)
    current_app.logger.exception("store error")
    return error_response(503, "store_unavailable", "the store is unreachable")


def _http_error(exc: HTTPException):
    console_page = current_app.extensions.get(UNROUTED_CONSOLE_PAGE)  # see register_console
    page = console_page(exc) if console_page and not is_api_path(request.path) else None
    if page is not None:
        return page
    body, status = error_response(exc.code or 500, exc.name.lower().replace(" ", "_"),
                                  exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            body.headers[name] = value  # e.g. Allow on 405
    return body, status


def _unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        raise exc
    current_app.logger.exception("unexpected error")
    release_session(state().session)  # what the view left must not hold the store
    return error_response(500, "internal_error", "unexpected error; nothing was allowed")


JSON_ERRORS = ((GovernanceError, _refusal), (RequestEntityTooLarge, _too_large),
               (SQLAlchemyError, _store_error), (HTTPException, _http_error),
               (Exception, _unexpected))


def register_json_errors(scope: Flask | Blueprint) -> None:
    """Answer errors raised in ``scope`` as JSON: each of our API blueprints (before it is
    first registered), and the whole app when it is the standalone service. Never a host's
    app: its pages, and their database errors, stay the host's to answer."""
    for exc_class, handler in JSON_ERRORS:
        scope.register_error_handler(exc_class, handler)


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
