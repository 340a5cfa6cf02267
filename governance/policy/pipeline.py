"""The decision pipeline: contract section 3's seven rules, field by field.

Pure: a compiled Snapshot, a DecisionRequest and the moment of the request in; an Outcome out.
No Flask, no I/O, so the API, console, CLI and benchmarks all call the same code.

How to read it: ``decide`` checks the request (the 400s, rule 7's among them), expands the
fields and asks ``_Request.withheld`` about each. ``_Request`` holds rules 1 to 6, one method
each, in the contract's order; rule 7 follows it. The rules that depend only on the request (1, 4
and rule 5's recipient) are settled once per request, the others per field.

Where several rules give a reason for one field, the answer is the reason that
``vocabulary.REASONS`` (the contract's list) names first: ``RANK`` is that list's order and every
choice between reasons goes through it. The order in which the rules are evaluated is only a way
of finding that answer quickly (a rule is skipped when none of its reasons could rank first), and
``tests/unit/test_pipeline_contract.py`` fails if the two disagree.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from governance.policy.patterns import ENTIRE_RECORD, matches_any
from governance.policy.request import DecisionRequest, RequestError
from governance.policy.snapshot import FieldInfo, PartnerInfo, Snapshot
from governance.policy.vocabulary import (
    NEEDS_JUSTIFICATION,
    OBLIGATIONS,
    REASONS,
    consent_needed,
    minimum_necessary_applies,
)

RANK: dict[str, int] = {reason: rank for rank, reason in enumerate(REASONS)}
NOTHING: list[str] = []  # no grant opens the field (never appended to)
NO_FIELDS: frozenset[str] = frozenset()
# Rule 2's reason for a field no grant opens, and rule 3's for one only an uncounted case-scope
# grant opens.
UNGRANTED = ("no_role_grant", "no_case_involvement")


def earliest(*reasons: str | None) -> str | None:
    """Of the reasons that apply (None: a rule that gives none), the one REASONS lists first."""
    found = None
    for reason in reasons:
        if reason is not None and (found is None or RANK[reason] < RANK[found]):
            found = reason
    return found


@dataclass
class Outcome:
    decision: str
    allowed: list[str]
    denied: dict[str, str]
    obligations: list[str]
    policy_version: str
    # field -> the permission it was released under ("assignment:12", "override:ovr_..").
    basis: dict[str, list[str]] = field(default_factory=dict)


def decide(snap: Snapshot, req: DecisionRequest, now: datetime) -> Outcome:
    """Decide every requested field; raises RequestError for input the contract calls a 400."""
    basis = check_request(snap, req)
    requested = snap.field_ids if req.entire_record else req.fields
    known, unknown = snap.expand(tuple(requested))
    ctx = _Request(snap, req, basis, now)
    denied = dict.fromkeys(unknown, ctx.unknown_field_reason)
    allowed: list[str] = []
    released_under: dict[str, list[str]] = {}  # the Outcome's basis
    opened = ctx.opened(known)
    for field_id in known:
        grants = opened.get(field_id, NOTHING)
        reason = ctx.withheld(field_id, grants)
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


def check_request(snap: Snapshot, req: DecisionRequest) -> str | None:
    """Reject what the catalogue does not know, and rule 7 (400s); returns the purpose's basis."""
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
    unjustified = rule_7_justification(req, basis)
    if unjustified is not None:
        errors["justification"] = unjustified
    if errors:
        raise RequestError(errors)
    return basis


def _overall(allowed: list[str], denied: dict[str, str]) -> str:
    if "escalation_required" in denied.values():
        return "escalate"
    if not denied:
        return "allow" if allowed else "deny"
    return "partial" if allowed else "deny"


