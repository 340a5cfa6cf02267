"""The Disclosures page (contract section 9; issue 15 item 5): what was sent, filtered and
paged, for compliance officers and administrators; recording what was sent under one's own
disclose decision (every signed-in user: the operation allows only the decision's user); the
cover sheet to print. The accounting of disclosures and the sampling audit are in
``disclosure_audits.py``."""
from __future__ import annotations

from datetime import datetime

from flask import Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from governance.console import bp
from governance.console.audit_text import REASONS
from governance.console.paged import paged, query_text
from governance.db import CONSOLE, release_session
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Disclosure, Partner, Purpose
from governance.operations.disclosures import RecordDisclosure, cover_sheet, cover_sheet_text
from governance.reads.disclosures import (
    REVIEW_STATES,
    DisclosureFilter,
    disclosures_page,
    open_reviews,
    recorded_decision,
)
from governance.signin.powers import AUDITOR
from governance.signin.session import (
    any_power_required,
    sign_in_required,
    signed_in_powers,
    signed_in_user,
)

# Section 9: the accounting of disclosures and the sampling audits are the auditor's. An
# administrator configures who sees what; what was sent about whom is not theirs to read.
DISCLOSURE_POWERS = (AUDITOR,)
MAX_QUERY = 200
RECORD = "governance/console/disclosures_record.html"
WITHHELD_WORDS = {**REASONS, "not_sent": "allowed, but not sent"}


def oversees() -> bool:
    """An auditor (the compliance officer): sees every disclosure, not only their own."""
    powers = signed_in_powers()
    return any(p in powers for p in DISCLOSURE_POWERS)


@bp.get("/disclosures")
@any_power_required(*DISCLOSURE_POWERS)
def disclosures():
    """Recorded disclosures, newest first, filtered by participant, recipient, purpose,
    sender, review and accountability."""
    session = state().session
    partners = dict(session.execute(select(Partner.id, Partner.name)
                                    .order_by(Partner.name)).all())
    purposes = list(session.scalars(select(Purpose.id).order_by(Purpose.id)))
    review = query_text("review")
    wanted = DisclosureFilter(participant=query_text("participant") or None,
                              recipient=query_text("recipient") or None,
                              purpose=query_text("purpose") or None,
                              sent_by=query_text("sent_by") or None,
                              review=review if review in REVIEW_STATES else None,
                              accountable_only=request.args.get("accountable") == "true")
    errors = {}
    if wanted.recipient and wanted.recipient not in partners:
        errors["recipient"] = "choose a recipient from the list"
    if wanted.purpose and wanted.purpose not in purposes:
        errors["purpose"] = "choose a purpose from the list"
    pager, rows = paged(lambda offset, limit: disclosures_page(
        session, wanted, offset=offset, limit=limit), ".disclosures", 25, wanted.as_dict())
    return render_template(
        "governance/console/disclosures.html", wanted=wanted, errors=errors,
        rows=[] if errors else rows, pager=pager, partners=partners, purposes=purposes,
        reviews_open=open_reviews(session, limit=0).total
    ), 400 if errors else 200


@bp.route("/disclosures/record", methods=["GET", "POST"])
@sign_in_required
def disclosure_record():
    """What was sent under a disclose decision: its fields and channel (GET shows the
    decision; POST records it and opens the cover sheet)."""
    decision_id = (request.values.get("decision") or "").strip()[:MAX_QUERY]
    if not decision_id:
        errors = {"decision": "required: the decision's id"} if request.method == "POST" else {}
        return _record_page("", None, errors, {}, 400 if errors else 200)
    found, errors = _decision_shown(decision_id)
    chosen = {"channel": request.form.get("channel", ""),
              "fields": request.form.getlist("fields")}
    if request.method == "GET" or errors:
        status = 400 if found is None or (errors and request.method == "POST") else 200
        return _record_page(decision_id, found, errors, chosen, status)
    try:
        row = RecordDisclosure(signed_in_user().id, decision_id, chosen["channel"] or None,
                               chosen["fields"], state().clock(), via=CONSOLE).execute(
            state().session)
    except GovernanceError as exc:
        release_session(state().session)
        found, _ = _decision_shown(decision_id)
        return _record_page(decision_id, found, _record_errors(exc), chosen, exc.status)
    flash(f"Disclosure {row.id} recorded: print this cover sheet and send it with the "
          "information.")
    return redirect(url_for(".disclosure_cover_sheet", disclosure_id=row.id))


