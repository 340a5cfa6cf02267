"""The Audit page (contract section 9), for auditors: the trail filtered by user (actor or
subject), participant, kind and time, newest first in keyset pages; one event in full (a
decision's request, answer and basis); the integrity check, run on demand; a CSV of the
filtered events. Each page shown, export and check is itself one audit row naming its filters.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from governance.audit import payload_of
from governance.clock import end_of, start_of, to_naive_utc
from governance.console import audit_text, bp
from governance.extension import state
from governance.models import AuditEvent, AuditHead
from governance.operations.audit_reading import (
    EXPORTED,
    VERIFIED,
    VIEWED,
    RecordAuditReading,
    VerifyAuditTrail,
)
from governance.reads.audit import (
    FAMILY,
    AuditFilter,
    Place,
    audit_event,
    audit_kinds,
    basis_descriptions,
    events_up_to,
    place_of,
    timeline_page,
    trail_length,
)
from governance.signin.powers import AUDITOR
from governance.signin.session import power_required, signed_in_user

PAGE_SIZE = 50
MAX_SEQ = 2**63 - 1
FILTERS = ("user", "participant", "kind", "since", "until")
TIME_FORMATS = "a date (2026-11-23) or a date and time in UTC (2026-11-23T14:30)"


class AuditFilterForm(FlaskForm):
    """The filters, read from the query string (a search: no CSRF token, nothing written)."""

    class Meta:
        csrf = False

    user = StringField("User", [Optional(), Length(max=200)],
                       description="Who acted, or whom the event is about")
    participant = StringField("Participant", [Optional(), Length(max=200)])
    kind = SelectField("Kind", choices=[SelectChoice("", "Any kind")], validate_choice=False)
    since = StringField("From", [Optional()],
                        description="UTC: a date (2026-11-23) or a time (2026-11-23T14:30)")
    until = StringField("Until", [Optional()],
                        description="UTC: a date alone includes that whole day")


class VerifyForm(FlaskForm):
    submit = SubmitField("Check integrity")


@bp.get("/audit")
@power_required(AUDITOR)
def audit():
    session = state().session
    form = AuditFilterForm(formdata=request.args)
    kinds = audit_kinds(session)
    form.kind.choices = _kind_choices(kinds, form.kind.data)
    wanted, errors = _filters(form, kinds)
    before, after = _cursor("before"), _cursor("after")
    rows, newer, older = [], False, False
    if not errors and after is not None:
        rows = timeline_page(session, wanted, PAGE_SIZE + 1, after=_place(session, after))
        newer, older, rows = len(rows) > PAGE_SIZE, True, rows[:PAGE_SIZE][::-1]
    elif not errors:
        place = _place(session, before) if before is not None else None
        rows = timeline_page(session, wanted, PAGE_SIZE + 1, before=place)
        newer, older, rows = before is not None, len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    links = _filter_args()
    page = render_template(
        "governance/console/audit.html", form=form, errors=errors,
        events=[(e, audit_text.summary(e)) for e in rows], total=trail_length(session),
        wanted=wanted, last_check=_last_check(session), verify_form=VerifyForm(),
        newer_url=url_for(".audit", **links, after=rows[0].seq) if newer and rows else None,
        older_url=url_for(".audit", **links, before=rows[-1].seq) if older and rows else None,
        newest_url=url_for(".audit", **links) if before is not None or after is not None
        else None,
        csv_url=url_for(".audit_export", **links), list_args=_list_args())
    # Recorded once the page is ready (and before it is sent): its commit would otherwise
    # expire every row the template still has to read.
    RecordAuditReading(signed_in_user().id, VIEWED, {
        "page": "events", "filters": wanted.as_dict(),
        "before": before, "after": after, "shown": len(rows),
        "rows": [rows[-1].seq, rows[0].seq] if rows else None}, state().clock()).execute(session)
    return page, 400 if errors else 200


@bp.get("/audit/events/<int:seq>")
@power_required(AUDITOR)
def audit_event_detail(seq: int):
    session = state().session
    event = audit_event(session, seq) if 0 < seq <= MAX_SEQ else None
    if event is None:
        abort(404, f"There is no audit event {seq}.")
    payload = audit_text.decoded(event)
    decision = event.kind == "decision"
    page = render_template(
        "governance/console/audit_event.html", event=event, payload=payload,
        summary=audit_text.summary(event, payload), decision=decision,
        request_rows=audit_text.request_rows(payload) if decision else [],
        outcomes=audit_text.decision_outcomes(payload, _basis(session, payload))
        if decision else [],
        payload_rows=[] if decision else audit_text.payload_rows(payload),
        pretty=audit_text.pretty(payload), back=url_for(".audit", **_list_args()),
        filters=_filter_args())
    RecordAuditReading(signed_in_user().id, VIEWED, {"page": "event", "event": seq},
                       state().clock()).execute(session)
    return page


@bp.get("/audit/export.csv")
@power_required(AUDITOR)
def audit_export():
    session = state().session
    form = AuditFilterForm(formdata=request.args)
    kinds = audit_kinds(session)
    form.kind.choices = _kind_choices(kinds, form.kind.data)
    wanted, errors = _filters(form, kinds)
    if errors:
        abort(400, "The filters are not valid: " + "; ".join(errors.values()))
    last = trail_length(session)  # the export is of the trail as it stands now, and says so
    RecordAuditReading(signed_in_user().id, EXPORTED, {
        "filters": wanted.as_dict(), "up_to": last}, state().clock()).execute(session)

    def lines():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(audit_text.CSV_COLUMNS)
        for count, event in enumerate(events_up_to(session, wanted, last), start=1):
            writer.writerow(audit_text.csv_row(event))
            if count % 500 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    name = "audit" + "".join(f"-{v}" for v in wanted.as_dict().values() if "/" not in v)
    return Response(stream_with_context(lines()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_safe_name(name)}-to-{last}.csv"'})


@bp.post("/audit/verify")
@power_required(AUDITOR)
def audit_verify():
    VerifyForm().validate_on_submit()  # the token was checked before the view (400 if not)
    key = state().audit_key
    result, recorded = VerifyAuditTrail(signed_in_user().id, key, state().clock()).execute(
        state().session)
    head = state().session.get(AuditHead, 1)
    return render_template("governance/console/audit_verify.html", result=result,
                           recorded=recorded, key=key,
                           chain_key=head.key_id if head is not None else None)


def _basis(session, payload: dict) -> dict[str, str]:  # noqa: ANN001
    refs = {ref for grants in (payload.get("basis") or {}).values() for ref in grants}
    return basis_descriptions(session, refs) if refs else {}


def _filters(form: AuditFilterForm, kinds: list[str]) -> tuple[AuditFilter, dict[str, str]]:
    """The filter the form asks for, and the problems with it (field label -> message)."""
    errors: dict[str, str] = {}
    if request.args and not form.validate():
        errors.update({getattr(form, name).label.text: messages[0]
                       for name, messages in form.errors.items()})
    kind = (form.kind.data or "").strip() or None
    if kind and kind not in kinds and not _family_known(kind, kinds):
        errors["Kind"] = f"no event of kind {kind!r} is in the trail"
    since = _time(form.since.data, "From", errors, start_of)
    until = _time(form.until.data, "Until", errors, end_of)
    if since and until and since >= until:
        errors["Until"] = "must be later than From"
    family = ([k for k in kinds if k.startswith(kind[:-1])]
              if kind and kind.endswith(FAMILY) else None)
    wanted = AuditFilter(user=(form.user.data or "").strip() or None,
                         participant=(form.participant.data or "").strip() or None,
                         kind=kind, since=since, until=until,
                         kinds=tuple(family) if family is not None else None)
    return wanted, errors


def _time(value: str | None, label: str, errors: dict[str, str],
          bound: Callable[[date], datetime]) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            return bound(date.fromisoformat(value))
        return to_naive_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        errors[label] = f"{value!r} is not {TIME_FORMATS}"
        return None


def _kind_choices(kinds: list[str], chosen: str | None) -> list[SelectChoice]:
    """Any kind, the kinds without a family, then each family (``org.*`` and its kinds)."""
    choices = [SelectChoice("", "Any kind")] + [SelectChoice(k) for k in kinds if "." not in k]
    for family in sorted({k.split(".", 1)[0] for k in kinds if "." in k}):
        members = [k for k in kinds if k.startswith(family + ".")]
        if len(members) > 1:
            choices.append(SelectChoice(family + FAMILY, f"every {family}.* kind",
                                        optgroup=family))
        choices += [SelectChoice(k, optgroup=family) for k in members]
    if chosen and chosen not in {c.value for c in choices}:
        choices.append(SelectChoice(chosen))  # shown as asked, and refused with a message
    return choices


def _family_known(kind: str, kinds: list[str]) -> bool:
    return kind.endswith(FAMILY) and any(k.startswith(kind[:-1]) for k in kinds)


def _cursor(name: str) -> int | None:
    value = request.args.get(name)
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 0 <= int(value) <= MAX_SEQ:
        abort(400, f"{name} must be an event number")
    return int(value)


def _place(session, seq: int) -> Place:  # noqa: ANN001
    """Where the page starting at event ``seq`` (a cursor in its link) begins."""
    place = place_of(session, seq)
    if place is None:
        abort(400, f"There is no audit event {seq} to page from.")
    return place


def _filter_args() -> dict[str, str]:
    return {name: request.args[name] for name in FILTERS if request.args.get(name)}


def _list_args() -> dict[str, str]:
    """The filters and the page's place, for a link from an event back to its page."""
    args = _filter_args()
    for name in ("before", "after"):
        value = request.args.get(name, "")
        if value.isascii() and value.isdigit():
            args[name] = value
    return args


def _last_check(session) -> dict | None:  # noqa: ANN001
    """The latest integrity check recorded: when, by whom, what it found."""
    event = session.scalar(select(AuditEvent).where(AuditEvent.kind == VERIFIED)
                           .order_by(AuditEvent.kind.desc(), AuditEvent.at.desc()).limit(1))
    if event is None:
        return None
    return {"event": event, **payload_of(event)}


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:120]