class _Request:
    """One request's facts, worked out once, and rules 1-6 (in the contract's order)."""

    def __init__(self, snap: Snapshot, req: DecisionRequest, basis: str | None, now: datetime):
        self.snap, self.req, self.basis, self.now = snap, req, basis, now
        self.action = req.action
        self.partner: PartnerInfo | None = (
            snap.partners.get(req.recipient) if req.recipient is not None else None)
        partner_type = self.partner.type if self.partner else None
        self.minimum_necessary = minimum_necessary_applies(basis, self.action, partner_type)
        self.emergency = basis == "emergency"
        self.bundle = snap.bundles.get(req.bundle) if req.bundle else None
        # field -> consents / escalation it is released under (for the audit and disclosures)
        self.permissions: dict[str, list[str]] = defaultdict(list)
        self._escalations = [
            e for e in snap.escalations.get((req.subject, req.participant), ())
            if e.active(now) and e.recipient == req.recipient and e.purpose == req.purpose
            and e.action == self.action and (req.escalation is None or e.id == req.escalation)
        ]
        # Rules 5-6 look at each field of a disclosure, to a known recipient only (they ask
        # about its bundle, consents and partner).
        partner = self.partner
        self.disclosing = self.action == "disclose" and partner is not None
        if self.disclosing and partner is not None:
            self._consents = [c for c in snap.consents.get(req.participant, ())
                              if c.for_recipient(partner)]
            self._active_consents = [c for c in self._consents if c.active(now)]
        else:
            self._consents = self._active_consents = []

        self.sources: list[tuple[str, frozenset[str] | tuple[str, ...], str]] = []
        self.case_sources: list[tuple[str, frozenset[str]]] = []
        self.break_glass = False  # a break-glass override is among the sources
        self._rule_2_role_grants()
        self._rule_3_case_grants()
        self._settle_request_wide_rules()

    def _settle_request_wide_rules(self) -> None:
        """What rules 1, 4 and 5's recipient say of every field, and so of a field no grant
        opens and of an unknown one (the earliest reason in REASONS, chosen once here)."""
        rule_1, rule_4 = self._rule_1_subject_and_enrolment(), self._rule_4_entire_record()
        rule_5 = self._rule_5_recipient()
        if rule_1 is None and rule_4 is None and rule_5 is None:  # the usual case, made cheap
            self.request_reason = None
            self.unknown_field_reason = "unknown_field"
            # A field no grant opens (indexed by "a case grant would have opened it").
            self.ungranted = UNGRANTED
        else:
            self.request_reason = earliest(rule_1, rule_4, rule_5)
            self.unknown_field_reason = earliest("unknown_field", self.request_reason)
            self.ungranted = (earliest(self.request_reason, UNGRANTED[0]),
                              earliest(self.request_reason, UNGRANTED[1]))

    # Rule 1 --------------------------------------------------------------------------------

    def _rule_1_subject_and_enrolment(self) -> str | None:
        """The subject exists and is active; the participant is enrolled in the program."""
        snap, req = self.snap, self.req
        inactive = None if req.subject in snap.active_users else "subject_inactive"
        outside = (None if req.program in snap.enrollments.get(req.participant, ())
                   else "not_in_program")
        return earliest(inactive, outside) if inactive and outside else inactive or outside

    # Rule 2 --------------------------------------------------------------------------------

    def _rule_2_role_grants(self) -> None:
        """A grant for the action from an assignment in the program (or an organisation-wide
        role) or from an active approved override; expired ones count as absent."""
        snap, req, now = self.snap, self.req, self.now
        for a in snap.assignments.get(req.subject, ()):
            scope = snap.role_scopes.get(a.role)
            if scope is None or scope == "case" or not a.active(now):
                continue
            if scope != "organization" and a.program != req.program:
                continue
            fields = snap.grants.get((a.role, self.action))
            if fields:
                self.sources.append((f"assignment:{a.id}", fields, "set"))
        for o in snap.overrides.get(req.subject, ()):
            if (o.active(now) and o.program == req.program and self.action in o.actions
                    and o.participant in (None, req.participant)):
                self.sources.append((f"{o.kind}:{o.id}", o.fields, "patterns"))
                self.break_glass = self.break_glass or o.kind == "break_glass"

    # Rule 3 --------------------------------------------------------------------------------

    def _rule_3_case_grants(self) -> None:
        """A case-scope role's grant counts only while the subject has an active involvement
        with the participant in the program."""
        snap, req, now = self.snap, self.req, self.now
        for a in snap.assignments.get(req.subject, ()):
            if (snap.role_scopes.get(a.role) != "case" or not a.active(now)
                    or a.program != req.program):
                continue
            fields = snap.grants.get((a.role, self.action))
            if fields:
                self.case_sources.append((f"assignment:{a.id}", fields))
        self.involved = any(
            i.program == req.program and i.active(now)
            for i in snap.involvements.get((req.subject, req.participant), ()))
        # The fields only an uncounted case-scope grant would open: no_case_involvement.
        self.case_only = NO_FIELDS if self.involved else NO_FIELDS.union(
            *(fields for _, fields in self.case_sources))

    def opened(self, fields: list[str]) -> dict[str, list[str]]:
        """Rules 2-3 for all fields at once: each of ``fields`` that a grant (assignment,
        override) opens -> those grants, in the order the grants were found."""
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

    # Rule 4 --------------------------------------------------------------------------------

    def _rule_4_entire_record(self) -> str | None:
        """``"*"`` for export or disclose where minimum necessary applies needs an approved
        escalation; for view it only asks for every field."""
        if (self.req.entire_record and self.action != "view" and self.minimum_necessary
                and self._escalation_for(ENTIRE_RECORD) is None):
            return "entire_record_not_justified"
        return None

    # Rule 5 --------------------------------------------------------------------------------

    def _rule_5_recipient(self) -> str | None:
        """A disclosure goes to a known partner."""
        if self.action == "disclose" and self.partner is None:
            return "unknown_recipient"
        return None

    def _rule_5_bundle(self, field_id: str, info: FieldInfo) -> str | None:
        """A named bundle limits the fields (never a prohibited one) and releases nothing to
        a partner type it does not list."""
        bundle = self.bundle
        if bundle is None:
            return None
        assert self.partner is not None
        prohibited = field_id in bundle.prohibited
        outside = (self.partner.type not in bundle.partner_types
                   or field_id not in bundle.releasable)
        if prohibited and outside:
            return earliest("bundle_prohibited", "not_in_bundle")
        return "bundle_prohibited" if prohibited else "not_in_bundle" if outside else None

    def _rule_5_consent(self, field_id: str, info: FieldInfo) -> str | None:
        """Where the purpose needs consent, an active consent covers recipient, purpose and
        field; one whose ``until`` has passed gives ``consent_expired``."""
        if not consent_needed(self.basis, info.labels):
            return None
        now, purpose = self.now, self.req.purpose
        covering = [c for c in self._active_consents
                    if purpose in c.purposes and matches_any(field_id, c.fields)]
        if covering:
            self.permissions[field_id] += [f"consent:{c.id}" for c in covering]
            return None
        expired = any(
            c.valid_until is not None and c.valid_until <= now
            and purpose in c.purposes and matches_any(field_id, c.fields)
            for c in self._consents)
        return "consent_expired" if expired else "no_consent"

    def _rule_5_restriction(self, field_id: str, info: FieldInfo) -> str | None:
        """An active consent for this recipient that excludes one of the field's labels."""
        labels = info.labels
        if labels and any(c.exclude_labels & labels for c in self._active_consents):
            return "consent_restriction"
        return None

    # Rule 6 --------------------------------------------------------------------------------

    def _rule_6_escalation(self, field_id: str, info: FieldInfo) -> str | None:
        """A very restricted field, a non-standard partner, or minimum necessary without a
        bundle waits for an approved escalation covering the field; emergency never waits."""
        assert self.partner is not None
        if self.emergency or not (info.sensitivity == "very_restricted"
                                  or not self.partner.standard
                                  or (self.minimum_necessary and self.bundle is None)):
            return None
        escalation = self._escalation_for(field_id)
        if escalation is None:
            return "escalation_required"
        self.permissions[field_id].append(f"escalation:{escalation}")
        return None

    def _escalation_for(self, field_id: str) -> str | None:
        return next((e.id for e in self._escalations if matches_any(field_id, e.fields)), None)

    # All rules, for one field --------------------------------------------------------------

    def withheld(self, field_id: str, grants: list[str]) -> str | None:
        """Why the field is withheld (of the reasons rules 1-6 give, the earliest in REASONS),
        or None when it may be released. ``grants``: what opens it (rules 2-3)."""
        found = self.request_reason if grants else self.ungranted[field_id in self.case_only]
        if not self.disclosing or (found is not None and RANK[found] < FIELD_RULES_FLOOR):
            return found
        info = self.snap.fields[field_id]
        for rule, floor in FIELD_RULES:
            if found is not None and RANK[found] < floor:
                break  # no rule left can give a reason REASONS lists earlier
            reason = rule(self, field_id, info)
            if reason is not None and (found is None or RANK[reason] < RANK[found]):
                found = reason
        return found

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


