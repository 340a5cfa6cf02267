"""Disclosure workflows over the API (manage scope): consents, escalations, disclosures,
accounting of disclosures and the sampling audit. Views parse and format; operations write."""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, Response, current_app, jsonify, request

from governance.api.audit_log import bounded_int, date_time
from governance.api.http import ApiError, json_input, require_key
from governance.consent_text import plain_summary, preview
from governance.extension import state
from governance.models import Consent, Disclosure, Escalation
from governance.operations import accounting as acct
from governance.operations.consents import (
    TERMS,
    AmendConsent,
    CreateConsent,
    FlagRenewal,
    RevokeConsent,
    parse_terms,
    renew_consent,
    term_changes,
)
from governance.operations.disclosures import (
    RecordDisclosure,
    ReviewDisclosure,
    cover_sheet,
    cover_sheet_text,
    disclosure_summary,
)
from governance.operations.errors import NotFound
from governance.operations.escalations import (
    DecideEscalation,
    RequestEscalation,
    escalation_document,
    pending_for,
)
from governance.orgfile.export import consent_document
from governance.reads.consents import ConsentFilter, consent_with_history, current_consents
from governance.resources import resource_path

MAX_DAYS = 3650  # day counts in queries: ten years
MAX_SAMPLE = 1000
MAX_SEED = 2**31 - 1
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
bp = Blueprint("governance_workflows", __name__, url_prefix="/api/v1",
               template_folder=str(resource_path("templates")))


def run(operation):  # noqa: ANN001, ANN201 - any operation, its result
    return operation.execute(state().session)


def consent_answer(operation) -> dict:  # noqa: ANN001
    return consent_document(run(operation), now())


def escalation_answer(operation) -> dict:  # noqa: ANN001
    return escalation_document(run(operation), now())


def disclosure_answer(row: Disclosure) -> dict:
    return {**disclosure_summary(row), "cover_sheet": cover_sheet(state().session, row)}


def now() -> datetime:
    return state().clock()


def found(model, object_id: str):
    row = state().session.get(model, object_id)
    if row is None:
        raise NotFound(f"no {model.__tablename__} '{object_id}'")
    return row


# -- consents -----------------------------------------------------------------------------
@bp.post("/consents")
@require_key("manage")
def create_consent():
    data = json_input("actor", "participant", "note", *TERMS)
    return jsonify(consent_answer(CreateConsent(data.get("actor"), parse_terms(data),
                                                data.get("note"), now()))), 201


@bp.get("/consents")
@require_key("manage")
def list_consents():
    args = request.args
    wanted = ConsentFilter(
        participant=args.get("participant") or None,
        needs_renewal=args.get("needs_renewal") == "true",
        expiring_within_days=bounded_int("expiring_within_days", args["expiring_within_days"],
                                         1, MAX_DAYS)
        if "expiring_within_days" in args else None)
    rows = current_consents(state().session, wanted, now())
    return jsonify({"consents": [consent_document(c, now()) for c in rows]})


@bp.get("/consents/<consent_id>")
@require_key("manage")
def show_consent(consent_id: str):
    consent, history = consent_with_history(state().session, consent_id)
    return jsonify({**consent_document(consent, now()),
                    "history": [consent_document(c, now()) for c in history]})


@bp.post("/consents/<consent_id>/amend")
@require_key("manage")
def amend_consent(consent_id: str):
    data = json_input("actor", "note", *TERMS)
    return jsonify(consent_answer(AmendConsent(consent_id, data.get("actor"), term_changes(data),
                                               data.get("note"), now())))


@bp.post("/consents/<consent_id>/renew")
@require_key("manage")
def renew(consent_id: str):
    data = json_input("actor", "until", "note")
    return jsonify(consent_answer(renew_consent(consent_id, data.get("actor"), data.get("until"),
                                                data.get("note"), now())))


@bp.post("/consents/<consent_id>/revoke")
@require_key("manage")
def revoke_consent(consent_id: str):
    data = json_input("actor", "reason")
    return jsonify(consent_answer(RevokeConsent(consent_id, data.get("actor"),
                                                data.get("reason"), now())))


@bp.post("/consents/<consent_id>/flag-renewal")
@require_key("manage")
def flag_renewal(consent_id: str):
    data = json_input("actor", "trigger")
    return jsonify(consent_answer(FlagRenewal(consent_id, data.get("actor"), data.get("trigger"),
                                              now())))


@bp.get("/consents/<consent_id>/summary")
@require_key("manage")
def consent_summary(consent_id: str):
    text = plain_summary(state().session, found(Consent, consent_id))
    if request.args.get("format") == "text":
        return Response(text + "\n", mimetype="text/plain")
    return jsonify({"id": consent_id, "summary": text})


