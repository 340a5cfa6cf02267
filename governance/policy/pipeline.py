"""The decision pipeline: contract section 3's seven rules, field by field.

Pure: a compiled Snapshot, a DecisionRequest and the moment of the request in; an Outcome out.
No Flask, no I/O, so the API, console, CLI and benchmarks all call the same code.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from governance.policy.patterns import ENTIRE_RECORD, matches_any
from governance.policy.request import DecisionRequest, RequestError
from governance.policy.snapshot import PartnerInfo, Snapshot
from governance.policy.vocabulary import (
    NEEDS_JUSTIFICATION,
    OBLIGATIONS,
    consent_needed,
    minimum_necessary_applies,
)

NOTHING: list[str] = []  # no grant opens the field (never appended to)
PER_FIELD = "per field"  # the disclosure rules (5 and 6) must look at each field


@dataclass
class Outcome:
    decision: str
    allowed: list[str]
    denied: dict[str, str]
    obligations: list[str]
    policy_version: str
    # field -> the permission it was released under ("assignment:12", "override:ovr_..").
    basis: dict[str, list[str]] = field(default_factory=dict)


def check_request(snap: Snapshot, req: DecisionRequest) -> str | None:
    """Reject what the catalogue does not know (400); returns the purpose's basis."""
    errors: dict[str, str] = {}
    basis = None
    if req.purpose is not None:
        basis = snap.purposes.get(req.purpose)
        if basis is None:
            errors["purpose"] = f"unknown purpose '{req.purpose}'"
    if req.bundle is not None:
        bundle = snap.bundles.get(req.bundle)
        if bundle is None:
            errors["bundle"] = f"unknown bundle '{req.bundle}'"
        elif req.purpose is not None and bundle.purpose != req.purpose:
            errors["bundle"] = (f"bundle '{req.bundle}' is for purpose '{bundle.purpose}', "
                                f"not '{req.purpose}'")
    if req.escalation is not None and req.escalation not in snap.escalation_ids:
        errors["escalation"] = f"unknown escalation '{req.escalation}'"
    if basis in NEEDS_JUSTIFICATION and not (req.justification or "").strip():
        errors["justification"] = f"required for purpose '{req.purpose}' ({basis})"
    if errors:
        raise RequestError(errors)
    return basis


def decide(snap: Snapshot, req: DecisionRequest, now: datetime) -> Outcome:
    """Decide every requested field; raises RequestError for input the contract calls a 400."""
    basis = check_request(snap, req)
    requested = snap.field_ids if req.entire_record else req.fields
    known, unknown = snap.expand(tuple(requested))
    ctx = _Context(snap, req, basis, now)
    denied = {f: "unknown_field" for f in unknown}
    allowed: list[str] = []
    released_under: dict[str, list[str]] = {}  # the Outcome's basis
    opened = ctx.opened(known)
    for field_id in known:
        grants = opened.get(field_id, NOTHING)
        reason = ctx.reason(field_id, grants)
        if reason is None:
            allowed.append(field_id)
            extra = ctx.permissions.get(field_id)  # consents, escalation (disclosures)
            released_under[field_id] = grants + extra if extra else grants
        else:
            denied[field_id] = reason
    return Outcome(
        decision=_overall(allowed, denied),
        allowed=allowed,
        denied=dict(sorted(denied.items())),
        obligations=ctx.obligations(allowed, released_under),
        policy_version=snap.version,
        basis=released_under,
    )


def _overall(allowed: list[str], denied: dict[str, str]) -> str:
    if "escalation_required" in denied.values():
        return "escalate"
    if not denied:
        return "allow" if allowed else "deny"
    return "partial" if allowed else "deny"


