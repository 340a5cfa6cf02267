"""Why a decision came out as it did: the trail behind each field (contract section 9, Simulator).

``explain`` decides with the pipeline itself (``pipeline.decide``: the answer is the API's, to
the letter) and then walks the same rules again for each field to say what led there: which
grant of which role, through which assignment (and directory group), which case involvement,
override or break-glass, and for a disclosure the bundle, consents and escalation. A field that
no grant opens says so plainly (``no_rule_matched``).

Pure like the pipeline: the snapshot, the request and the moment in, plus ``Facts`` the
snapshot does not keep (the grants' patterns as written, where each assignment came from),
which the caller reads from the store. The trail's data types are in ``trail.py``.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from governance.policy.patterns import field_match, matches_any
from governance.policy.pipeline import _Request, check_request, decide
from governance.policy.request import DecisionRequest
from governance.policy.snapshot import AssignmentInfo, FieldInfo, OverrideInfo, Snapshot
from governance.policy.trail import (
    ASSIGNMENT,
    BREAK_GLASS,
    BUNDLE,
    CATALOGUE,
    CONSENT,
    ENROLMENT,
    ENTIRE_RECORD,
    ESCALATION,
    GRANT,
    INVOLVEMENT,
    NO_RULE,
    OVERRIDE,
    PURPOSE,
    REASON_STEP,
    RECIPIENT,
    REQUEST_REASON_STEP,
    RESTRICTION,
    SUBJECT,
    Explanation,
    Facts,
    FieldTrail,
    Step,
    origin_text,
    shown_until,
)
from governance.policy.vocabulary import CONSENT_LABELS, consent_needed


def explain(snap: Snapshot, req: DecisionRequest, now: datetime, facts: Facts) -> Explanation:
    """Decide ``req`` as the API would, with the trail of every field (RequestError as there)."""
    outcome = decide(snap, req, now)
    basis = check_request(snap, req)
    ctx = _Request(snap, req, basis, now)
    walker = _Trail(snap, req, now, facts, ctx, basis)
    requested = snap.field_ids if req.entire_record else req.fields
    known, unknown = snap.expand(tuple(requested))
    opened = ctx.opened(known)
    request_steps = walker.request_steps()
    trails = [FieldTrail(p, outcome.denied.get(p, "unknown_field"), False,
                         [Step(CATALOGUE, False, f"'{p}' names no field in the catalogue")])
              for p in unknown]
    for field_id in known:
        result = "allowed" if field_id not in outcome.denied else outcome.denied[field_id]
        trails.append(walker.field(field_id, opened.get(field_id, []), result))
    for trail in trails:
        mark_decisive(trail, request_steps)
    return Explanation(outcome, request_steps, trails)


def mark_decisive(trail: FieldTrail, request_steps: list[Step]) -> None:
    """Mark the step whose failure the field's reason reports; a reason about the request as
    a whole (an inactive user, an unknown recipient...) gets that request step added."""
    kind = REQUEST_REASON_STEP.get(trail.result)
    if kind is not None:
        failed = next((s for s in request_steps if s.kind == kind and not s.met), None)
        if failed is not None:
            trail.steps.append(replace(failed, decisive=True))
        return
    kind = REASON_STEP.get(trail.result)
    for i, step in enumerate(trail.steps):
        if step.kind == kind and not step.met:
            trail.steps[i] = replace(step, decisive=True)
            return


class _Trail:
    """The steps of one request's trail, in the pipeline's own terms."""

    def __init__(self, snap: Snapshot, req: DecisionRequest, now: datetime, facts: Facts,
                 ctx: _Request, basis: str | None) -> None:
        self.snap, self.req, self.now, self.facts, self.ctx = snap, req, now, facts, ctx
        self.basis = basis
        self.assignments = {f"assignment:{a.id}": a
                            for a in snap.assignments.get(req.subject, ())}
        self.overrides = {o.id: o for o in snap.overrides.get(req.subject, ())}

    # The request as a whole ---------------------------------------------------------------

    def request_steps(self) -> list[Step]:
        snap, req, ctx = self.snap, self.req, self.ctx
        steps = [Step(SUBJECT, True, f"{req.subject} is an active user")
                 if req.subject in snap.active_users else
                 Step(SUBJECT, False, f"{req.subject} is not an active user (unknown or "
                                      "disabled): nothing is released")]
        enrolled = sorted(snap.enrollments.get(req.participant, ()))
        if req.program in enrolled:
            steps.append(Step(ENROLMENT, True,
                              f"{req.participant} is enrolled in {req.program}"))
        else:
            where = (f"enrolled in {', '.join(enrolled)} only" if enrolled
                     else "not enrolled in any program (or unknown)")
            steps.append(Step(ENROLMENT, False, f"{req.participant} is not enrolled in "
                                                f"{req.program} ({where})"))
        if req.purpose is not None:
            steps.append(Step(PURPOSE, True, self._purpose_text()))
        if req.action == "disclose":
            partner = ctx.partner
            if partner is None:
                steps.append(Step(RECIPIENT, False, f"{req.recipient or 'no recipient'} is not "
                                                    "a known partner: nothing is disclosed"))
            else:
                standard = "standard" if partner.standard else (
                    "not standard: every field waits for an escalation")
                steps.append(Step(RECIPIENT, True, f"{partner.id} is a known partner: "
                                                   f"{partner.name} ({partner.type}, {standard})"))
            if ctx.bundle is not None:
                b = ctx.bundle
                fits = partner is None or partner.type in b.partner_types
                steps.append(Step(BUNDLE, fits, f"bundle {b.id} (purpose {b.purpose}) goes to "
                                                f"{', '.join(sorted(b.partner_types))}"
                                  + ("" if fits else f", not to {partner.type}: it releases "
                                                     "nothing to this recipient")))
        if req.entire_record:
            if req.action == "view":
                steps.append(Step(ENTIRE_RECORD, True, '"*" asks for every catalogued field; '
                                                       "each is decided on its own"))
            else:
                refused = ctx._rule_4_entire_record() is not None
                steps.append(Step(ENTIRE_RECORD, not refused, (
                    f'"*" for {req.action} where minimum necessary applies needs an approved '
                    "escalation; none covers it") if refused else (
                    f'"*" for {req.action}: allowed to be asked (minimum necessary does not '
                    "apply, or an approved escalation covers it)")))
        return steps

    def _purpose_text(self) -> str:
        ctx, basis, purpose = self.ctx, self.basis, self.req.purpose
        named = purpose if basis == purpose else f"{purpose} (basis {basis})"
        minimum = ("minimum necessary applies" if ctx.minimum_necessary
                   else "minimum necessary does not apply")
        if self.req.action != "disclose":
            return f"purpose {named}: {minimum}"
        needs = ("consent is needed for every field" if basis == "authorization" else
                 "consent is needed for fields labelled "
                 + " or ".join(sorted(CONSENT_LABELS))
                 if basis in ("treatment", "payment", "operations") else "no consent is needed")
        return f"purpose {named}: {minimum}; {needs}"

    # One field ----------------------------------------------------------------------------

    def field(self, field_id: str, grants: list[str], result: str) -> FieldTrail:
        steps: list[Step] = []
        for name in grants:
            steps += self._source_steps(name, field_id)
        no_rule = False
        if not grants:
            case_grants = [n for n, fields in self.ctx.case_sources if field_id in fields]
            if case_grants:
                for name in case_grants:
                    steps += self._assignment_steps(name, field_id, counted=False)
            else:
                no_rule = True
                steps += self._no_rule_steps(field_id)
        elif self.ctx.disclosing:
            steps += self._disclosure_steps(field_id, self.snap.fields[field_id])
        return FieldTrail(field_id, result, no_rule, steps)

    def _source_steps(self, name: str, field_id: str) -> list[Step]:
        kind, _, ident = name.partition(":")
        if kind == "assignment":
            return self._assignment_steps(name, field_id, counted=True)
        override = self.overrides.get(ident)
        if override is None:  # pragma: no cover - the pipeline named a source it holds
            return [Step(OVERRIDE, True, f"{name}", ref=name)]
        return [self._override_step(override, field_id, name)]

    def _assignment_steps(self, name: str, field_id: str, *, counted: bool) -> list[Step]:
        """The grant, the assignment it comes through and, for a case-scope role, the
        involvement that makes it count (``counted``) or whose absence does not."""
        a = self.assignments[name]
        req = self.req
        scope = self.snap.role_scopes.get(a.role, "")
        steps = [Step(GRANT, True, f"role {a.role} grants {req.action} on "
                                   f"{self._patterns(a.role, field_id)}", ref=f"role:{a.role}"),
                 Step(ASSIGNMENT, True, self._assignment_text(a, scope), ref=name)]
        if scope == "case":
            steps.append(self._involvement_step(counted))
        return steps

    def _assignment_text(self, a: AssignmentInfo, scope: str) -> str:
        where = ("organisation-wide (every program)" if scope == "organization"
                 else f"in {a.program}" + (" (program-wide)" if scope == "program"
                                           else " (case scope)"))
        origin = self.facts.origins.get(a.id)
        text = f"{self.req.subject} holds {a.role} {where}"
        if a.valid_until is not None:
            text += f", until {shown_until(a.valid_until)}"
        return text + origin_text(origin)

    def _involvement_step(self, counted: bool) -> Step:
        req, now = self.req, self.now
        rows = [i for i in self.snap.involvements.get((req.subject, req.participant), ())
                if i.program == req.program]
        active = [i for i in rows if i.active(now)]
        if counted and active:
            i = active[0]
            since = f" since {i.valid_from.date().isoformat()}" if i.valid_from else ""
            until = f", until {shown_until(i.valid_until)}" if i.valid_until else ""
            return Step(INVOLVEMENT, True, f"{req.subject} is on the case of {req.participant} "
                                           f"in {req.program}{since}{until}",
                        ref=f"involvement:{i.id}")
        if rows:
            i = rows[0]
            when = (f"ended {shown_until(i.valid_until)}"
                    if i.valid_until is not None and i.valid_until <= now
                    else f"starts {i.valid_from.date().isoformat()}" if i.valid_from else "")
            return Step(INVOLVEMENT, False, f"the role is case-scope, and {req.subject}'s "
                                            f"involvement with {req.participant} in "
                                            f"{req.program} is not active ({when})",
                        ref=f"involvement:{i.id}")
        return Step(INVOLVEMENT, False, f"the role is case-scope, and {req.subject} is not on "
                                        f"the case of {req.participant} in {req.program}")

    def _override_step(self, o: OverrideInfo, field_id: str, name: str) -> Step:
        kind = BREAK_GLASS if o.kind == "break_glass" else OVERRIDE
        what = "break-glass access" if kind == BREAK_GLASS else "approved override"
        covering = [p for p in o.fields if field_match(field_id, p)]
        who = f"for {o.participant}" if o.participant else "for every participant"
        until = f", until {o.valid_until.isoformat(timespec='minutes')}" if o.valid_until else ""
        review = " (reviewed afterwards)" if kind == BREAK_GLASS else ""
        return Step(kind, True, f"{what} {o.id} covers {', '.join(covering)} for "
                                f"{', '.join(sorted(o.actions))} in {o.program} "
                                f"{who}{until}{review}", ref=name)

    def _no_rule_steps(self, field_id: str) -> list[Step]:
        """No grant opens the field: say so, and what came closest (a role held outside its
        dates or in another program), so the answer is not a bare refusal."""
        snap, req, now = self.snap, self.req, self.now
        steps = [Step(NO_RULE, False,
                      f"No rule matched: no role {req.subject} holds in {req.program} (or "
                      f"organisation-wide) grants {req.action} on {field_id}, and no active "
                      "override or break-glass covers it")]
        for a in snap.assignments.get(req.subject, ()):
            if field_id not in snap.grants.get((a.role, req.action), ()):
                continue
            scope = snap.role_scopes.get(a.role)
            if scope is None:
                continue
            elsewhere = scope != "organization" and a.program != req.program
            if not a.active(now):
                when = (f"ended {shown_until(a.valid_until)}"
                        if a.valid_until is not None and a.valid_until <= now
                        else f"starts {a.valid_from.date().isoformat()}" if a.valid_from
                        else "not in force")
                steps.append(Step(ASSIGNMENT, False, f"{req.subject}'s {a.role} "
                                  f"{'in ' + a.program if a.program else 'organisation-wide'}"
                                  f" would grant it, but is not in force ({when})",
                                  ref=f"assignment:{a.id}"))
            elif elsewhere:
                steps.append(Step(ASSIGNMENT, False, f"{req.subject} holds {a.role} in "
                                                     f"{a.program}, not in {req.program}",
                                  ref=f"assignment:{a.id}"))
        return steps

    def _disclosure_steps(self, field_id: str, info: FieldInfo) -> list[Step]:
        """Rules 5 and 6 for a field a grant opens, each asked of the pipeline itself."""
        ctx, steps = self.ctx, []
        bundle = ctx.bundle
        if bundle is not None:
            reason = ctx._rule_5_bundle(field_id, info)
            text = {None: f"bundle {bundle.id} lists {field_id}",
                    "bundle_prohibited": f"bundle {bundle.id} prohibits {field_id}"}.get(
                reason, f"{field_id} is not released by bundle {bundle.id}")
            steps.append(Step(BUNDLE, reason is None, text, ref=f"bundle:{bundle.id}"))
        steps.append(self._consent_step(field_id, info))
        restriction = ctx._rule_5_restriction(field_id, info)
        if restriction is not None:
            excluding = [c for c in ctx._active_consents if c.exclude_labels & info.labels]
            labels = sorted(set().union(*(c.exclude_labels & info.labels for c in excluding)))
            steps.append(Step(RESTRICTION, False, f"consent {excluding[0].id} of "
                                                  f"{self.req.participant} excludes fields "
                                                  f"labelled {', '.join(labels)}",
                              ref=f"consent:{excluding[0].id}"))
        elif info.labels:
            steps.append(Step(RESTRICTION, True, "no consent for this recipient excludes its "
                                                 f"labels ({', '.join(sorted(info.labels))})"))
        steps.append(self._escalation_step(field_id, info))
        return steps

    def _consent_step(self, field_id: str, info: FieldInfo) -> Step:
        ctx, req = self.ctx, self.req
        if not consent_needed(self.basis, info.labels):
            return Step(CONSENT, True, f"no consent needed for {field_id} under purpose "
                                       f"{req.purpose}")
        reason = ctx._rule_5_consent(field_id, info)
        if reason is None:
            ids = [p.partition(":")[2] for p in ctx.permissions.get(field_id, ())
                   if p.startswith("consent:")]
            return Step(CONSENT, True, f"consent {', '.join(dict.fromkeys(ids))} of "
                                       f"{req.participant} covers {req.recipient}, "
                                       f"{req.purpose} and {field_id}",
                        ref=f"consent:{ids[0]}" if ids else None)
        if reason == "consent_expired":
            expired = next(c for c in ctx._consents
                           if c.valid_until is not None and c.valid_until <= self.now
                           and req.purpose in c.purposes and matches_any(field_id, c.fields))
            return Step(CONSENT, False, f"consent {expired.id} of {req.participant} covered it "
                                        f"but expired {shown_until(expired.valid_until)}",
                        ref=f"consent:{expired.id}")
        return Step(CONSENT, False, f"no active consent of {req.participant} covers "
                                    f"{req.recipient}, purpose {req.purpose} and {field_id}")

    def _escalation_step(self, field_id: str, info: FieldInfo) -> Step:
        ctx = self.ctx
        assert ctx.partner is not None
        why = [w for w, applies in (
            ("the field is very restricted", info.sensitivity == "very_restricted"),
            (f"{ctx.partner.id} is not a standard partner", not ctx.partner.standard),
            ("minimum necessary applies and no bundle is named",
             ctx.minimum_necessary and ctx.bundle is None)) if applies]
        if not why:
            return Step(ESCALATION, True, "no escalation needed")
        if ctx.emergency:
            return Step(ESCALATION, True, f"an emergency does not wait for sign-off ({why[0]}): "
                                          "released now and reviewed afterwards")
        reason = ctx._rule_6_escalation(field_id, info)
        if reason is None:
            approved = ctx._escalation_for(field_id)
            return Step(ESCALATION, True, f"approved escalation {approved} covers it "
                                          f"({'; '.join(why)})", ref=f"escalation:{approved}")
        return Step(ESCALATION, False, f"needs an approved escalation: {'; '.join(why)}; "
                                       "none covers it")

    def _patterns(self, role: str, field_id: str) -> str:
        written = [p for p in self.facts.grant_patterns.get((role, self.req.action), ())
                   if field_match(field_id, p)]
        return ", ".join(written) if written else field_id
