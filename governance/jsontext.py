"""Fast JSON for the decision path (orjson): the same documents ``json`` would read and write.

Decisions parse a request body, write an audit payload and answer in JSON; with the standard
library each of those is a Python-level encoder setup per call. orjson does them in C. Output is
sorted and compact; types orjson does not know natively fall back to ``str`` as
``governance.audit.canonical`` does, and anything orjson refuses (integers beyond 64 bits) goes
through the standard library instead, so no input that ``json`` accepts is rejected here.
"""
from __future__ import annotations

import json

import orjson
from flask import Response, current_app

_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
            | orjson.OPT_PASSTHROUGH_DATACLASS)
_FALLBACK = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                             default=str)


def dumps(value: object) -> bytes:
    """Sorted, compact UTF-8 JSON."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return _FALLBACK.encode(value).encode()


def loads(data: bytes) -> object:
    """Parse JSON; ValueError if it is not valid JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)  # what orjson refuses but json accepts (big integers, NaN)


def response(value: object, status: int = 200) -> Response:
    """A JSON response, as ``jsonify`` would give but without its per-call encoder setup."""
    return current_app.response_class(dumps(value), status=status, mimetype="application/json")