class _Context:
    """Facts about one request, worked out once and shared by all its fields."""

    def __init__(self, snap: Snapshot, req: DecisionRequest, basis: str | None, now: datetime):
        self.snap, self.req, self.basis, self.now = snap, req, basis, now
        self.action = req.action
        self.subject_ok = req.subject in snap.active_users
        self.in_program = req.program in snap.enrollments.get(req.participant, ())
        self.partner: PartnerInfo | None = (
            snap.partners.get(req.recipient) if req.recipient is not None else None)
        partner_type = self.partner.type if self.partner else None
        self.minimum_necessary = minimum_necessary_applies(basis, self.action, partner_type)
        self.emergency = basis == "emergency"
        self.bundle = snap.bundles.get(req.bundle) if req.bundle else None
        self._grants()
        self._escalations = [
            e for e in snap.escalations.get((req.subject, req.participant), ())
            if e.active(now) and e.recipient == req.recipient and e.purpose == req.purpose
            and e.action == self.action and (req.escalation is None or e.id == req.escalation)
        ]
        # Rule 4 depends only on the request, so it is settled once.
        self.whole_record_unjustified = (
            req.entire_record and self.action != "view" and self.minimum_necessary
            and not self._escalated(ENTIRE_RECORD))
        if self.action == "disclose" and self.partner is not None:
            self._consents = [c for c in snap.consents.get(req.participant, ())
                              if c.for_recipient(self.partner)]
        else:
            self._consents = []
        # What rules 1 and 4-6 say of every field a grant opens, where that depends only on the
        # request (settled here once rather than per field).
        self.refused = ("subject_inactive" if not self.subject_ok
                        else "not_in_program" if not self.in_program else None)
        if self.action == "disclose" and self.partner is None:
            self.when_granted: str | None = "unknown_recipient"
        elif self.whole_record_unjustified:
            self.when_granted = "entire_record_not_justified"
        else:
            self.when_granted = PER_FIELD if self.action == "disclose" else None

    def _grants(self) -> None:
        """Rules 2-3: which fields a role grant or an override opens, and through what."""
        snap, req, now = self.snap, self.req, self.now
        self.sources: list[tuple[str, frozenset[str] | tuple[str, ...], str]] = []
        self.case_sources: list[tuple[str, frozenset[str]]] = []
        self.involved = False
        self.break_glass = False
        # field -> consents / escalation it is released under (for the audit and disclosures)
        self.permissions: dict[str, list[str]] = defaultdict(list)
        if not (self.subject_ok and self.in_program):
            return
        for a in snap.assignments.get(req.subject, ()):
            scope = snap.role_scopes.get(a.role)
            if scope is None or not a.active(now):
                continue
            if scope != "organization" and a.program != req.program:
                continue
            fields = snap.grants.get((a.role, self.action))
            if not fields:
                continue
            if scope == "case":
                self.case_sources.append((f"assignment:{a.id}", fields))
            else:
                self.sources.append((f"assignment:{a.id}", fields, "set"))
        for o in snap.overrides.get(req.subject, ()):
            if (o.active(now) and o.program == req.program and self.action in o.actions
                    and o.participant in (None, req.participant)):
                self.sources.append((f"{o.kind}:{o.id}", o.fields, "patterns"))
        self.involved = any(
            i.program == req.program and i.active(now)
            for i in snap.involvements.get((req.subject, req.participant), ()))
        self.break_glass = any(name.startswith("break_glass:") for name, _, _ in self.sources)

    def opened(self, fields: list[str]) -> dict[str, list[str]]:
        """Each of ``fields`` that a grant (assignment, override) opens -> those grants, in
        the order the grants were found."""
        found: dict[str, list[str]] = {}
        sources = [(name, granted, kind == "set") for name, granted, kind in self.sources]
        if self.involved:
            sources += [(name, granted, True) for name, granted in self.case_sources]
        for name, granted, exact in sources:
            hits = ([f for f in fields if f in granted] if exact
                    else [f for f in fields if matches_any(f, granted)])
            for field_id in hits:
                names = found.get(field_id)
                if names is None:
                    found[field_id] = [name]
                else:
                    names.append(name)
        return found

    def reason(self, field_id: str, grants: list[str]) -> str | None:
        """The first rule this field fails (``grants``: what opens it), or None when it may be
        released."""
        if self.refused is not None:  # rule 1: inactive subject, participant not in program
            return self.refused
        if not grants:  # rules 2-3
            if any(field_id in fields for _, fields in self.case_sources):
                return "no_case_involvement"
            return "no_role_grant"
        if self.when_granted is PER_FIELD:
            return self._disclosure_reason(field_id)
        return self.when_granted

    def _disclosure_reason(self, field_id: str) -> str | None:
        info = self.snap.fields[field_id]
        bundle, partner = self.bundle, self.partner
        assert partner is not None
        if bundle is not None:
            if field_id in bundle.prohibited:
                return "bundle_prohibited"
            if partner.type not in bundle.partner_types or field_id not in bundle.releasable:
                return "not_in_bundle"
        consent = self._consent_reason(field_id, info.labels)
        if consent is not None:
            return consent
        needs_escalation = (info.sensitivity == "very_restricted" or not partner.standard
                            or (self.minimum_necessary and bundle is None))
        if needs_escalation and not self.emergency:
            escalation = self._escalation_for(field_id)
            if escalation is None:
                return "escalation_required"
            self.permissions[field_id].append(f"escalation:{escalation}")
        return None

    def _consent_reason(self, field_id: str, labels: frozenset[str]) -> str | None:
        now, purpose = self.now, self.req.purpose
        active = [c for c in self._consents if c.active(now)]
        if consent_needed(self.basis, labels):
            covering = [c for c in active
                        if purpose in c.purposes and matches_any(field_id, c.fields)]
            if not covering:
                expired = any(
                    c.valid_until is not None and c.valid_until <= now
                    and purpose in c.purposes and matches_any(field_id, c.fields)
                    for c in self._consents)
                return "consent_expired" if expired else "no_consent"
            self.permissions[field_id] += [f"consent:{c.id}" for c in covering]
        if labels and any(c.exclude_labels & labels for c in active):
            return "consent_restriction"
        return None

    def _escalation_for(self, field_id: str) -> str | None:
        return next((e.id for e in self._escalations if matches_any(field_id, e.fields)), None)

    def _escalated(self, field_id: str) -> bool:
        return self._escalation_for(field_id) is not None

    def obligations(self, allowed: list[str], basis: dict[str, list[str]]) -> list[str]:
        if not allowed:
            return []
        found = set()
        if self.action == "disclose":
            found.add("log_disclosure")
            if self.bundle is not None:
                found.add("cover_sheet")
            if any("sud" in self.snap.fields[f].labels for f in allowed):
                found.add("redisclosure_notice")
        if self.emergency or (self.break_glass and any(
                s.startswith("break_glass:") for grants in basis.values() for s in grants)):
            found.add("post_hoc_review")
        if self.basis in NEEDS_JUSTIFICATION:
            found.add("record_rationale")
        return [o for o in OBLIGATIONS if o in found]
