"""Field ids and patterns: ``group.name`` ids, ``*`` as a glob over whole ids."""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

FIELD_ID = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_.*-]+$")
ENTIRE_RECORD = "*"


def is_field_id(text: str) -> bool:
    return bool(FIELD_ID.match(text))


@lru_cache(maxsize=8192)  # the same few hundred ids arrive in every request
def is_pattern(text: str) -> bool:
    """A syntactically valid id or glob (``clinical.*``, ``*``)."""
    return bool(FIELD_PATTERN.match(text)) and ".." not in text and not text.startswith(".")


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$")


def field_match(field_id: str, pattern: str) -> bool:
    """True when ``pattern`` covers ``field_id``; registered as Casbin's ``fieldMatch`` too."""
    if "*" not in pattern:
        return field_id == pattern
    return bool(_compiled(pattern).match(field_id))


def matches_any(field_id: str, patterns: Iterable[str]) -> bool:
    return any(field_match(field_id, p) for p in patterns)


def expand(patterns: Sequence[str], catalogue: Sequence[str]) -> tuple[list[str], list[str]]:
    """Expand patterns against the catalogue; returns sorted field ids and what matched nothing.
    """
    found: dict[str, None] = {}
    unmatched: list[str] = []
    known = set(catalogue)
    for pattern in patterns:
        if "*" not in pattern:
            if pattern in known:
                found[pattern] = None
            else:
                unmatched.append(pattern)
            continue
        hits = [f for f in catalogue if field_match(f, pattern)]
        if not hits:
            unmatched.append(pattern)
        found.update(dict.fromkeys(hits))
    return sorted(found), unmatched
