"""The Consents page's forms: record a consent, amend it (a new version), renew it (a new last
day) and revoke it, each through the same operation as the API, as the signed-in user. A
problem comes back on the form, beside the field it is about (400, nothing written)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from governance.console import bp
from governance.console.consent_form import (
    LABELS,
    MAX_TEXT,
    day_after_today,
    field_errors,
    form_choices,
    form_values,
    read_terms,
)
from governance.console.pages.consents import CONSENT_POWERS, detail_page
from governance.db import CONSOLE, release_session
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Consent, Participant
from governance.operations.consents import (
    TERMS,
    AmendConsent,
    CreateConsent,
    RevokeConsent,
    parse_terms,
    renew_consent,
)
from governance.operations.errors import Invalid
from governance.orgfile.export import consent_terms
from governance.signin.session import any_power_required, signed_in_user

FORM = "governance/console/consents_form.html"


@bp.route("/consents/new", methods=["GET", "POST"])
@any_power_required(*CONSENT_POWERS)
def consent_new():
    """Record a participant's consent."""
    session = state().session
    if request.method == "GET":
        participant = (request.args.get("participant") or "").strip()[:200]
        values = form_values({}, None) | {"participant": participant}
        return _form(values, {}, amend=None)
    terms = read_terms(request.form)
    values = form_values(terms, request.form)
    participant = values["participant"]
    try:
        if not participant:
            raise Invalid("participant: required", {"participant": "required: a participant id"})
        if session.get(Participant, participant) is None:
            raise Invalid("unknown participant", {"participant": f"no participant {participant!r}"})
        consent = CreateConsent(signed_in_user().id, parse_terms(terms, participant),
                                _note(), state().clock(), via=CONSOLE).execute(session)
    except GovernanceError as exc:
        return _refused(exc, values, amend=None)
    flash(f"Consent {consent.id} recorded for {participant}.")
    return redirect(url_for(".consent_detail", consent_id=consent.id))


@bp.route("/consents/<consent_id>/amend", methods=["GET", "POST"])
@any_power_required(*CONSENT_POWERS)
def consent_amend(consent_id: str):
    """Change a consent's terms: a new version, the old one kept as history."""
    session = state().session
    consent = session.get(Consent, consent_id)
    if consent is None:
        abort(404, f"There is no consent {consent_id!r}.")
    current = {k: v for k, v in consent_terms(consent).items() if k in TERMS}
    if request.method == "GET":
        return _form(form_values(current) | {"participant": consent.participant_id}, {},
                     amend=consent)
    terms = read_terms(request.form)
    values = form_values(terms, request.form) | {"participant": consent.participant_id}
    changes = {k: v for k, v in terms.items() if _differs(v, current.get(k))}
    try:
        if not changes:
            raise Invalid("nothing was changed: change a term, or go back to the consent")
        new = AmendConsent(consent_id, signed_in_user().id, changes, _note(),
                           state().clock(), via=CONSOLE).execute(session)
    except GovernanceError as exc:
        return _refused(exc, values, amend=consent)
    flash(f"Consent amended: version {new.version} ({new.id}) is now in force.")
    return redirect(url_for(".consent_detail", consent_id=new.id))


@bp.post("/consents/<consent_id>/renew")
@any_power_required(*CONSENT_POWERS)
def consent_renew(consent_id: str):
    """A new last day for the consent (and its renewal flag cleared)."""
    until = (request.form.get("until") or "").strip()[:40]
    values = {"until": until, "renew_note": request.form.get("note", "")[:MAX_TEXT]}
    problem = day_after_today(until, state().clock().date())
    try:
        if problem:
            raise Invalid(f"until: {problem}", {"until": problem})
        new = renew_consent(consent_id, signed_in_user().id, until, _note(), state().clock(),
                            via=CONSOLE).execute(state().session)
    except GovernanceError as exc:
        release_session(state().session)
        errors = {f"renew_{k}": v for k, v in field_errors(exc).items()}
        return detail_page(consent_id, errors=errors, values=values, status=exc.status)
    flash(f"Consent renewed through {until}: version {new.version} ({new.id}).")
    return redirect(url_for(".consent_detail", consent_id=new.id))


@bp.post("/consents/<consent_id>/revoke")
@any_power_required(*CONSENT_POWERS)
def consent_revoke(consent_id: str):
    """Revoke the consent: decisions made from now on no longer rely on it."""
    reason = (request.form.get("reason") or "").strip()[:MAX_TEXT]
    try:
        if not reason:
            raise Invalid("reason: required", {"reason": "required: why it is revoked (the "
                                                         "participant's request, its date)"})
        RevokeConsent(consent_id, signed_in_user().id, reason, state().clock(),
                      via=CONSOLE).execute(state().session)
    except GovernanceError as exc:
        release_session(state().session)
        errors = {f"revoke_{k}": v for k, v in field_errors(exc).items()}
        return detail_page(consent_id, errors=errors, values={"reason": reason},
                           status=exc.status)
    flash(f"Consent {consent_id} revoked. Decisions from now on no longer rely on it.")
    return redirect(url_for(".consent_detail", consent_id=consent_id))


def _differs(asked: object, current: object) -> bool:
    """A term the form changes (lists compared whatever their order, empty as absent)."""
    if isinstance(asked, list):
        return sorted(asked) != sorted(current or [])
    return asked != current


def _note() -> str | None:
    return (request.form.get("note") or "").strip()[:MAX_TEXT] or None


def _form(values: dict, errors: dict, *, amend: Consent | None, status: int = 200):
    return render_template(FORM, values=values, errors=errors, amend=amend, labels=LABELS,
                           choices=form_choices(state().session)), status


def _refused(exc: GovernanceError, values: dict, *, amend: Consent | None):
    release_session(state().session)
    errors = field_errors(exc)
    return _form(values, errors, amend=amend, status=exc.status)
