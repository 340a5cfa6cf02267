"""Decision calls answered in WSGI, before Flask's request machinery.

``POST /api/v1/decisions`` and its AuthZEN twin ``POST /access/v1/evaluation`` are what other
systems call before every screen and export. In a loaded gunicorn worker Flask's share of such a
call (request and app contexts, routing, hooks, the response object) was about a quarter of its
CPU (figures in bench/README.md). Here each runs its view's own steps (key check, body,
pipeline, audit row, group commit) and gets the same answer and headers.

Whatever cannot be answered with a decision goes to Flask with the body put back: a missing or
wrong key, a body that is not a valid request, a store that cannot be read or written. So every
error still comes from one place, worded the same. Nothing is answered before its audit row is
committed: a failure before that goes to Flask, which decides again from the start.

A host app's own ``before_request``/``after_request`` hooks do not run for the calls answered
here, so this is off unless ``GOVERNANCE_DIRECT_DECISIONS`` is set (the standalone service sets
it).
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable

from flask import Flask

from governance import jsontext
from governance.api.authzen import answer_of, to_decision_request
from governance.api.http import (
    bearer_token,
    body_limit,
    echoed_request_id,
    host_allowed,
    security_headers,
)
from governance.db import release_session
from governance.decisions import RecordedDecision, decide_recorded
from governance.extension import state
from governance.operations.api_keys import authenticate
from governance.policy.request import parse_decision_request

# path -> (body to request, the audit's "via", decision to answer), as the Flask views do it
ROUTES = {
    "/api/v1/decisions": (parse_decision_request, "decisions", RecordedDecision.as_dict),
    "/access/v1/evaluation": (to_decision_request, "authzen", answer_of),
}
log = logging.getLogger(__name__)


class DirectDecisions:
    """WSGI middleware around the Flask app's ``wsgi_app``."""

    def __init__(self, app: Flask, wrapped: Callable) -> None:
        self.app, self.wrapped = app, wrapped
        self.headers = [("Content-Type", "application/json"),
                        *security_headers(app.config).items()]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        route = ROUTES.get(environ.get("PATH_INFO", ""))
        if route is None or environ.get("REQUEST_METHOD") != "POST":
            return self.wrapped(environ, start_response)
        governance = state(self.app)
        if not host_allowed(governance.allowed_hosts, environ.get("HTTP_HOST")):
            return self.wrapped(environ, start_response)  # Flask names the refusal
        body = _read_body(environ, body_limit(self.app.config, environ["PATH_INFO"]))
        if body is None:
            return self.wrapped(environ, start_response)
        try:
            with self.app.app_context():
                answer = self._answer(environ, body, *route)
        except Exception:  # noqa: BLE001 - the context's teardown on a dead store: Flask answers
            log.debug("direct decision context teardown failed", exc_info=True)
            answer = None
        if answer is None:
            environ["wsgi.input"] = io.BytesIO(body)  # put back for Flask to read
            return self.wrapped(environ, start_response)
        headers = [*self.headers, ("Content-Length", str(len(answer)))]
        request_id = echoed_request_id(environ.get("HTTP_X_REQUEST_ID"))
        if request_id:
            headers.append(("X-Request-ID", request_id))
        start_response("200 OK", headers)
        return [answer]

    def _answer(self, environ: dict, body: bytes, to_request: Callable, via: str,
                shape: Callable) -> bytes | None:
        """The decision as JSON, or None for Flask to answer."""
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if not token or not (mimetype == "application/json" or mimetype.endswith("+json")):
            return None
        governance = state(self.app)
        try:
            snapshot = governance.snapshot()
            key = authenticate(snapshot.api_keys, token)
            if key is None or "decide" not in key.scopes:
                return None
            request = to_request(jsontext.loads(body,
                                                self.app.config["GOVERNANCE_MAX_JSON_DEPTH"]))
            [decision] = decide_recorded(governance, snapshot, [request], caller=key.name,
                                         via=via)
        except Exception:  # noqa: BLE001 - Flask gives the error (or succeeds on its attempt)
            log.debug("direct decision handed to Flask", exc_info=True)
            release_session(governance.session)
            return None
        return jsontext.dumps(shape(decision))


def _read_body(environ: dict, limit: int) -> bytes | None:
    """The request body, or None when it has no usable length or is over the limit (Flask
    then answers, with a 413 for the latter)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 < length <= limit:
        return None
    return environ["wsgi.input"].read(length)

