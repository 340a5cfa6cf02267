"""RecordDisclosure: what was actually sent, checked against its decision, with a cover sheet."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import API
from governance.ids import new_id
from governance.models import Disclosure, Field, Partner, Purpose
from governance.operations.accounting import permission_text
from governance.operations.common import (
    active_actor,
    load_decision,
    locked_row,
    require_text,
)
from governance.operations.constraints import refuse_self_action, require_reason
from governance.operations.errors import Conflict, Invalid, NotFound, Refused

# 45 CFR 164.528: no accounting is owed for these (the individual, TPO, an authorization).
NOT_ACCOUNTABLE = frozenset({"treatment", "payment", "operations", "individual_request",
                             "authorization"})
REDISCLOSURE_NOTICE = (
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records. This information "
    "has been disclosed to you from records protected by federal confidentiality rules "
    "(42 CFR part 2). The federal rules prohibit you from making any further disclosure of "
    "information in this record that identifies a patient as having or having had a substance "
    "use disorder either directly, by reference to publicly available information, or through "
    "verifiable third party sources unless further disclosure is expressly permitted by the "
    "written consent of the individual whose information is being disclosed or as otherwise "
    "permitted by 42 CFR part 2.")


@dataclass
class RecordDisclosure:
    actor: str
    decision_id: str
    channel: object
    fields: object
    now: datetime
    via: str = API

    def execute(self, session: Session) -> Disclosure:
        actor = active_actor(session, self.actor)
        channel = require_text(self.channel, "channel")
        sent = self._fields()
        decision = load_decision(session, self.decision_id)
        request = decision["request"]
        if request["action"] != "disclose":
            raise Refused("the decision was not for a disclosure", {"decision_id": "not disclose"})
        if request["subject"] != actor:
            raise Refused("only the user the decision was made for may record its disclosure",
                          {"actor": f"the decision was for '{request['subject']}'"})
        outside = sorted(set(sent) - set(decision["allowed"]))
        if outside:
            raise Refused("fields the decision did not allow: " + ", ".join(outside),
                          {"fields": {f: decision["denied"].get(f, "not requested")
                                      for f in outside}})
        partner = session.get(Partner, request["recipient"])
        approved = (partner.channels or []) if partner is not None else []
        if channel not in approved:
            raise Refused(f"channel '{channel}' is not approved for this partner",
                          {"channel": "approved: " + (", ".join(approved) or "none")})
        if session.scalar(select(Disclosure.id).where(
                Disclosure.decision_id == decision["decision_id"])):
            raise Conflict("this decision's disclosure is already recorded; ask for a new "
                           "decision to send again", {"decision_id": "already used"})
        row = self._row(session, actor, channel, sent, decision, partner)
        session.add(row)
        session.flush()
        audit.append(session, "disclosure.recorded", {"disclosure": disclosure_summary(row),
                                                      "via": self.via},
                     actor=actor, subject=actor, participant=row.participant_id, ref=row.id,
                     at=self.now)
        session.commit()
        return row

    def _fields(self) -> list[str]:
        if (not isinstance(self.fields, list) or not self.fields
                or not all(isinstance(f, str) and f for f in self.fields)):
            raise Invalid("fields: a non-empty list of field ids", {"fields": "required"})
        return sorted(set(self.fields))

    def _row(self, session: Session, actor: str, channel: str, sent: list[str],
             decision: dict, partner: Partner) -> Disclosure:
        request = decision["request"]
        purpose = session.get(Purpose, request["purpose"])
        basis = purpose.basis if purpose else request["purpose"]
        consents = sorted({p.split(":", 1)[1] for f in sent for p in decision["basis"].get(f, [])
                           if p.startswith("consent:")})
        escalations = sorted({p.split(":", 1)[1] for f in sent
                              for p in decision["basis"].get(f, [])
                              if p.startswith("escalation:")})
        withheld = dict(decision["denied"])
        withheld.update({f: "not_sent" for f in decision["allowed"] if f not in sent})
        emergency = "post_hoc_review" in decision["obligations"]
        return Disclosure(
            id=new_id("dsc"), decision_id=decision["decision_id"], at=self.now, actor=actor,
            participant_id=request["participant"], program_id=request["program"],
            recipient_id=partner.id, purpose_id=request["purpose"], basis=basis,
            bundle_id=request.get("bundle"), channel=channel, fields=sent, withheld=withheld,
            permission={"consents": consents, "escalations": escalations,
                        "legal_basis": None if consents or escalations else basis},
            justification=request.get("justification"),
            accountable=basis not in NOT_ACCOUNTABLE, obligations=decision["obligations"],
            review_status="pending" if emergency else None)


def disclosure_summary(d: Disclosure) -> dict:
    return {"id": d.id, "status": "open" if d.review_status == "pending" else "closed",
            "decision_id": d.decision_id, "at": d.at.isoformat(timespec="seconds") + "Z",
            "sent_by": d.actor, "participant": d.participant_id, "program": d.program_id,
            "recipient": d.recipient_id, "purpose": d.purpose_id, "basis": d.basis,
            "bundle": d.bundle_id, "channel": d.channel, "fields": d.fields,
            "withheld": d.withheld, "permission": d.permission, "accountable": d.accountable,
            "review_status": d.review_status}


def cover_sheet(session: Session, d: Disclosure) -> dict:
    """What the recipient and the file copy need: what went, what did not and why, and under
    which permission."""
    partner = session.get(Partner, d.recipient_id)
    purpose = session.get(Purpose, d.purpose_id)
    fields = {f.id: f for f in session.scalars(select(Field).where(
        Field.id.in_(list(d.fields) + list(d.withheld))))}
    sud = [f for f in d.fields if f in fields and "sud" in (fields[f].labels or [])]
    return {
        "disclosure_id": d.id, "date": d.at.isoformat(timespec="seconds") + "Z",
        "participant": d.participant_id, "program": d.program_id,
        "recipient": {"id": d.recipient_id, "name": partner.name if partner else d.recipient_id,
                      "address": partner.address if partner else None},
        "channel": d.channel, "sent_by": d.actor,
        "purpose": {"id": d.purpose_id, "basis": d.basis,
                    "statement": (purpose.description if purpose and purpose.description
                                  else d.purpose_id.replace("_", " "))},
        "included": [{"field": f, "description": _describe(fields.get(f), f)}
                     for f in d.fields],
        "withheld": [{"field": f, "reason": r} for f, r in sorted(d.withheld.items())],
        "permission": d.permission,
        "justification": d.justification,
        "redisclosure_notice": REDISCLOSURE_NOTICE if sud else None,
    }


def cover_sheet_text(sheet: dict) -> str:
    """The cover sheet as a plain-text file to attach to the message that carries the data."""
    permission = sheet["permission"]
    lines = [
        "DISCLOSURE COVER SHEET", f"Disclosure: {sheet['disclosure_id']}  Date: {sheet['date']}",
        f"To: {sheet['recipient']['name']}" + (f", {sheet['recipient']['address']}"
                                              if sheet["recipient"]["address"] else ""),
        f"Channel: {sheet['channel']}   Sent by: {sheet['sent_by']}",
        f"Participant: {sheet['participant']} ({sheet['program']})",
        f"Purpose: {sheet['purpose']['statement']} ({sheet['purpose']['id']})",
        "Permission: " + permission_text(permission), "", "INCLUDED:",
        *[f"  {i['field']}: {i['description']}" for i in sheet["included"]], "", "WITHHELD:",
        *([f"  {w['field']}: {w['reason']}" for w in sheet["withheld"]] or ["  nothing"]),
    ]
    if sheet["justification"]:
        lines += ["", f"Rationale: {sheet['justification']}"]
    if sheet["redisclosure_notice"]:
        lines += ["", "NOTICE: " + sheet["redisclosure_notice"]]
    return "\n".join(lines) + "\n"


def _describe(field: Field | None, field_id: str) -> str:
    return field.description if field is not None and field.description else field_id


@dataclass
class ReviewDisclosure:
    """Close the after-the-fact review an emergency disclosure opened."""

    disclosure_id: str
    actor: str
    finding: object
    now: datetime
    via: str = API

    def execute(self, session: Session) -> Disclosure:
        actor = active_actor(session, self.actor)
        finding = require_reason(self.finding, "finding")
        row = locked_row(session, Disclosure, self.disclosure_id)
        if row is None:
            raise NotFound(f"no disclosure '{self.disclosure_id}'")
        if row.review_status != "pending":
            raise Conflict("this disclosure has no open review", {"review_status":
                                                                    row.review_status})
        refuse_self_action(actor, row.actor, "nobody reviews their own emergency disclosure",
                           "the sender")
        row.review_status, row.review_finding = "completed", finding
        row.reviewed_by, row.reviewed_at = actor, self.now
        audit.append(session, "disclosure.reviewed", {"finding": finding, "via": self.via},
                     actor=actor,
                     participant=row.participant_id, ref=row.id, at=self.now)
        session.commit()
        return row
