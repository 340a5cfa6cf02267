"""The Requests page (contract section 9; issue 15, item 1): ask for time-bounded access (with
a preview of what it would add before it is sent), break the glass in an emergency (after a
recent sign-in), see my requests and who decided them, see the access I hold now and end it
early. Every write goes through the elevation operations, acting as the signed-in user."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from governance.console import bp
from governance.console.paged import page_number, whole_number
from governance.console.pages.dashboard import Names, when
from governance.console.pages.simulator import split_fields
from governance.db import CONSOLE
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Override
from governance.operations.break_glass import BREAK_GLASS_MINUTES, BreakGlass, BreakGlassRequest
from governance.operations.override_requests import (
    MAX_MINUTES,
    OverrideRequest,
    RequestOverride,
    RevokeOverride,
)
from governance.policy.vocabulary import ACTIONS
from governance.reads import elevated_access as reads
from governance.signin.powers import BREAK_GLASS, OWN_ACCESS, REQUEST_ACCESS
from governance.signin.session import (
    SIGN_IN_ENDPOINT,
    any_power_required,
    fresh_sign_in,
    fresh_sign_in_required,
    host_signs_in,
    signed_in_user,
)

PAGE = "governance/console/requests.html"
BREAK_GLASS_PAGE = "governance/console/requests_break_glass.html"
MAX_ID = 200  # ids, as the API caps them (contract section 7)
MAX_TEXT = 4000  # a reason or the fields typed
REQUEST_FIELDS = ("participant", "program", "fields", "reason", "minutes")
BREAK_GLASS_FIELDS = ("participant", "program", "reason")
ACTION_TEXT = {"view": "see it on screen", "export": "put it in a file, report or extract",
               "disclose": "send it to an outside partner"}
# What the operation names -> the form field it is about.
FORM_FIELD = {"actor": "program", "actions": "actions"}
ENDED_EARLY = "ended early by the holder"


@dataclass
class Form:
    """What a form posted (or a link carried), trimmed, with each problem beside its field."""

    values: dict[str, str]
    actions: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _read_form(names: tuple[str, ...], source) -> Form:  # noqa: ANN001
    form = Form({name: (source.get(name) or "").strip() for name in names},
                [a for a in source.getlist("actions") if a in ACTIONS])
    for name, value in form.values.items():
        limit = MAX_TEXT if name in ("reason", "fields") else MAX_ID
        if len(value) > limit:
            form.errors[name] = f"at most {limit} characters"
    return form


def _override_request(form: Form) -> OverrideRequest:
    """The form as the operation's typed input; what cannot be read is named in problems."""
    values, problems = form.values, dict(form.errors)
    minutes = whole_number(values["minutes"], 1, MAX_MINUTES)
    if minutes is None and "minutes" not in problems:
        problems["minutes"] = "a whole number of minutes, such as 120"
    if not form.actions:
        problems["actions"] = "choose at least one"
    for name, problem in (("program", "required, a known program"), ("reason", "required"),
                          ("fields", "required: field ids or patterns")):
        if not values[name]:
            problems.setdefault(name, problem)
    return OverrideRequest(values["program"] or None, values["participant"] or None,
                           tuple(split_fields(values["fields"])), tuple(sorted(form.actions)),
                           values["reason"] or None, minutes, problems)


def _request_override(form: Form) -> RequestOverride:
    st = state()
    return RequestOverride(signed_in_user().id, _override_request(form), st.clock(),
                           int(current_app.config["GOVERNANCE_MAX_OVERRIDE_MINUTES"]),
                           notifier=st.notifier, via=CONSOLE)


def _errors(exc: GovernanceError) -> dict[str, str]:
    """The operation's refusal, each problem beside the form field it is about."""
    errors = {FORM_FIELD.get(k, k): v for k, v in exc.details.items()}
    if "program" in errors and errors["program"] == "no role in this program":
        errors["program"] = "you hold no role in this program, so you cannot ask for access there"
    if "minutes" in errors and errors["minutes"].startswith("at most"):
        errors["minutes"] = f"{errors['minutes']} minutes in this program"
    return errors or {"form": exc.message}


@bp.get("/requests")
@any_power_required(REQUEST_ACCESS, OWN_ACCESS)
def requests():
    """The forms (a link from the preview refills the request), my access and my requests."""
    form = _read_form(REQUEST_FIELDS, request.args)
    return _page(form)


@bp.post("/requests")
@any_power_required(REQUEST_ACCESS)
def requests_send():
    """Send the request (pending until someone who approves overrides decides it), or with
    the Preview button, show what it would add to what I hold, checked by every rule."""
    form = _read_form(REQUEST_FIELDS, request.form)
    if request.form.get("step") == "preview":
        checked, refused = _attempt(form, lambda operation: operation.check(state().session))
        if refused:
            return refused
        changes = reads.what_request_adds(state().snapshot(), state().clock(), checked.actor,
                                          checked.program, checked.participant,
                                          checked.fields, checked.actions)
        state().session.rollback()  # a read: end the transaction the checks began
        return _page(form, preview={"checked": checked, "changes": changes})
    row, refused = _attempt(form, lambda operation: operation.execute(state().session))
    if refused:
        return refused
    flash(f"Request {row.id} sent: {row.minutes} minutes of {', '.join(row.actions)} on "
          f"{', '.join(row.fields)}, from the moment it is approved. Those who approve "
          "overrides in this program have been told.")
    return redirect(url_for(".requests"))