@bp.get("/consents/<consent_id>/preview")
@require_key("manage")
def consent_preview(consent_id: str):
    consent = found(Consent, consent_id)
    bundle = request.args.get("bundle")
    result = preview(state().session, consent, bundle or "", request.args.get("recipient"))
    if not result:
        raise ApiError(400, "invalid_request", "bundle: required, a known bundle id",
                       {"bundle": "unknown or missing"})
    return jsonify({"id": consent_id, **result})


# -- escalations --------------------------------------------------------------------------
@bp.post("/escalations")
@require_key("manage")
def request_escalation():
    data = json_input("actor", "decision_id", "justification")
    return jsonify(escalation_answer(RequestEscalation(
        data.get("actor"), data.get("decision_id"), data.get("justification"), now(),
        notifier=state().notifier))), 201


@bp.get("/escalations")
@require_key("manage")
def escalation_queue():
    approver = request.args.get("approver")
    if not approver:
        raise ApiError(400, "invalid_request", "approver: required",
                       {"approver": "the user whose queue to list"})
    return jsonify({"escalations": [escalation_document(e, now())
                                    for e in pending_for(state().session, approver, now())]})


@bp.get("/escalations/<escalation_id>")
@require_key("manage")
def show_escalation(escalation_id: str):
    return jsonify(escalation_document(found(Escalation, escalation_id), now()))


@bp.post("/escalations/<escalation_id>/<verdict>")
@require_key("manage")
def decide_escalation(escalation_id: str, verdict: str):
    if verdict not in ("approve", "deny"):
        raise ApiError(404, "not_found", f"no such action '{verdict}'")
    data = json_input("actor", "note")
    return jsonify(escalation_answer(DecideEscalation(
        escalation_id, data.get("actor"), verdict == "approve", data.get("note"), now(),
        notifier=state().notifier)))


# -- disclosures and accounting -----------------------------------------------------------
@bp.post("/disclosures")
@require_key("manage")
def record_disclosure():
    data = json_input("actor", "decision_id", "channel", "fields")
    return jsonify(disclosure_answer(run(RecordDisclosure(
        data.get("actor"), data.get("decision_id"), data.get("channel"), data.get("fields"),
        now())))), 201


@bp.get("/disclosures/<disclosure_id>")
@require_key("manage")
def show_disclosure(disclosure_id: str):
    return jsonify(disclosure_answer(found(Disclosure, disclosure_id)))


@bp.get("/disclosures/<disclosure_id>/cover-sheet")
@require_key("manage")
def disclosure_cover_sheet(disclosure_id: str):
    sheet = cover_sheet(state().session, found(Disclosure, disclosure_id))
    if request.args.get("format") == "text":
        return Response(cover_sheet_text(sheet), mimetype="text/plain", headers={
            "Content-Disposition": f'attachment; filename="cover-sheet-{disclosure_id}.txt"'})
    # Rendered without the app's context processors: an API call has no logged-in user.
    template = current_app.jinja_env.get_template("governance/cover_sheet.html")
    return Response(template.render(sheet=sheet), mimetype="text/html", headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                   "frame-ancestors 'none'"})


@bp.post("/disclosures/<disclosure_id>/review")
@require_key("manage")
def review_disclosure(disclosure_id: str):
    data = json_input("actor", "finding")
    return jsonify(disclosure_summary(run(ReviewDisclosure(
        disclosure_id, data.get("actor"), data.get("finding"), now()))))


@bp.get("/disclosures/sample-audit")
@require_key("manage")
def sample_audit():
    args = request.args
    month = args.get("month")
    if month is not None and not (MONTH.fullmatch(month) and "1000" <= month[:4] <= "9998"):
        raise ApiError(400, "invalid_request", "month: YYYY-MM, from 1000-01 to 9998-12",
                       {"month": "YYYY-MM, from 1000-01 to 9998-12"})
    size = bounded_int("size", args.get("size", "20"), 1, MAX_SAMPLE)
    seed = bounded_int("seed", args["seed"], 0, MAX_SEED) if "seed" in args else None
    return jsonify(acct.sampling_audit(state().session, month, size, now(), seed))


@bp.get("/participants/<participant_id>/accounting")
@require_key("manage")
def participant_accounting(participant_id: str):
    entries = acct.accounting(
        state().session, participant_id, now(),
        accountable_only=request.args.get("accountable") == "true",
        since=_time("since"), until=_time("until"))
    if request.args.get("format") == "csv":
        return Response(acct.accounting_csv(entries), mimetype="text/csv", headers={
            "Content-Disposition":
                f'attachment; filename="accounting-{participant_id}.csv"'})
    return jsonify({"participant": participant_id, "entries": entries})


def _time(name: str) -> datetime | None:
    value = request.args.get(name)
    return date_time(name, value) if value else None
