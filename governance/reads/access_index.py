"""Indexes the access explorer keeps per policy snapshot: the assignments of each role in each
program, each user's case involvements per program, the field groups' sizes and the grants'
patterns as written. Each is built on first use after the snapshot changed (a new snapshot is
a new object, so a stale index is never read) and shared by every request until the next."""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import CasbinRule
from governance.policy.snapshot import AssignmentInfo, InvolvementInfo, Snapshot

ANY_PROGRAM = "*"  # the index key of an organisation-wide role's assignments
T = TypeVar("T")


def per_snapshot(build: Callable[..., T]) -> Callable[..., T]:
    """``build(snap, ...)`` computed once for the latest snapshot (one value kept)."""
    lock = threading.Lock()
    kept: list = [(None, None)]  # one (snapshot, value) tuple, replaced whole

    @wraps(build)
    def cached(snap: Snapshot, *args):
        held, value = kept[0]
        if held is snap:
            return value
        with lock:
            held, value = kept[0]
            if held is not snap:
                value = build(snap, *args)
                kept[0] = (snap, value)
            return value

    return cached


@per_snapshot
def assignments_by_role(snap: Snapshot
                        ) -> dict[tuple[str, str | None], list[tuple[str, AssignmentInfo]]]:
    """(role, program) -> (user, assignment) for every live assignment; an organisation-wide
    role's are under ANY_PROGRAM (it counts in every program)."""
    found: dict[tuple[str, str | None], list[tuple[str, AssignmentInfo]]] = defaultdict(list)
    scopes = snap.role_scopes
    for user, assignments in snap.assignments.items():
        for a in assignments:
            where = ANY_PROGRAM if scopes.get(a.role) == "organization" else a.program
            found[(a.role, where)].append((user, a))
    return dict(found)


@per_snapshot
def cases_by_user(snap: Snapshot) -> dict[tuple[str, str], list[tuple[str, InvolvementInfo]]]:
    """(user, program) -> (participant, involvement) for every live involvement."""
    found: dict[tuple[str, str], list[tuple[str, InvolvementInfo]]] = defaultdict(list)
    for (user, participant), involvements in snap.involvements.items():
        for i in involvements:
            found[(user, i.program)].append((participant, i))
    return dict(found)


def active_cases(snap: Snapshot, now: datetime, user: str, program: str | None) -> list[str]:
    """The participants whose case ``user`` is on in ``program`` now, sorted."""
    return sorted({p for p, i in cases_by_user(snap).get((user, program), ()) if i.active(now)})


@per_snapshot
def group_sizes(snap: Snapshot) -> dict[str, int]:
    """Field group -> how many catalogued fields it has."""
    sizes: dict[str, int] = defaultdict(int)
    for f in snap.field_ids:
        sizes[f.split(".", 1)[0]] += 1
    return dict(sizes)


@per_snapshot
def grant_patterns(snap: Snapshot, session: Session) -> dict[tuple[str, str], tuple[str, ...]]:
    """(role, action) -> the field patterns of its grants as written (the role matrix)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for role, pattern, action in session.execute(
            select(CasbinRule.v0, CasbinRule.v1, CasbinRule.v2)
            .where(CasbinRule.ptype == "p").order_by(CasbinRule.id)):
        found[(role, action)].append(pattern)
    return {key: tuple(dict.fromkeys(p)) for key, p in found.items()}
