"""Who approves what, now: two SQL statements a lookup, whatever the number of users.

A user approves ``what`` (``override`` or ``escalation``) in a program while they hold an
assignment that has not ended, whose window is open now, of a live role that lists ``what`` in
``approves`` and is organisation-wide or assigned in that program. A user reviews access
(review items, break-glass uses) where they hold, the same way, a role with the console's
``reviewer`` power or one that approves overrides or escalations.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from governance.clock import within
from governance.models import Role, RoleAssignment
from governance.signin.powers import REVIEWER

REVIEWS = ("override", "escalation")  # a reviewer approves either, or holds the reviewer power
_ANYWHERE = object()


@dataclass(frozen=True)
class ApprovalScope:
    """Where a user approves something: everywhere (an organisation role) or these programs."""

    everywhere: bool
    programs: frozenset[str | None]

    def __bool__(self) -> bool:
        return self.everywhere or bool(self.programs)

    def covers(self, program: str | None) -> bool:
        return self.everywhere or program in self.programs


def _approving(session: Session, kinds: Iterable[str], now: datetime, *,
               user: str | None = None, program: object = _ANYWHERE, reviewing: bool = False
               ) -> list[tuple[str, str | None, bool]]:
    """(user, program, organisation-wide) of every assignment, open now, of a live role that
    approves one of ``kinds`` (or, ``reviewing``, has the console's reviewer power), in
    ``program`` if given: two statements, whoever holds what.

    ``approves`` and ``console`` are JSON lists with no portable "contains" in SQL, so the live
    roles (a catalogue of tens) are read and judged here first; then only their assignments.
    """
    kinds = tuple(kinds)
    scopes = {role_id: scope for role_id, scope, approves, console in session.execute(
        select(Role.id, Role.scope, Role.approves, Role.console).where(Role.retired_at.is_(None)))
        if any(k in (approves or []) for k in kinds)
        or (reviewing and REVIEWER in (console or []))}
    if not scopes:
        return []
    query = select(RoleAssignment.user_id, RoleAssignment.role_id, RoleAssignment.program_id,
                   RoleAssignment.valid_from, RoleAssignment.valid_until).where(
        RoleAssignment.ended_at.is_(None), RoleAssignment.role_id.in_(list(scopes)))
    if user is not None:
        query = query.where(RoleAssignment.user_id == user)
    if program is not _ANYWHERE:
        everywhere = [r for r, scope in scopes.items() if scope == "organization"]
        query = query.where(or_(RoleAssignment.role_id.in_(everywhere),
                                RoleAssignment.program_id == program))
    found = []
    for holder, role_id, where, valid_from, valid_until in session.execute(query):
        org_wide = scopes[role_id] == "organization"
        if ((program is _ANYWHERE or org_wide or where == program)
                and within(now, valid_from, valid_until)):
            found.append((holder, where, org_wide))
    return found


def approvers(session: Session, what: str, program: str, now: datetime) -> list[str]:
    """Everyone who may approve ``what`` in ``program`` now, sorted by user id."""
    return sorted({u for u, _, _ in _approving(session, (what,), now, program=program)})


def reviewers(session: Session, program: str, now: datetime) -> list[str]:
    """Everyone who reviews access in ``program`` now, sorted by user id."""
    return sorted({u for u, _, _ in _approving(session, REVIEWS, now, program=program,
                                               reviewing=True)})


def may_approve(session: Session, user: str, what: str, program: str, now: datetime) -> bool:
    """Does ``user`` hold, now, a role that ``approves: [what]`` in ``program`` (or org-wide)?"""
    return bool(_approving(session, (what,), now, user=user, program=program))


def is_reviewer(session: Session, user: str, program: str, now: datetime) -> bool:
    """Does ``user`` review access in ``program`` now?"""
    return bool(_approving(session, REVIEWS, now, user=user, program=program, reviewing=True))


def approval_scope(session: Session, user: str, what: str, now: datetime) -> ApprovalScope:
    """Where ``user`` may approve ``what`` now (a queue asks once, not once a row)."""
    return _scope(_approving(session, (what,), now, user=user))


def reviewing_scope(session: Session, user: str, now: datetime) -> ApprovalScope:
    """Where ``user`` reviews access now: who decides review items and closes break-glass
    reviews."""
    return _scope(_approving(session, REVIEWS, now, user=user, reviewing=True))


def _scope(found: list[tuple[str, str | None, bool]]) -> ApprovalScope:
    everywhere = any(org_wide for _, _, org_wide in found)
    return ApprovalScope(everywhere, frozenset(where for _, where, org_wide in found
                                               if not org_wide))
