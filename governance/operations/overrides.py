"""What overrides and break-glass share: an override's document, the roles its holder has in a
program now (and the most minutes they allow), and whether a participant is enrolled there.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.clock import iso
from governance.models import Enrollment, Override, Role, RoleAssignment
from governance.policy.snapshot import Window


def override_document(o: Override, now: datetime) -> dict:
    status = o.status
    if status == "approved" and o.expires_at is not None and o.expires_at <= now:
        status = "expired"
    elif status == "approved":
        status = "active"
    return {"id": o.id, "kind": o.kind, "status": status, "requester": o.user_id,
            "program": o.program_id, "participant": o.participant_id, "fields": o.fields,
            "actions": o.actions, "reason": o.reason, "minutes": o.minutes,
            "requested_at": iso(o.requested_at), "approved_at": iso(o.approved_at),
            "expires_at": iso(o.expires_at), "resolved_by": o.resolved_by, "note": o.note}


def _roles_in(session: Session, user: str, program: str, now: datetime) -> list[Role]:
    """The live roles ``user`` holds now in ``program`` (or org-wide), one per assignment."""
    rows = session.execute(
        select(Role, RoleAssignment.id, RoleAssignment.program_id, RoleAssignment.valid_from,
               RoleAssignment.valid_until)
        .join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user, RoleAssignment.ended_at.is_(None),
               Role.retired_at.is_(None))
        .order_by(RoleAssignment.id))
    return [role for role, a_id, where, valid_from, valid_until in rows
            if (role.scope == "organization" or where == program)
            and Window(a_id, valid_from, valid_until).active(now)]


def override_limit(session: Session, user: str, program: str, now: datetime,
                   service_cap: int) -> int | None:
    """The most minutes ``user`` may ask for in ``program`` now: the service's cap or a lower
    one of their roles there (None: they hold no role there, so they may not ask at all)."""
    roles = _roles_in(session, user, program, now)
    return _limit(roles, service_cap) if roles else None


def _limit(roles: list[Role], service_cap: int) -> int:
    return min([service_cap] + [r.max_override_minutes for r in roles if r.max_override_minutes])


def enrolled(session: Session, participant: object, program: object) -> bool:
    """Is ``participant`` currently enrolled in ``program`` (both must be ids)?"""
    if not isinstance(participant, str) or not isinstance(program, str):
        return False
    return session.scalar(select(Enrollment.id).where(
        Enrollment.participant_id == participant, Enrollment.program_id == program,
        Enrollment.ended_at.is_(None))) is not None