def _attempt(form: Form, step: Callable[[RequestOverride], object]):
    """``step`` on the form's request: (its result, None), or (None, the page with each
    problem beside its field, 400) when a rule refuses it (nothing written)."""
    try:
        return step(_request_override(form)), None
    except GovernanceError as exc:
        state().session.rollback()
        form.errors = _errors(exc)
        return None, (_page(form), 400)


@bp.get("/requests/break-glass")
@fresh_sign_in_required
@any_power_required(BREAK_GLASS)
def break_glass_form():
    """The break-glass form alone, after a recent sign-in (where signing in again leads)."""
    form = _read_form(BREAK_GLASS_FIELDS, request.args)
    return render_template(BREAK_GLASS_PAGE, glass=form, **_glass_context())


@bp.post("/requests/break-glass")
@any_power_required(BREAK_GLASS)
def break_glass():
    """Emergency access at once, for an hour, reviewed afterwards; needs a recent sign-in."""
    form = _read_form(BREAK_GLASS_FIELDS, request.form)
    if not fresh_sign_in():
        if host_signs_in():
            return state().login_manager.needs_refresh()  # the host's own refresh page
        flash("Breaking the glass needs a recent sign-in. Sign in again: you come back to the "
              "form with the participant and program kept; give the reason again.")
        back = url_for(".break_glass_form", participant=form.values["participant"][:MAX_ID],
                       program=form.values["program"][:MAX_ID])
        return redirect(url_for(SIGN_IN_ENDPOINT, next=back))
    values = form.values
    wanted = BreakGlassRequest(values["program"] or None, values["participant"] or None,
                               values["reason"] or None,
                               {**{n: "required" for n in BREAK_GLASS_FIELDS if not values[n]},
                                **form.errors})
    st = state()
    try:
        use = BreakGlass(signed_in_user().id, wanted, st.clock(),
                         int(current_app.config["GOVERNANCE_BREAK_GLASS_ALERT"]),
                         notifier=st.notifier, via=CONSOLE).execute(st.session)
    except GovernanceError as exc:
        st.session.rollback()
        form.errors = _errors(exc)
        if request.form.get("from") == "break-glass":
            return render_template(BREAK_GLASS_PAGE, glass=form, **_glass_context()), 400
        return _page(_read_form(REQUEST_FIELDS, MultiDict()), glass=form), 400
    o = use.override
    flash(f"The glass is broken: you may view the whole record of {o.participant_id} in "
          f"{Names(st.session).program(o.program_id)} until {when(o.expires_at)}. This use "
          f"({o.id}) will be reviewed afterwards by the program's reviewers.")
    return redirect(url_for(".requests"))


@bp.post("/requests/<override_id>/end")
@any_power_required(OWN_ACCESS)
def end_access(override_id: str):
    """End my own access now, before its time runs out."""
    st = state()
    row = st.session.get(Override, override_id)
    if row is None:
        abort(404, f"There is no request {override_id}.")
    if row.user_id != signed_in_user().id:
        abort(403)  # this page ends only your own access (approvers revoke from the API)
    RevokeOverride(override_id, signed_in_user().id, ENDED_EARLY, st.clock(),
                   via=CONSOLE).execute(st.session)
    flash(f"Your access {override_id} has ended.")
    return redirect(url_for(".requests"))


def _page(form: Form, *, preview: dict | None = None, glass: Form | None = None):
    """The Requests page: my access now, the two forms, my requests and escalations."""
    st, user = state(), signed_in_user()
    session, now = st.session, st.clock()
    pending_minutes = int(current_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"])
    status = request.args.get("status") or None
    status = status if status in reads.STATUSES else None
    limits = reads.request_limits(session, user.id, now,
                                  int(current_app.config["GOVERNANCE_MAX_OVERRIDE_MINUTES"]))
    program = request.args.get("in") or None
    mine = reads.my_requests(session, user.id, now, pending_minutes=pending_minutes,
                             status=status, program=program, page=page_number("page"))
    escalations = reads.my_escalations(session, user.id, page_number("escalations_page"))
    reviews = reads.break_glass_reviews(session, mine.items)
    names = Names(session)
    names.learn({o.resolved_by for o in mine.items if o.resolved_by}
                | {e.decided_by for e in escalations.items if e.decided_by}
                | {r.decided_by for r in reviews.values() if r.decided_by})
    return render_template(
        PAGE, form=form, preview=preview,
        glass=glass or _read_form(BREAK_GLASS_FIELDS, MultiDict()),
        limits=limits, actions=ACTIONS, action_text=ACTION_TEXT, now=now, names=names,
        active=reads.active_access(session, user.id, now), mine=mine,
        reviews=reviews, escalations=escalations,
        status_of=lambda o: reads.shown_status(o, now, pending_minutes),
        escalation_status=lambda e: reads.escalation_status(e, now),
        minutes_left=lambda o: reads.minutes_left(o, now), when=when,
        filters={"status": status, "in": program}, statuses=reads.STATUSES,
        pending_hours=pending_minutes // 60,
        page_link=lambda n: url_for(".requests", page=n, status=status, **{"in": program}),
        escalation_link=lambda n: url_for(".requests", escalations_page=n),
        **_glass_context())


def _glass_context() -> dict:
    return {"fresh": fresh_sign_in(), "glass_minutes": BREAK_GLASS_MINUTES,
            "fresh_minutes": int(current_app.config["GOVERNANCE_FRESH_SIGN_IN_MINUTES"]),
            "programs": Names(state().session).programs}
