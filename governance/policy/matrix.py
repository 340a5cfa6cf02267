"""The role matrix as cells: which catalogued fields a role's grant patterns open for an
action, and how a draft of cell changes rewrites those patterns (contract section 9).

Pure: patterns and the field catalogue in, patterns out. Unchecking one field of a pattern
grant (``contact.*``) replaces the pattern by the fields it still opens, so the others stay
granted; checking a field no grant opens adds it by its id.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from governance.policy.patterns import expand

ACTIONS = ("view", "export", "disclose")


@lru_cache(maxsize=8192)
def opened_by(pattern: str, field_ids: tuple[str, ...]) -> frozenset[str]:
    """The catalogued fields one pattern (or id) opens."""
    return frozenset(expand([pattern], field_ids)[0])


def opened(patterns: Iterable[str], field_ids: tuple[str, ...]) -> frozenset[str]:
    """The catalogued fields any of ``patterns`` opens."""
    found: frozenset[str] = frozenset()
    for pattern in patterns:
        found = found | opened_by(pattern, field_ids)
    return found


@dataclass(frozen=True)
class Rewrite:
    """One role's grants for one action, before and after a draft."""

    role: str
    before: tuple[str, ...]
    after: tuple[str, ...]
    # A pattern the draft broke up -> the fields it still opens, now granted by id.
    replaced: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def added(self) -> list[str]:
        return sorted(set(self.after) - set(self.before))

    @property
    def removed(self) -> list[str]:
        return sorted(set(self.before) - set(self.after))

    @property
    def changed(self) -> bool:
        return set(self.before) != set(self.after)


def rewrite(role: str, patterns: Sequence[str], field_ids: tuple[str, ...],
            grant: Collection[str] = (), revoke: Collection[str] = ()) -> Rewrite:
    """``patterns`` with the fields of ``grant`` opened and those of ``revoke`` closed.

    A pattern that opens a revoked field gives way to the fields it opens that stay granted
    (its other fields keep their grant, each by id); a pattern naming no catalogued field is
    kept as it is. A granted field that nothing kept opens is added by its id.
    """
    revoke = frozenset(revoke)
    kept: list[str] = []
    replaced: dict[str, tuple[str, ...]] = {}
    for pattern in dict.fromkeys(patterns):
        covered = opened_by(pattern, field_ids)
        if covered & revoke:
            replaced[pattern] = tuple(sorted(covered - revoke))
        else:
            kept.append(pattern)
    still = opened(kept, field_ids)
    explicit = {f for remaining in replaced.values() for f in remaining} | set(grant)
    added = sorted(f for f in explicit - revoke if f not in still)
    return Rewrite(role, tuple(patterns), tuple(sorted(set(kept) | set(added))), replaced)
