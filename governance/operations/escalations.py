"""Escalations: sign-off for disclosures a decision marked escalation_required (or an entire
record), by someone who approves escalations in that program and is not the requester."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import iso, utcnow
from governance.db import API
from governance.ids import new_id
from governance.models import Escalation
from governance.notify import Notifier, deliver
from governance.operations.approvers import approval_scope
from governance.operations.common import (
    active_actor,
    load_decision,
    locked_row,
    optional_text,
)
from governance.operations.constraints import (
    refuse_self_action,
    require_approver,
    require_reason,
    require_status,
)
from governance.operations.errors import NotFound, Refused
from governance.operations.notices import escalation_decided, escalation_requested
from governance.operations.state import bump_revision
from governance.policy.patterns import ENTIRE_RECORD

VALID_FOR = timedelta(days=7)
ESCALATABLE = ("escalation_required", "entire_record_not_justified")


def escalation_document(e: Escalation, now: datetime | None = None) -> dict:
    status = e.status
    if status == "approved" and e.expires_at is not None and e.expires_at <= (now or utcnow()):
        status = "expired"
    return {"id": e.id, "status": status, "decision_id": e.decision_id, "requester": e.user_id,
            "participant": e.participant_id, "program": e.program_id,
            "recipient": e.recipient_id, "purpose": e.purpose_id, "action": e.action,
            "fields": e.fields, "justification": e.justification,
            "requested_at": iso(e.requested_at), "decided_by": e.decided_by,
            "decided_at": iso(e.decided_at), "expires_at": iso(e.expires_at), "note": e.note}



@dataclass
class RequestEscalation:
    actor: str
    decision_id: str
    justification: object
    now: datetime
    notifier: Notifier | None = field(default=None, kw_only=True)  # told after the commit

    def execute(self, session: Session) -> Escalation:
        actor = active_actor(session, self.actor)
        justification = require_reason(self.justification, "justification")
        decision = load_decision(session, self.decision_id)
        request = decision["request"]
        if request["subject"] != actor:
            raise Refused("only the user the decision was made for may ask to escalate it",
                          {"actor": f"the decision was for '{request['subject']}'"})
        waiting = sorted(f for f, reason in decision["denied"].items() if reason in ESCALATABLE)
        if not waiting:
            raise Refused("the decision has no field waiting for an escalation",
                          {"decision_id": "nothing marked escalation_required"})
        if "entire_record_not_justified" in decision["denied"].values():
            waiting = [ENTIRE_RECORD]
        row = Escalation(id=new_id("esc"), decision_id=decision["decision_id"], user_id=actor,
                         participant_id=request["participant"], program_id=request["program"],
                         recipient_id=request.get("recipient"), purpose_id=request.get("purpose"),
                         action=request["action"], fields=waiting, justification=justification,
                         status="pending", requested_at=self.now)
        session.add(row)
        session.flush()
        document = escalation_document(row, self.now)
        audit.append(session, "escalation.requested", document, actor=actor, subject=actor,
                     participant=row.participant_id, ref=row.id, at=self.now)
        session.commit()
        if self.notifier is not None:
            deliver(self.notifier, session,
                    escalation_requested(session, row, document, self.now))
        return row


@dataclass
class DecideEscalation:
    escalation_id: str
    actor: str
    approve: bool
    note: str | None
    now: datetime
    via: str = field(default=API, kw_only=True)  # the front end, kept in the audit row
    notifier: Notifier | None = field(default=None, kw_only=True)  # told after the commit

    def execute(self, session: Session) -> Escalation:
        actor = active_actor(session, self.actor)
        row = locked_row(session, Escalation, self.escalation_id)
        if row is None:
            raise NotFound(f"no escalation '{self.escalation_id}'")
        require_status(row.status, "pending", f"escalation '{row.id}' is already {row.status}")
        refuse_self_action(actor, row.user_id, "nobody may decide their own escalation")
        require_approver(session, actor, "escalation", row.program_id, self.now)
        row.status = "approved" if self.approve else "denied"
        row.decided_by, row.decided_at = actor, self.now
        row.note = optional_text(self.note, "note")
        if self.approve:
            row.expires_at = self.now + VALID_FOR
            bump_revision(session, [("escalations", row.user_id)])
        document = escalation_document(row, self.now)
        audit.append(session, f"escalation.{row.status}", {**document, "via": self.via},
                     actor=actor,
                     subject=row.user_id, participant=row.participant_id, ref=row.id,
                     at=self.now)
        session.commit()
        if self.notifier is not None:
            deliver(self.notifier, session, escalation_decided(row, actor, document, self.now))
        return row


def pending_for(session: Session, approver: str, now: datetime) -> list[Escalation]:
    """The approver's queue: pending escalations they may decide (never their own)."""
    scope = approval_scope(session, approver, "escalation", now)
    if not scope:
        return []
    query = select(Escalation).where(Escalation.status == "pending",
                                     Escalation.user_id != approver)
    if not scope.everywhere:
        query = query.where(Escalation.program_id.in_(
            [p for p in scope.programs if p is not None]))
    return [e for e in session.scalars(query.order_by(Escalation.requested_at))
            if scope.covers(e.program_id)]
