"""The Disclosures page's audits, for compliance officers and administrators: the accounting of
disclosures per participant (45 CFR 164.528) with ``Download CSV``, and the monthly sampling
audit with its findings, where an emergency disclosure's after-the-fact review is closed."""
from __future__ import annotations

import secrets
from datetime import date, datetime

from flask import Response, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from governance.clock import end_of, start_of
from governance.console import bp
from governance.console.paged import paged, query_text, whole_number
from governance.console.pages.disclosures import DISCLOSURE_POWERS
from governance.db import CONSOLE, release_session
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Disclosure, Participant, Partner
from governance.operations.accounting import (
    RecordAccountingExport,
    accounting,
    accounting_csv,
    sampling_audit,
)
from governance.operations.disclosures import ReviewDisclosure
from governance.reads.consents import Found
from governance.reads.disclosures import open_reviews
from governance.signin.session import any_power_required, signed_in_user

MAX_SAMPLE, MAX_SEED = 1000, 2**31 - 1
DATE_HINT = "a date such as 2026-11-01"
LAST_YEAR = 9999  # its last day has no next day, where a range of days ends


def accounting_asked() -> tuple[dict[str, str], dict[str, str]]:
    """The accounting's filters from the query string, and the problems with them."""
    wanted = {"participant": query_text("participant"), "since": query_text("since"),
              "until": query_text("until"),
              "accountable": "true" if request.args.get("accountable") == "true" else ""}
    errors = {}
    if wanted["participant"] and state().session.get(Participant,
                                                     wanted["participant"]) is None:
        errors["participant"] = f"no participant {wanted['participant']!r}"
    for name in ("since", "until"):
        if wanted[name] and _day(wanted[name]) is None:
            errors[name] = DATE_HINT
    if not errors and wanted["since"] and wanted["until"] and \
            _day(wanted["until"]) < _day(wanted["since"]):
        errors["until"] = "must not be before From"
    return wanted, errors


def _day(value: str) -> date | None:
    """A day (9999-12-31 is no day here: the day after it, where the range ends, is none)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return day if day.year < LAST_YEAR else None


def accounting_entries(wanted: dict[str, str]) -> list[dict]:
    return accounting(state().session, wanted["participant"], state().clock(),
                      accountable_only=bool(wanted["accountable"]),
                      since=start_of(_day(wanted["since"])) if wanted["since"] else None,
                      until=end_of(_day(wanted["until"])) if wanted["until"] else None)


@bp.get("/disclosures/accounting")
@any_power_required(*DISCLOSURE_POWERS)
def disclosures_accounting():
    """One participant's accounting of disclosures, newest first, with Download CSV."""
    wanted, errors = accounting_asked()
    entries = accounting_entries(wanted) if wanted["participant"] and not errors else []
    shown = {k: v for k, v in wanted.items() if v}
    pager, rows = paged(lambda offset, limit: Found(len(entries), entries[offset:offset + limit]),
                        ".disclosures_accounting", 25, shown)
    return render_template(
        "governance/console/disclosures_accounting.html", wanted=wanted, errors=errors,
        entries=rows, pager=pager, csv_url=url_for(".disclosures_accounting_csv", **shown)
    ), 400 if errors else 200


