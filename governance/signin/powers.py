"""What a signed-in user may do in the console: powers from their live role assignments.

A role's ``console`` list gives ``admin``, ``auditor`` or ``reviewer``; a role that
``approves`` overrides or escalations gives the ``approver`` queues. Every active user may
request access, break the glass and see their own access. Nothing comes from the directory
alone: only roles that the user holds now count (an assignment that has not ended, in its
window, of a role that is not retired).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.clock import within
from governance.db import DIRECTORY
from governance.models import DirectoryGroupRole, Role, RoleAssignment, User

ADMIN, AUDITOR, REVIEWER = "admin", "auditor", "reviewer"
CONSOLE_POWERS = (ADMIN, AUDITOR, REVIEWER)  # what a role's ``console:`` may list
APPROVER = "approver"
REQUEST_ACCESS, BREAK_GLASS, OWN_ACCESS = "request_access", "break_glass", "own_access"
EVERY_USER = (REQUEST_ACCESS, BREAK_GLASS, OWN_ACCESS)
ORDER = (*CONSOLE_POWERS, APPROVER, *EVERY_USER)

RoleInProgram = tuple[str, str | None]


@dataclass(frozen=True)
class Powers:
    """A user's powers now; ``approves`` names the queues (``override``, ``escalation``)."""

    user_id: str
    granted: frozenset[str] = frozenset()
    approves: frozenset[str] = frozenset()

    def __contains__(self, power: object) -> bool:
        return power in self.granted

    @property
    def names(self) -> list[str]:
        """The powers in a stable order, for pages and audit rows."""
        return [p for p in ORDER if p in self.granted]


def powers_of(session: Session, user_id: str, now: datetime,
              withdrawn: Iterable[RoleInProgram] = ()) -> Powers:
    """The powers ``user_id`` holds now (none for an unknown or inactive user).

    ``withdrawn``: directory assignments that the directory no longer backs (read at sign-in),
    which count for nothing even before the next sync ends them.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        return Powers(user_id)
    withdrawn = {tuple(pair) for pair in withdrawn}
    rows = session.execute(
        select(RoleAssignment.role_id, RoleAssignment.program_id, RoleAssignment.source,
               RoleAssignment.valid_from, RoleAssignment.valid_until, Role.console, Role.approves)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user_id, RoleAssignment.ended_at.is_(None),
               Role.retired_at.is_(None)))
    granted, approves = set(EVERY_USER), set()
    for role_id, program_id, source, valid_from, valid_until, console, approving in rows:
        if not within(now, valid_from, valid_until):
            continue
        if source == DIRECTORY and (role_id, program_id) in withdrawn:
            continue
        granted.update(p for p in (console or []) if p in CONSOLE_POWERS)
        approves.update(approving or [])
    if approves:
        granted.add(APPROVER)
    return Powers(user_id, frozenset(granted), frozenset(approves))


def unbacked_directory_roles(session: Session, user_id: str, groups: Iterable[str]
                             ) -> list[RoleInProgram]:
    """The user's directory-made assignments that no group they are in now maps to."""
    member_of = {_dn_key(g) for g in groups}
    backed = {(m.role_id, m.program_id) for m in session.scalars(
        select(DirectoryGroupRole).where(DirectoryGroupRole.retired_at.is_(None)))
        if _dn_key(m.group_dn) in member_of}
    held = session.execute(select(RoleAssignment.role_id, RoleAssignment.program_id).where(
        RoleAssignment.user_id == user_id, RoleAssignment.ended_at.is_(None),
        RoleAssignment.source == DIRECTORY))
    return sorted({(r, p) for r, p in held if (r, p) not in backed},
                  key=lambda pair: (pair[0], pair[1] or ""))


def _dn_key(dn: str) -> str:
    """A DN compared without regard to case or spaces around its separators."""
    return ",".join(part.strip() for part in dn.lower().split(","))
