"""Time-bounded overrides: requested, decided and revoked.

An override is requested with a reason, approved by someone else who approves overrides in the
program, and active from approval for its minutes; the decision pipeline checks the window on
every request, so expiry needs no job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import API
from governance.ids import new_id
from governance.models import Field, Override, Program, Role
from governance.notify import Notifier, deliver
from governance.operations import notices
from governance.operations.approvers import may_approve
from governance.operations.common import active_actor, locked_row, optional_text
from governance.operations.constraints import refuse_self_action, require_approver, require_status
from governance.operations.errors import Conflict, Invalid, NotFound, Refused
from governance.operations.overrides import _limit, _roles_in, enrolled, override_document
from governance.operations.state import bump_revision
from governance.policy import patterns
from governance.policy.vocabulary import ACTIONS

MAX_MINUTES = 525600  # what a request may name at all: a year (service and role caps are lower)
MEMBER_ORDER = ("reason", "program", "participant", "fields", "actions", "minutes")


@dataclass(frozen=True)
class OverrideRequest:
    """What a requester asks for, typed. The API reads it from JSON (``from_json``), a console
    form fills it from its fields; what a front end could not read is in ``problems``, so the
    operation names it with the request's other problems, all at once."""

    program: str | None
    participant: str | None
    fields: tuple[str, ...]
    actions: tuple[str, ...]
    reason: str | None
    minutes: int | None
    problems: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, body: dict) -> OverrideRequest:
        problems: dict[str, str] = {}

        def text(name: str, problem: str, optional: bool = False) -> str | None:
            value = body.get(name)
            if (value is None and optional) or (isinstance(value, str) and value.strip()):
                return value.strip() if isinstance(value, str) else None
            problems[name] = problem
            return None

        def strings(name: str, problem: str, allowed=None) -> tuple[str, ...]:  # noqa: ANN001
            value = body.get(name)
            if isinstance(value, list) and value and all(
                    isinstance(v, str) and (allowed is None or v in allowed) for v in value):
                return tuple(value)
            problems[name] = problem
            return ()

        reason = text("reason", "required")
        program = text("program", "required, a known program")
        participant = text("participant", "not a participant enrolled in that program",
                           optional=True)
        fields = strings("fields", "a non-empty list of catalogued field ids or patterns")
        actions = strings("actions", f"a non-empty list of {', '.join(ACTIONS)}", ACTIONS)
        minutes = body.get("minutes")
        if isinstance(minutes, int | float) and not isinstance(minutes, bool) \
                and minutes > MAX_MINUTES:  # an integer beyond 64 bits arrives as a float
            problems["minutes"], minutes = f"must be an integer from 1 to {MAX_MINUTES}", None
        elif not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            problems["minutes"], minutes = "a positive whole number", None
        return cls(program, participant, fields, tuple(sorted(set(actions))), reason, minutes,
                   problems)


@dataclass(frozen=True)
class CheckedOverride:
    """A request that passed every rule, as it would be written (``limit``: the most minutes
    the requester could have asked for)."""

    actor: str
    program: str
    participant: str | None
    fields: list[str]
    actions: list[str]
    reason: str
    minutes: int
    limit: int


