"""What a role-matrix draft does to people: which users gain or lose which fields, in which
programs, computed from the live assignments the way the decision pipeline counts them.

A user's fields in a program are the grants of every role they hold there (program and case
scope) and of their organisation-wide roles, which count in every program. A change is
reported net of the user's other roles: losing ``contact.phone`` through one role while
another still grants it there is no loss. Changes that come through organisation-wide roles
alone are reported once, for "every program"; a program is listed on its own only where the
user's roles there make its change different.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import RoleAssignment, User
from governance.reads.role_matrix import ORGANIZATION, MatrixState, live_window

EVERY_PROGRAM = None  # the context of organisation-wide roles
CHUNK = 1000  # users per query (bound parameters)


@dataclass
class UserImpact:
    user: str
    name: str | None
    program: str | None  # None: every program
    gains: list[str]
    loses: list[str]
    through: list[tuple[str, str]]  # the changed roles (id, scope) behind it

    @property
    def case_only(self) -> bool:
        """Every role behind it is case scope: it counts only on the user's own cases."""
        return all(scope == "case" for _, scope in self.through)


@dataclass
class ProgramImpact:
    program: str | None
    gaining: set[str] = field(default_factory=set)  # users
    losing: set[str] = field(default_factory=set)
    gained: set[str] = field(default_factory=set)  # fields
    lost: set[str] = field(default_factory=set)


@dataclass
class Impact:
    users: list[UserImpact]
    programs: list[ProgramImpact]
    people: int  # distinct users affected
    holders: int  # active users holding a changed role

    @property
    def gaining(self) -> int:
        return len({u.user for u in self.users if u.gains})

    @property
    def losing(self) -> int:
        return len({u.user for u in self.users if u.loses})


def impact(session: Session, state: MatrixState, after: dict[str, frozenset[str]],
           now: datetime) -> Impact:
    """The effect of giving each role of ``after`` those fields (for ``state``'s action)."""
    changed = {r for r, fields in after.items() if fields != state.opened(r)}
    if not changed:
        return Impact([], [], 0, 0)
    held = _assignments(session, changed, state, now)

    def fields_of(role: str, draft: bool) -> frozenset[str]:
        return after[role] if draft and role in after else state.opened(role)

    users: list[UserImpact] = []
    for user in sorted(held):
        name, everywhere, by_program = held[user]
        org_change = changed & everywhere
        base = _difference(everywhere, fields_of)
        if org_change and (base[0] or base[1]):
            users.append(UserImpact(user, name, EVERY_PROGRAM, *base,
                                    _scoped(org_change, state)))
        for program in sorted(by_program):
            roles = by_program[program]
            here = changed & roles
            if not here and not org_change:
                continue
            gains, loses = _difference(everywhere | roles, fields_of)
            if org_change and (gains, loses) == base:
                continue  # said once, for every program
            if gains or loses or (org_change and (base[0] or base[1])):
                # With an organisation-wide change, an empty row says "not here": the
                # user's roles in this program make up for it.
                users.append(UserImpact(user, name, program, gains, loses,
                                        _scoped(here | org_change, state)))
    affected = {u.user for u in users if u.gains or u.loses}
    return Impact(users, _by_program(users), len(affected), len(held))


def _assignments(session: Session, changed: set[str], state: MatrixState, now: datetime
                 ) -> dict[str, tuple[str | None, set[str], dict[str, set[str]]]]:
    """Every live assignment of the active users holding a changed role now: user -> (name,
    organisation-wide roles, program -> roles held there)."""
    live = [RoleAssignment.ended_at.is_(None), live_window(RoleAssignment, now),
            User.active.is_(True)]
    # Two plain steps (the holders, then their assignments by the user index) rather than one
    # query with a subquery, which a planner without fresh statistics runs as a nested loop.
    holders = sorted(set(session.scalars(
        select(RoleAssignment.user_id).join(User, User.id == RoleAssignment.user_id)
        .where(RoleAssignment.role_id.in_(sorted(changed)), *live))))
    rows = []
    for start in range(0, len(holders), CHUNK):
        rows += session.execute(
            select(RoleAssignment.user_id, User.name, RoleAssignment.role_id,
                   RoleAssignment.program_id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.user_id.in_(holders[start:start + CHUNK]), *live)).all()
    held: dict[str, tuple[str | None, set[str], dict[str, set[str]]]] = {}
    for user, name, role, program in rows:
        info = state.roles.get(role)
        if info is None:
            continue  # a retired role counts for nothing
        _, everywhere, by_program = held.setdefault(user, (name, set(), defaultdict(set)))
        if info.scope == ORGANIZATION:
            everywhere.add(role)
        elif program is not None:
            by_program[program].add(role)
    # A holder whose changed role counts nowhere (a program role without a program) is left out.
    return {u: v for u, v in held.items()
            if changed & v[1] or any(changed & roles for roles in v[2].values())}


def _difference(roles: set[str], fields_of) -> tuple[list[str], list[str]]:  # noqa: ANN001
    before: set[str] = set()
    after: set[str] = set()
    for role in roles:
        before |= fields_of(role, False)
        after |= fields_of(role, True)
    return sorted(after - before), sorted(before - after)


def _scoped(roles: set[str], state: MatrixState) -> list[tuple[str, str]]:
    return [(r, state.roles[r].scope) for r in sorted(roles)]


def _by_program(users: list[UserImpact]) -> list[ProgramImpact]:
    out: dict[str | None, ProgramImpact] = {}
    for u in users:
        if not (u.gains or u.loses):
            continue
        summary = out.setdefault(u.program, ProgramImpact(u.program))
        if u.gains:
            summary.gaining.add(u.user)
            summary.gained.update(u.gains)
        if u.loses:
            summary.losing.add(u.user)
            summary.lost.update(u.loses)
    return sorted(out.values(), key=lambda p: (p.program is not None, p.program or ""))
