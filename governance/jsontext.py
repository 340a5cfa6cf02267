"""Fast JSON for the decision path (orjson): the same documents ``json`` would read and write.

Decisions parse a request body, write an audit payload and answer in JSON; with the standard
library each of those is a Python-level encoder setup per call. orjson does them in C. Output is
sorted and compact; types orjson does not know natively fall back to ``str`` as
``governance.audit.canonical`` does, and anything orjson refuses to write (integers beyond 64
bits) goes through the standard library instead. Reading is strict (contract section 7).
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


class JsonError(ValueError):
    """A body that is not one unambiguous JSON document within the limits."""


MAX_DEPTH = 32


def unique_members(pairs: list[tuple[str, object]]) -> dict:
    """``json``'s object_pairs_hook that refuses a member name given twice (JsonError)."""
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        twice = next(name for name, _ in pairs if name in seen or seen.add(name))
        raise JsonError(f"duplicate member name '{twice[:200]}' (which one counts would depend "
                        "on the parser)")
    return members


_DUPLICATE_CHECK = json.JSONDecoder(object_pairs_hook=unique_members)


def loads(data: bytes, max_depth: int = MAX_DEPTH) -> object:
    """Parse a request body strictly; JsonError naming what is wrong.

    orjson refuses invalid UTF-8, lone surrogates, NaN and Infinity, and nesting beyond 1,024
    levels; integers beyond 64 bits become floats (range checks then refuse them). It keeps
    the last of duplicate member names silently, so a document with objects is read a second
    time by the standard library only to refuse those.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise JsonError(f"nested deeper than {max_depth} levels") from None
        raise JsonError(f"not valid JSON: {exc}") from None
    if b"{" in data:
        try:
            _DUPLICATE_CHECK.decode(data.decode())
        except RecursionError:
            raise JsonError(f"nested deeper than {max_depth} levels") from None
        except json.JSONDecodeError as exc:  # cannot happen after orjson read it; fail closed
            raise JsonError(f"not valid JSON: {exc}") from None
    # Fewer opening brackets than the limit cannot nest deeper: the walk is rarely needed.
    if data.count(b"{") + data.count(b"[") > max_depth and _depth(value, max_depth) > max_depth:
        raise JsonError(f"nested deeper than {max_depth} levels")
    return value


def _depth(value: object, limit: int) -> int:
    """Nesting depth of ``value``, counted no further than ``limit + 1``."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return deepest


def response(value: object, status: int = 200) -> Response:
    """A JSON response, as ``jsonify`` would give but without its per-call encoder setup."""
    return current_app.response_class(dumps(value), status=status, mimetype="application/json")
