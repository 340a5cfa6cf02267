"""Disable and enable a user's account by hand (an administrator, through the API, the CLI or
the console).

Disabling takes effect for the next decision: the account is inactive, its active overrides and
break-glass uses are revoked and its pending override requests and escalations are refused. It
is the administrator's decision, recorded with who, when, why and through what, so no later
apply of the org file or directory sync enables the account again; only ``EnableUser`` does,
and it restores nothing that was revoked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso
from governance.db import API, CLI
from governance.models import Escalation, Override, User
from governance.operations.common import active_actor, locked_row, optional_text, require_text
from governance.operations.constraints import refuse_self_action, require_reason, require_status
from governance.operations.errors import NotFound
from governance.operations.escalations import escalation_document
from governance.operations.overrides import override_document
from governance.operations.state import bump_revision


@dataclass
class UserChange:
    """What an operation did to an account, for each front end to show."""

    user: User
    revoked_overrides: list[Override] = field(default_factory=list)
    refused_requests: list[Override] = field(default_factory=list)
    refused_escalations: list[Escalation] = field(default_factory=list)


def acting(session: Session, actor: object, via: str) -> str:
    """The CLI is run by an operator on the server, who names themselves; every other front
    end acts for an active user."""
    return require_text(actor, "actor") if via == CLI else active_actor(session, actor)


def _account(session: Session, user_id: str, actor: str) -> User:
    refuse_self_action(actor, user_id, "nobody disables or enables their own account",
                       "the user concerned")
    user = locked_row(session, User, user_id)
    if user is None:
        raise NotFound(f"no user '{user_id}'", {"user": "unknown"})
    return user


@dataclass
class DisableUser:
    user_id: str
    actor: str
    reason: str
    now: datetime
    via: str = API

    def execute(self, session: Session) -> UserChange:
        actor = acting(session, self.actor, self.via)
        reason = require_reason(self.reason)
        user = _account(session, self.user_id, actor)
        require_status("active" if user.active else "disabled", "active",
                       f"user '{user.id}' is already disabled")
        change, rows = disable_account(session, user, actor, self.via, reason, self.now)
        audit.append_rows(session, rows)
        session.commit()
        return change


def disable_account(session: Session, user: User, actor: str, via: str, reason: str,
                    now: datetime) -> tuple[UserChange, list[dict]]:
    """Disable ``user`` at once: active overrides revoked, pending requests and escalations
    refused. Returns what changed and its audit rows; the caller appends them and commits."""
    user.active, user.disabled_at, user.disabled_by = False, now, actor
    user.disabled_via, user.disabled_reason = via, reason
    change = UserChange(user)
    note = f"account disabled by {actor}: {reason}"
    for o in session.scalars(select(Override).where(
            Override.user_id == user.id, Override.status.in_(("approved", "pending")))):
        if o.status == "approved" and (o.expires_at is None or o.expires_at > now):
            o.status, o.resolved_at, o.resolved_by, o.note = "revoked", now, actor, note
            change.revoked_overrides.append(o)
        elif o.status == "pending":
            o.status, o.resolved_at, o.resolved_by, o.note = "denied", now, actor, note
            change.refused_requests.append(o)
    for e in session.scalars(select(Escalation).where(Escalation.user_id == user.id,
                                                      Escalation.status == "pending")):
        e.status, e.decided_at, e.decided_by, e.note = "denied", now, actor, note
        change.refused_escalations.append(e)
    bump_revision(session, [("users", user.id), ("overrides", user.id),
                            ("escalations", user.id)])
    session.flush()
    rows = [audit.new_row("user.disabled", user_document(user), actor=actor,
                          subject=user.id, ref=user.id, at=now)]
    for kind, items in (("override.revoked", change.revoked_overrides),
                        ("override.denied", change.refused_requests)):
        rows += [audit.new_row(kind, {**override_document(o, now), "cause": note},
                               actor=actor, subject=user.id, ref=o.id, at=now)
                 for o in items]
    rows += [audit.new_row("escalation.denied", {**escalation_document(e, now),
                                                 "cause": note},
                           actor=actor, subject=user.id, ref=e.id, at=now)
             for e in change.refused_escalations]
    return change, rows


@dataclass
class EnableUser:
    user_id: str
    actor: str
    reason: str | None
    now: datetime
    via: str = API

    def execute(self, session: Session) -> UserChange:
        actor = acting(session, self.actor, self.via)
        reason = optional_text(self.reason, "reason")
        user = _account(session, self.user_id, actor)
        require_status("active" if user.active else "disabled", "disabled",
                       f"user '{user.id}' is not disabled")
        before = user_document(user)
        user.active = True
        user.disabled_at = user.disabled_by = user.disabled_via = user.disabled_reason = None
        bump_revision(session, [("users", user.id)])
        session.flush()
        audit.append(session, "user.enabled", {**user_document(user), "before": before,
                                               "reason": reason}, actor=actor,
                     subject=user.id, ref=user.id, at=self.now)
        session.commit()
        return UserChange(user)


def user_document(user: User) -> dict:
    return {"id": user.id, "name": user.name, "status": "active" if user.active else "disabled",
            "source": user.source, "disabled_at": iso(user.disabled_at),
            "disabled_by": user.disabled_by, "disabled_via": user.disabled_via,
            "disabled_reason": user.disabled_reason}