@bp.get("/disclosures/accounting.csv")
@any_power_required(*DISCLOSURE_POWERS)
def disclosures_accounting_csv():
    """The accounting as a CSV file (its handing out recorded in the audit trail)."""
    wanted, errors = accounting_asked()
    if not wanted["participant"]:
        errors["participant"] = "required: whose accounting"
    if errors:
        return render_template(
            "governance/console/disclosures_accounting.html", wanted=wanted, errors=errors,
            entries=[], pager=None, csv_url=None), 400
    entries = accounting_entries(wanted)
    RecordAccountingExport(signed_in_user().id, wanted["participant"],
                           {k: v for k, v in wanted.items() if v and k != "participant"},
                           len(entries), state().clock(), via=CONSOLE).execute(state().session)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in wanted["participant"])
    return Response(accounting_csv(entries), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="accounting-{name}.csv"'})


@bp.get("/disclosures/sampling")
@any_power_required(*DISCLOSURE_POWERS)
def disclosures_sampling():
    """A month's random sample checked against decision, consent and bundle; the open
    after-the-fact reviews of emergency disclosures, to close with a finding."""
    return sampling_page()


def sampling_page(review_errors: dict[str, str] | None = None, findings: dict | None = None,
                  status: int = 200):
    session, now = state().session, state().clock()
    asked, errors = _sample_asked(request.values, now)
    report = None if errors else sampling_audit(session, asked["month"], int(asked["size"]),
                                                now, int(asked["seed"]))
    checked = {}
    if report:
        checked = {d.id: d for d in session.scalars(select(Disclosure).where(
            Disclosure.id.in_(report["checked"])))}
    found = {r["disclosure_id"]: r["exceptions"] for r in (report or {}).get("exceptions", [])}
    reviews_pager, reviews = paged(lambda offset, limit: open_reviews(
        session, offset=offset, limit=limit), ".disclosures_sampling", 20, asked,
        "reviews_page")
    return render_template(
        "governance/console/disclosures_sampling.html", asked=asked, errors=errors,
        report=report, checked=checked, exceptions=found, reviews=reviews,
        reviews_pager=reviews_pager,
        review_errors=review_errors or {}, findings=findings or {},
        redraw=url_for(".disclosures_sampling", month=asked["month"], size=asked["size"]),
        partners=dict(session.execute(select(Partner.id, Partner.name)).all()),
        me=signed_in_user().id), 400 if errors and status == 200 else status


def _sample_asked(values, now: datetime) -> tuple[dict[str, str], dict[str, str]]:  # noqa: ANN001
    month = (values.get("month") or "").strip()[:7]
    size = (values.get("size") or "20").strip()[:6]
    seed = (values.get("seed") or "").strip()[:12]
    errors = {}
    if month:
        try:
            if datetime.strptime(month, "%Y-%m").year >= LAST_YEAR:
                raise ValueError(month)
        except ValueError:
            errors["month"] = "a month such as 2026-11"
    else:
        last = now.replace(day=1).toordinal() - 1
        month = date.fromordinal(last).strftime("%Y-%m")
    if whole_number(size, 1, MAX_SAMPLE) is None:
        errors["size"] = f"a number from 1 to {MAX_SAMPLE}"
    if not seed:
        seed = str(secrets.randbelow(MAX_SEED))  # a fresh draw, shown so it can be repeated
    elif whole_number(seed, 0, MAX_SEED) is None:
        errors["seed"] = f"a number from 0 to {MAX_SEED}"
    return {"month": month, "size": size, "seed": seed}, errors


@bp.post("/disclosures/<disclosure_id>/review")
@any_power_required(*DISCLOSURE_POWERS)
def disclosure_review(disclosure_id: str):
    """Close an emergency disclosure's after-the-fact review with a finding (never one's own)."""
    finding = (request.form.get("finding") or "").strip()[:2000]
    try:
        ReviewDisclosure(disclosure_id[:200], signed_in_user().id, finding or None,
                         state().clock(), via=CONSOLE).execute(state().session)
    except GovernanceError as exc:
        release_session(state().session)
        problem = ("required: what the review found (justified, and why; or not, and what "
                   "follows)" if exc.details.get("finding") == "required" else exc.message)
        return sampling_page({disclosure_id: problem}, {disclosure_id: finding}, exc.status)
    flash(f"Review of disclosure {disclosure_id} closed with your finding.")
    asked = {k: request.form.get(k) for k in ("month", "size", "seed") if request.form.get(k)}
    return redirect(url_for(".disclosures_sampling", **asked))
