"""The rules every workflow operation checks, each named once (as discord/access's
``CheckForSelfApproval`` and ``CheckForReason``): an operation reads as the list of constraints it
applies, and every front end gets the same refusal with the same details."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from governance.operations.approvers import is_reviewer, may_approve
from governance.operations.common import require_text
from governance.operations.errors import Conflict, Refused


def refuse_self_action(actor: str, owner: str, message: str, role: str = "the requester"
                       ) -> None:
    """Nobody decides, reviews or closes what is their own (422)."""
    if actor == owner:
        raise Refused(message, {"actor": f"is {role}"})


def require_status(current: str | None, wanted: str | tuple[str, ...], message: str) -> None:
    """The object must still be in ``wanted`` (409 naming where it stands)."""
    if current not in ((wanted,) if isinstance(wanted, str) else wanted):
        raise Conflict(message, {"status": current})


def require_approver(session: Session, actor: str, what: str, program: str | None,
                     now: datetime) -> None:
    """``actor`` holds a live role that approves ``what`` (override, escalation) here."""
    if not may_approve(session, actor, what, program, now):
        raise Refused(f"'{actor}' does not approve {what}s in '{program}'",
                      {"actor": f"holds no role that approves {what}s here"})


def require_reviewer(session: Session, actor: str, program: str | None, now: datetime,
                     message: str) -> None:
    """``actor`` reviews access here: holds the console's reviewer power, or approves
    overrides or escalations, in this program or organisation-wide."""
    if not is_reviewer(session, actor, program or "", now):
        raise Refused(message, {"actor": "holds no role here that reviews access (the "
                                         "reviewer power, or approving overrides or "
                                         "escalations)"})


def require_reason(value: object, name: str = "reason") -> str:
    """A non-empty reason (or finding, justification), stripped (400 if missing)."""
    return require_text(value, name)
