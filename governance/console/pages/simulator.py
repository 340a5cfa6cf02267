"""The simulator (contract section 9): a decision request typed into a form, decided by the same
pipeline as the API, shown field by field with the trail that led there. Audited as a
simulation (``decision.simulated``, the signed-in user as actor), never as a decision."""
from __future__ import annotations

import re

from flask import render_template, request

from governance.console import bp
from governance.extension import state
from governance.operations.simulate import SimulateDecision
from governance.policy.request import RequestError, parse_decision_request
from governance.policy.snapshot import Snapshot
from governance.policy.vocabulary import ACTIONS, REASONS
from governance.signin.powers import ADMIN, AUDITOR
from governance.signin.session import any_power_required, signed_in_user

PAGE = "governance/console/simulator.html"
# Form field -> request member (the form says User where the API says subject).
MEMBERS = {"user": "subject", "participant": "participant", "program": "program",
           "action": "action", "purpose": "purpose", "recipient": "recipient",
           "bundle": "bundle", "fields": "fields", "justification": "justification",
           "escalation": "escalation"}
FORM_FIELD = {member: name for name, member in MEMBERS.items()}
REQUIRED = ("user", "participant", "program", "action", "fields")
MAX_FORM_TEXT = 8000
KNOWN_LISTED = 12  # an unknown purpose or bundle is answered with the known ones up to this
REASON_TEXT = dict(zip(REASONS, (
    "not a field of the catalogue",
    "the user is unknown or disabled",
    "the participant is not enrolled in the program",
    "no role of the user grants it (no rule matched)",
    "only a case role grants it, and the user is not on this participant's case",
    "the recipient is not a known partner",
    "the entire record was asked for where minimum necessary applies",
    "the bundle prohibits it",
    "the bundle does not release it (or does not go to this kind of partner)",
    "no active consent of the participant covers it",
    "the consent that covered it has expired",
    "a consent of the participant excludes one of its labels",
    "it may go only after an approved escalation",
), strict=True))
OUTCOME_TEXT = {"allow": "Allowed: every field asked for may be released",
                "partial": "Partly allowed: some fields may be released, the others not",
                "deny": "Denied: no field may be released",
                "escalate": "Needs sign-off: some fields may go only after an approved "
                            "escalation"}


@bp.route("/simulator", methods=["GET", "POST"])
@any_power_required(ADMIN, AUDITOR)
def simulator():
    """The empty form (GET), or the simulated decision with its trail (POST)."""
    snap = state().snapshot()
    values = {name: (request.form.get(name) or "").strip()[:MAX_FORM_TEXT] for name in MEMBERS}
    if request.method == "GET":
        values.update({k: (request.args.get(k) or "").strip()[:MAX_FORM_TEXT]
                       for k in MEMBERS})
        values["action"] = values["action"] or "view"
    context = {"values": values, "errors": {}, "simulation": None, "snap": snap,
               "actions": ACTIONS, "reason_text": REASON_TEXT, "outcome_text": OUTCOME_TEXT}
    if request.method == "GET":
        return render_template(PAGE, **context)
    try:
        decision_request = parse_decision_request(_request_body(values))
        context["simulation"] = SimulateDecision(
            decision_request, actor=signed_in_user().id, via="console").execute(
            state().session, snap, state().clock())
    except RequestError as exc:
        state().session.rollback()
        context["errors"] = _form_errors(exc.details, snap)
        return render_template(PAGE, **context), 400
    return render_template(PAGE, **context)


def split_fields(text: str) -> list[str]:
    """Field ids or patterns separated by spaces or commas."""
    return [part for part in re.split(r"[\s,]+", text) if part]


def _request_body(values: dict[str, str]) -> dict:
    """The form as a decision request body (empty optional inputs left out)."""
    missing = {MEMBERS[name]: "required" for name in REQUIRED if not values[name]}
    if missing:
        raise RequestError(missing)
    body: dict = {MEMBERS[name]: value for name, value in values.items()
                  if value and name != "fields"}
    body["fields"] = split_fields(values["fields"])
    return body


def _form_errors(details: dict[str, str], snap: Snapshot) -> dict[str, str]:
    """Each problem beside the form field it is about (``fields[2]`` beside Fields), an unknown
    purpose or bundle with the ones there are."""
    known = {"purpose": sorted(snap.purposes), "bundle": sorted(snap.bundles)}
    errors: dict[str, str] = {}
    for member, problem in details.items():
        base = member.split("[", 1)[0]
        name = FORM_FIELD.get(base, "form")
        if base == "fields" and member != "fields":
            problem = f"item {int(member[7:-1]) + 1}: {problem}" if member[7:-1].isdigit() \
                else problem
        if problem.startswith("unknown ") and known.get(base):
            choices = known[base]
            problem += (f" (known: {', '.join(choices)})" if len(choices) <= KNOWN_LISTED
                        else f" ({len(choices)} are known: start typing to see them)")
        errors[name] = f"{errors[name]}; {problem}" if name in errors else problem
    return errors