def _record_page(decision_id: str, found: dict | None, errors: dict, chosen: dict,
                 status: int):
    return render_template(RECORD, decision_id=decision_id, found=found, errors=errors,
                           chosen=chosen, oversees=oversees()), status


def _decision_shown(decision_id: str) -> tuple[dict | None, dict[str, str]]:
    """The decision laid out for the form, or why it cannot be used. Another user's decision
    is shown only to those who oversee disclosures (and may not be recorded by them)."""
    session = state().session
    decision = recorded_decision(session, decision_id)
    if decision is None:
        return None, {"decision": f"no decision {decision_id!r} is in the audit trail"}
    asked = decision.payload["request"]
    mine = asked["subject"] == signed_in_user().id
    if not mine and not oversees():
        return None, {"decision": "this decision was made for another user: only they may "
                                  "record what was sent under it"}
    partner = session.get(Partner, asked.get("recipient") or "")
    found = {"at": decision.at, "request": asked, "payload": decision.payload,
             "partner": partner, "channels": (partner.channels or []) if partner else [],
             "sent": decision.disclosure_id, "mine": mine,
             "withheld_words": WITHHELD_WORDS}
    errors = {}
    if asked["action"] != "disclose":
        errors["decision"] = f"this decision was for {asked['action']}, not for a disclosure"
    elif decision.disclosure_id:
        errors["decision"] = "what was sent under this decision is already recorded"
    elif not decision.payload["allowed"]:
        errors["decision"] = "this decision allowed no field: nothing may be sent under it"
    elif not mine:
        errors["decision"] = (f"this decision was made for {asked['subject']}: only they may "
                              "record what was sent under it")
    return found, errors


def _record_errors(exc: GovernanceError) -> dict[str, str]:
    """The operation's refusal beside the form's fields (channel, fields), else on top."""
    names = {"channel": "channel", "fields": "fields", "decision_id": "decision"}
    errors = {}
    for member, problem in exc.details.items():
        if member in names:
            text = problem if isinstance(problem, str) else exc.message
            if member == "fields" and problem == "required":
                text = "choose at least one field that was sent"
            elif member == "channel" and problem == "required":
                text = "choose how it was sent"
            errors[names[member]] = text
    return errors or {"form": exc.message}


@bp.get("/disclosures/<disclosure_id>/cover-sheet")
@sign_in_required
def disclosure_cover_sheet(disclosure_id: str):
    """The cover sheet to print (or download as text), for its sender and for those who
    oversee disclosures."""
    row = _disclosure_for_reader(disclosure_id)
    sheet = cover_sheet(state().session, row)
    if request.args.get("format") == "text":
        return Response(cover_sheet_text(sheet), mimetype="text/plain", headers={
            "Content-Disposition": f'attachment; filename="cover-sheet-{row.id}.txt"'})
    return render_template("governance/console/disclosures_cover_sheet.html", sheet=sheet,
                           row=row, reason_words=WITHHELD_WORDS, oversees=oversees(),
                           printed=datetime.strftime(state().clock(), "%d %b %Y, %H:%M"))


def _disclosure_for_reader(disclosure_id: str) -> Disclosure:
    row = state().session.get(Disclosure, disclosure_id[:MAX_QUERY])
    if row is None:
        abort(404, f"There is no disclosure {disclosure_id!r}.")
    if row.actor != signed_in_user().id and not oversees():
        abort(403)
    return row
