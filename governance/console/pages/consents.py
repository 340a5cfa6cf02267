"""The Consents page (contract section 9; issue 15 item 4): find a participant, read their
consents in plain language with what each bundle would release under them, the history of a
consent, and the consents to renew. The forms that record, amend, renew and revoke are in
``consent_forms.py``. Administrators, compliance officers and approvers (supervisors) use it."""
from __future__ import annotations

from flask import abort, render_template, request, url_for
from sqlalchemy import select

from governance.consent_text import LABEL_WORDS, bundle_previews, plain_summary, preview
from governance.console import bp
from governance.console.paged import paged, query_text, whole_number
from governance.extension import state
from governance.models import Bundle, Consent, Participant, Partner, Program
from governance.orgfile.export import consent_document
from governance.reads import attention
from governance.reads.consents import (
    STANDINGS,
    Found,
    consent_with_history,
    consents_of,
    find_participants,
)
from governance.signin.powers import ADMIN, APPROVER, AUDITOR
from governance.signin.session import any_power_required

CONSENT_POWERS = (ADMIN, AUDITOR, APPROVER)  # as nav.py shows the link
MAX_DAYS = 365
SOURCE_WORDS = {"file": "the organisation file", "api": "the API", "console": "the console"}
WITHHELD_WORDS = {
    "bundle_prohibited": "the bundle never releases it",
    "recipient_not_covered": "this consent does not name that recipient",
    "purpose_not_covered": "this consent does not cover the bundle's purpose",
    "no_consent": "this consent does not include it",
    "consent_restriction": "this consent excludes one of its labels",
}


@bp.get("/consents")
@any_power_required(*CONSENT_POWERS)
def consents():
    """Find a participant by id (and program); how many consents wait for renewal."""
    session, now = state().session, state().clock()
    wanted = {"q": query_text("q"), "program": query_text("program")}
    programs = list(session.execute(select(Program.id, Program.name).where(
        Program.retired_at.is_(None)).order_by(Program.name)))
    errors = {}
    if wanted["program"] and wanted["program"] not in {p for p, _ in programs}:
        errors["program"] = "choose a program from the list"
    pager, rows = paged(lambda offset, limit: find_participants(
        session, wanted["q"] or None, None if errors else wanted["program"] or None, now,
        offset=offset, limit=limit), ".consents", 20, {k: v for k, v in wanted.items() if v})
    return render_template(
        "governance/console/consents.html", wanted=wanted, programs=programs, errors=errors,
        participants=rows, pager=pager, searched=bool(request.args),
        program_names=dict(programs),
        renew=attention.consents_to_renew(session, now, shown=0)), 400 if errors else 200


@bp.get("/consents/participants/<participant_id>")
@any_power_required(*CONSENT_POWERS)
def consents_participant(participant_id: str):
    """One participant's current consents: summary, terms and bundle previews."""
    session, now = state().session, state().clock()
    if session.get(Participant, participant_id) is None:
        abort(404, f"There is no participant {participant_id!r}.")
    standing = query_text("standing")
    if standing not in STANDINGS:
        standing = ""
    pager, rows = paged(lambda offset, limit: consents_of(
        session, participant_id, standing or None, now, offset=offset, limit=limit),
        ".consents_participant", 10,
        {"participant_id": participant_id, **({"standing": standing} if standing else {})})
    return render_template(
        "governance/console/consents_participant.html", participant=participant_id,
        standing=standing, standings=STANDINGS, pager=pager,
        consents=[consent_view(session, c, now) for c in rows],
        previews=bundle_previews(session, rows), withheld_words=WITHHELD_WORDS,
        names=partner_names(session))


@bp.get("/consents/<consent_id>")
@any_power_required(*CONSENT_POWERS)
def consent_detail(consent_id: str):
    """A consent, its versions, the preview of any bundle to any recipient, and its forms."""
    return detail_page(consent_id)


def detail_page(consent_id: str, *, errors: dict | None = None, values: dict | None = None,
                status: int = 200):
    """The consent's page; a form posted from it comes back here with its problems."""
    session, now = state().session, state().clock()
    consent, history = consent_with_history(session, consent_id)
    newer = session.scalar(select(Consent.id).where(Consent.supersedes == consent.id))
    asked = {"bundle": query_text("bundle"), "recipient": query_text("recipient")}
    names = partner_names(session)
    chosen, preview_error = None, None
    if asked["bundle"] or asked["recipient"]:
        chosen = preview(session, consent, asked["bundle"], asked["recipient"] or None)
        if not chosen:
            chosen, preview_error = None, "choose a bundle from the list"
        elif chosen["recipient"] is None:
            chosen, preview_error = None, "choose a recipient from the list"
        else:
            chosen["recipients"] = [names[chosen["recipient"]]]
    page = render_template(
        "governance/console/consents_detail.html", consent=consent_view(session, consent, now),
        history=[consent_view(session, c, now) for c in history], newer=newer,
        previews=bundle_previews(session, [consent]).get(consent.id, []),
        bundles=list(session.scalars(select(Bundle).where(Bundle.retired_at.is_(None))
                                     .order_by(Bundle.id))),
        asked=asked, chosen=chosen, preview_error=preview_error,
        withheld_words=WITHHELD_WORDS, names=names, errors=errors or {},
        values=values or {})
    return page, 400 if preview_error and status == 200 else status


@bp.get("/consents/renew")
@any_power_required(*CONSENT_POWERS)
def consents_to_renew():
    """Consents flagged for renewal or ending soon, soonest ending first."""
    session, now = state().session, state().clock()
    wanted = {"participant": query_text("participant"), "within": query_text("within") or "30",
              "flagged": "true" if request.args.get("flagged") == "true" else ""}
    errors = {}
    within = whole_number(wanted["within"], 1, MAX_DAYS)
    if within is None:
        errors["within"] = f"a number of days from 1 to {MAX_DAYS}"
        within = attention.RENEW_WITHIN_DAYS

    def read(offset: int, limit: int):  # noqa: ANN202
        queue = attention.consents_to_renew(
            session, now, within_days=within, shown=limit, offset=offset,
            participant=wanted["participant"] or None, flagged_only=bool(wanted["flagged"]))
        return queue_found(queue)

    pager, rows = paged(read, ".consents_to_renew", 25, {k: v for k, v in wanted.items() if v})
    return render_template(
        "governance/console/consents_renew.html", wanted=wanted, errors=errors, pager=pager,
        consents=[consent_view(session, c, now, summary=False) for c in rows],
        names=partner_names(session)), 400 if errors else 200


def queue_found(queue: attention.Queue) -> Found:
    return Found(queue.count, queue.items)


def consent_view(session, c: Consent, now, *, summary: bool = True) -> dict:  # noqa: ANN001
    """What the templates show of a consent: the row, its standing and terms, its summary."""
    document = consent_document(c, now)
    return {"row": c, "status": document["status"], "from": document.get("from"),
            "until": document.get("until"),
            "summary": plain_summary(session, c) if summary else None,
            "never": [(label, LABEL_WORDS.get(label)) for label in c.exclude_labels or []],
            "source": SOURCE_WORDS.get(c.source, c.source),
            "url": url_for(".consent_detail", consent_id=c.id)}


def partner_names(session) -> dict[str, str]:  # noqa: ANN001
    return dict(session.execute(select(Partner.id, Partner.name)).all())