# Rule 7 ------------------------------------------------------------------------------------

def rule_7_justification(req: DecisionRequest, basis: str | None) -> str | None:
    """``emergency`` and ``required_by_law`` need a non-empty justification (else a 400)."""
    if basis in NEEDS_JUSTIFICATION and not (req.justification or "").strip():
        return f"required for purpose '{req.purpose}' ({basis})"
    return None


# The per-field disclosure rules in the contract's order, each with the reasons it can give.
FieldRule = Callable[[_Request, str, FieldInfo], "str | None"]
DISCLOSURE_RULES: tuple[tuple[FieldRule, tuple[str, ...]], ...] = (
    (_Request._rule_5_bundle, ("bundle_prohibited", "not_in_bundle")),
    (_Request._rule_5_consent, ("no_consent", "consent_expired")),
    (_Request._rule_5_restriction, ("consent_restriction",)),
    (_Request._rule_6_escalation, ("escalation_required",)),
)


def with_floors(rank: dict[str, int]) -> tuple[tuple[FieldRule, int], ...]:
    """Each disclosure rule with the rank of the earliest reason it or any rule after it can
    give: once a reason ranked before that is found, the rest cannot change the answer."""
    return tuple((rule, min(rank[r] for _, reasons in DISCLOSURE_RULES[i:] for r in reasons))
                 for i, (rule, _) in enumerate(DISCLOSURE_RULES))


FIELD_RULES = with_floors(RANK)
FIELD_RULES_FLOOR = FIELD_RULES[0][1]  # below this rank, no disclosure rule can matter