@dataclass
class RequestOverride:
    actor: str
    request: OverrideRequest
    now: datetime
    service_cap: int = 480
    notifier: Notifier = field(kw_only=True)  # told after the commit
    via: str = field(default=API, kw_only=True)  # the front end, kept in the audit row

    def check(self, session: Session) -> CheckedOverride:
        """Every rule the request must pass, without writing (a console preview asks this)."""
        actor = active_actor(session, self.actor)
        program, participant, fields, actions, minutes = self._checked(session)
        roles = _roles_in(session, actor, program, self.now)
        if not roles:
            raise Refused(f"'{actor}' holds no role in '{program}'",
                          {"actor": "no role in this program"})
        limit = _limit(roles, self.service_cap)
        if minutes > limit:
            raise Refused(f"at most {limit} minutes", {"minutes": f"at most {limit}"})
        self._eligible(session, roles, fields, actions, minutes)
        return CheckedOverride(actor, program, participant, fields, actions,
                               self.request.reason, minutes, limit)

    def execute(self, session: Session) -> Override:
        checked = self.check(session)
        actor, reason = checked.actor, checked.reason
        program, participant, fields, actions, minutes = (
            checked.program, checked.participant, checked.fields, checked.actions,
            checked.minutes)
        row = Override(id=new_id("ovr"), kind="override", user_id=actor, program_id=program,
                       participant_id=participant, fields=fields, actions=actions, reason=reason,
                       minutes=minutes, status="pending", requested_at=self.now)
        session.add(row)
        document = override_document(row, self.now)
        audit.append(session, "override.requested", {**document, "via": self.via},
                     actor=actor, subject=actor,
                     participant=participant, ref=row.id, at=self.now)
        session.commit()
        deliver(self.notifier, session,
                notices.override_requested(session, row, document, self.now))
        return row

    def _checked(self, session: Session):
        """The request's problems, and then the store's: a live program, an enrolled
        participant, catalogued fields; every one named at once."""
        wanted = self.request
        errors = dict(wanted.problems)
        if "program" not in errors and session.get(Program, wanted.program) is None:
            errors["program"] = "required, a known program"
        if ("participant" not in errors and wanted.participant is not None
                and not enrolled(session, wanted.participant, wanted.program)):
            errors["participant"] = "not a participant enrolled in that program"
        catalogue = tuple(sorted(session.scalars(select(Field.id).where(
            Field.retired_at.is_(None)))))
        if "fields" not in errors and not all(
                patterns.is_pattern(f) and patterns.expand([f], catalogue)[0]
                for f in wanted.fields):
            errors["fields"] = "a non-empty list of catalogued field ids or patterns"
        if errors:
            raise Invalid.naming(dict(sorted(errors.items(),
                                             key=lambda e: MEMBER_ORDER.index(e[0]))))
        return (wanted.program, wanted.participant, list(wanted.fields), list(wanted.actions),
                wanted.minutes)

    @staticmethod
    def _eligible(session: Session, roles: list[Role], fields, actions, minutes) -> None:
        """Where a role declares what its holders may request, the request must fit."""
        declared = [e for r in roles for e in (r.eligible_overrides or [])]
        if not declared:
            return
        catalogue = tuple(sorted(session.scalars(select(Field.id))))
        wanted = set(patterns.expand(fields, catalogue)[0])
        for entry in declared:
            allowed = set(patterns.expand(entry["fields"], catalogue)[0])
            if (wanted <= allowed and set(actions) <= set(entry["actions"])
                    and minutes <= entry.get("max_minutes", minutes)):
                return
        raise Refused("no role of yours makes this override eligible",
                      {"fields": "outside every eligible_overrides entry of your roles"})


def _locked(session: Session, override_id: str) -> Override:
    row = locked_row(session, Override, override_id)
    if row is None:
        raise NotFound(f"no override '{override_id}'")
    return row


@dataclass
class DecideOverride:
    override_id: str
    actor: str
    approve: bool
    note: str | None
    now: datetime
    pending_minutes: int = 1440
    notifier: Notifier = field(kw_only=True)  # told after the commit
    via: str = field(default=API, kw_only=True)

    def execute(self, session: Session) -> Override:
        actor = active_actor(session, self.actor)
        row = _locked(session, self.override_id)
        if row.status == "pending" and row.requested_at + timedelta(
                minutes=self.pending_minutes) <= self.now:
            # Lapsed: refused as run-due would have marked it; the refusal writes nothing.
            raise Conflict(f"override request '{row.id}' has lapsed", {"status": "expired"})
        require_status(row.status, "pending", f"override '{row.id}' is already {row.status}")
        refuse_self_action(actor, row.user_id, "nobody approves their own override")
        require_approver(session, actor, "override", row.program_id, self.now)
        row.resolved_at, row.resolved_by = self.now, actor
        row.note = optional_text(self.note, "note")
        if self.approve:
            row.status, row.approved_at = "approved", self.now
            row.expires_at = self.now + timedelta(minutes=row.minutes)
            bump_revision(session, [("overrides", row.user_id)])
        else:
            row.status = "denied"
        document = override_document(row, self.now)
        audit.append(session, f"override.{row.status}", {**document, "via": self.via},
                     actor=actor,
                     subject=row.user_id, participant=row.participant_id, ref=row.id,
                     at=self.now)
        session.commit()
        deliver(self.notifier, session, notices.override_decided(row, actor, document, self.now))
        return row


@dataclass
class RevokeOverride:
    override_id: str
    actor: str
    note: str | None
    now: datetime
    via: str = field(default=API, kw_only=True)
    notifier: Notifier | None = field(default=None, kw_only=True)  # told after the commit

    def execute(self, session: Session) -> Override:
        actor = active_actor(session, self.actor)
        row = _locked(session, self.override_id)
        active = row.status == "approved" and row.expires_at and self.now < row.expires_at
        if not active:
            raise Conflict(f"override '{row.id}' is not active", {"status": row.status})
        if actor != row.user_id and not may_approve(session, actor, "override",
                                                    row.program_id, self.now):
            raise Refused("only the holder or an approver may revoke an override",
                          {"actor": "neither the holder nor an approver"})
        row.status, row.resolved_at, row.resolved_by, row.note = (
            "revoked", self.now, actor, optional_text(self.note, "note"))
        bump_revision(session, [("overrides", row.user_id)])
        document = override_document(row, self.now)
        audit.append(session, "override.revoked", {**document, "via": self.via}, actor=actor,
                     subject=row.user_id,
                     participant=row.participant_id, ref=row.id, at=self.now)
        session.commit()
        if self.notifier is not None:  # the holder, when someone else ended it
            deliver(self.notifier, session,
                    *notices.override_revoked(row, actor, document, self.now))
        return row
