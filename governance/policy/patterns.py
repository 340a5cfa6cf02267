"""Field ids and patterns: ``group.name`` ids, ``*`` as a glob over whole ids.

Patterns are matched without regular expressions: a glob of many ``*`` would make a
backtracking engine take exponential time (contract section 7 asks for time linear in the
pattern and the id, whatever they contain).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

MAX_ID_LENGTH = 200  # ids and field ids (contract section 7)
FIELD_ID = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
FIELD_PATTERN = re.compile(r"^[A-Za-z0-9_.*-]+$")
ENTIRE_RECORD = "*"


def is_field_id(text: str) -> bool:
    return len(text) <= MAX_ID_LENGTH and bool(FIELD_ID.match(text))


@lru_cache(maxsize=8192)  # the same few hundred ids arrive in every request; keys <= 200 chars
def _valid_pattern(text: str) -> bool:
    return bool(FIELD_PATTERN.match(text)) and ".." not in text and not text.startswith(".")


def is_pattern(text: str) -> bool:
    """A syntactically valid id or glob (``clinical.*``, ``*``) of at most 200 characters."""
    return len(text) <= MAX_ID_LENGTH and _valid_pattern(text)


def field_match(field_id: str, pattern: str) -> bool:
    """True when ``pattern`` covers ``field_id``; registered as Casbin's ``fieldMatch`` too."""
    if "*" not in pattern:
        return field_id == pattern
    return glob_match(field_id, pattern)


def glob_match(text: str, pattern: str) -> bool:
    """``*`` matches any run of characters, every other character itself.

    The pieces between stars must occur in order: the first at the start, the last at the
    end, and each middle one at its leftmost place after the previous (leftmost is always
    safe, as anything after it can still be matched by the next star). Each piece is searched
    once, from where the previous one ended, so the work is linear.
    """
    pieces = pattern.split("*")
    head, tail = pieces[0], pieces[-1]
    if len(head) + len(tail) > len(text) or not text.startswith(head) or not text.endswith(tail):
        return False
    position, end = len(head), len(text) - len(tail)
    for piece in pieces[1:-1]:
        if piece:
            found = text.find(piece, position, end)
            if found < 0:
                return False
            position = found + len(piece)
    return True


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
