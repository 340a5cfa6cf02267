"""Review campaigns (issue 15 item 3), for reviewers: the list with each campaign's progress as
a chart, the form that opens one (roles and/or programs, a due date, ``on_no_decision``), and
one campaign with its progress per program, what its rule will do at the due date, and its
items. Opening goes through ``OpenCampaign``, as the API does."""
from __future__ import annotations

from datetime import date, datetime, time

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, RadioField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import InputRequired, NumberRange

from governance.console import bp
from governance.console.paged import page_number
from governance.console.review_chart import FILLS, parts_columns, progress_chart
from governance.console.review_text import (
    ReviewNames,
    describers,
    page_links,
    rule_statement,
    rule_words,
    text_arg,
)
from governance.db import CONSOLE
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Program, ReviewCampaign, Role
from governance.operations.review_campaigns import MAX_UNUSED_DAYS, CampaignRequest, OpenCampaign
from governance.reads.attention import reviewing_scope
from governance.reads.reviews import (
    CAMPAIGN_STATES,
    ITEM_STATES,
    campaign_items,
    campaigns_page,
    progress_of,
    progress_per_program,
)
from governance.signin.powers import ADMIN, REVIEWER
from governance.signin.session import (
    fresh_sign_in_required,
    power_required,
    signed_in_powers,
    signed_in_user,
)

LIST_PAGE = "governance/console/reviews_campaigns.html"
CAMPAIGN_PAGE = "governance/console/reviews_campaign.html"
PER_PAGE = 20
ITEMS_PER_PAGE = 50
DUE_TIME = time(23, 59)  # a due date means "by the end of that day" (UTC)


class OpenCampaignForm(FlaskForm):
    roles = SelectMultipleField("Roles", choices=[], validate_choice=False,
                                description="None chosen: every elevated role")
    programs = SelectMultipleField("Programs", choices=[], validate_choice=False,
                                   description="None chosen: every program where you review")
    due = StringField("Due", [InputRequired("choose the date the review closes")],
                      description="The campaign closes at 23:59 UTC that day")
    on_no_decision = RadioField(
        "If an item is still undecided at the due date", [InputRequired(
            "choose what happens to items nobody decided")],
        choices=[("revoke", "Revoke the access"), ("keep", "Keep the access")])
    unused_days = IntegerField(
        "Recommend revoke when unused for (days)",
        [InputRequired("give a number of days"), NumberRange(0, MAX_UNUSED_DAYS,
                                                             f"from 0 to {MAX_UNUSED_DAYS}")],
        default=30)
    submit = SubmitField("Open campaign")


def _campaign_form() -> OpenCampaignForm:
    session = state().session
    form = OpenCampaignForm()
    form.roles.choices = [(r.id, r.name or r.id) for r in session.scalars(
        select(Role).where(Role.elevated.is_(True), Role.retired_at.is_(None))
        .order_by(Role.id))]
    form.programs.choices = [(p.id, p.name) for p in session.scalars(
        select(Program).where(Program.retired_at.is_(None)).order_by(Program.name))]
    return form


def _render_list(form: OpenCampaignForm, *, status: int = 200, errors: dict | None = None):
    session, now = state().session, state().clock()
    wanted = text_arg("state") if request.method == "GET" else None
    state_error = None
    if wanted and wanted not in CAMPAIGN_STATES:
        state_error, wanted, status = "choose open, overdue or closed", None, 400
    page = campaigns_page(session, now, state=wanted, page=page_number(),
                          per_page=PER_PAGE)
    names = ReviewNames(session)
    return render_template(
        LIST_PAGE, form=form, errors=errors or {}, state_error=state_error, page=page,
        names=names, now=now, wanted=wanted,
        states=CAMPAIGN_STATES, fills=FILLS, columns=parts_columns(),
        chart=progress_chart([(names.chart_label(r.campaign), r.progress)
                              for r in page.items]),
        rules={r.campaign.id: rule_statement(r.campaign, r.progress, now) for r in page.items},
        links=page_links(page, ".review_campaigns", {"state": wanted or ""})), status


@bp.get("/reviews/campaigns")
@power_required(REVIEWER)
def review_campaigns():
    """Every campaign, open ones first, with progress; the form to open one."""
    return _render_list(_campaign_form())


def _due(value: str | None) -> tuple[datetime | None, str | None]:
    try:
        return datetime.combine(date.fromisoformat((value or "").strip()), DUE_TIME), None
    except ValueError:
        return None, "a date, as 2026-12-31"


@bp.post("/reviews/campaigns")
@power_required(REVIEWER)
@fresh_sign_in_required
def review_campaigns_open():
    """``Open campaign``: the form becomes OpenCampaign's CampaignRequest, within the
    programs where the signed-in reviewer reviews (an administrator, or a reviewer
    everywhere, may open one for the whole organisation)."""
    form = _campaign_form()
    form.validate()
    problems = {name: messages[0] for name, messages in form.errors.items()
                if name != "csrf_token"}
    due, due_problem = _due(form.due.data)
    if due_problem and "due" not in problems:
        problems["due"] = due_problem
    programs = _programs_in_scope(tuple(v for v in form.programs.data or () if v),
                                  {v for v, _ in form.programs.choices}, problems)
    wanted = CampaignRequest(tuple(v for v in form.roles.data or () if v), programs,
                             due, form.on_no_decision.data or None,
                             form.unused_days.data if form.unused_days.data is not None
                             else 30, problems)
    try:
        opened = OpenCampaign(signed_in_user().id, wanted, state().clock(),
                              notifier=state().notifier, via=CONSOLE).execute(state().session)
    except GovernanceError as exc:
        state().session.rollback()
        errors = {_form_field(k): v for k, v in exc.details.items()} or {"form": exc.message}
        return _render_list(form, status=exc.status, errors=errors)
    n = len(opened.items)
    flash(f"Campaign {opened.campaign.id} opened with {n:,} item{'' if n == 1 else 's'} to "
          f"review; undecided items will be {rule_words(opened.campaign.on_no_decision)} "
          "at the due date.")
    return redirect(url_for(".review_campaign", campaign_id=opened.campaign.id))


def _programs_in_scope(chosen: tuple[str, ...], live: set[str], problems: dict[str, str]
                       ) -> tuple[str, ...]:
    """The programs a campaign may cover: a reviewer in some programs reviews only those
    (none chosen: all of them), so nobody puts another program's access up for revoke."""
    scope = reviewing_scope(state().session, signed_in_user().id, state().clock())
    if scope.everywhere or ADMIN in signed_in_powers():
        return chosen
    mine = tuple(sorted(p for p in scope.programs if p is not None))
    outside = [p for p in chosen if p in live and p not in mine]  # the rest: not live
    if not mine:
        problems.setdefault("programs", "you review in no program, so you may not open a "
                                        "campaign")
    elif outside:
        problems.setdefault("programs", f"you review only in {', '.join(mine)}, not in "
                                        f"{', '.join(outside)}")
    return chosen or mine


def _form_field(member: str) -> str:
    """``roles[0]`` (the operation's name for a member) -> ``roles`` (the form's field)."""
    return member.split("[", 1)[0]


@bp.get("/reviews/campaigns/<campaign_id>")
@power_required(REVIEWER)
def review_campaign(campaign_id: str):
    """One campaign: its scope and rule, progress per program, its items (filtered, paged)."""
    session, now, user = state().session, state().clock(), signed_in_user()
    campaign = session.get(ReviewCampaign, campaign_id[:64])
    if campaign is None:
        abort(404, f"There is no review campaign {campaign_id[:64]!r}.")
    wanted, person, status = text_arg("state"), text_arg("person"), 200
    errors = {}
    if wanted and wanted not in ITEM_STATES:
        errors["state"], wanted, status = "choose open, keep or revoke", None, 400
    items = campaign_items(session, campaign.id, state=wanted, person=person,
                           page=page_number(), per_page=ITEMS_PER_PAGE)
    progress = progress_of(session, [campaign.id])[campaign.id]
    per_program = progress_per_program(session, campaign.id)
    names = ReviewNames(session)
    names.learn({r.item.user_id for r in items.items} | {campaign.created_by}
                | {r.item.decided_by for r in items.items if r.item.decided_by})
    return render_template(
        CAMPAIGN_PAGE, campaign=campaign, progress=progress, items=items, names=names,
        now=now, wanted=wanted, person=person or "", errors=errors, states=ITEM_STATES,
        fills=FILLS, columns=parts_columns(),
        chart=progress_chart([(names.program(p) if p else "Organisation-wide roles", pr)
                              for p, pr in per_program.items()]),
        rule=rule_statement(campaign, progress, now),
        overdue=campaign.status == "open" and campaign.due <= now,
        may_decide=campaign.status == "open" and bool(reviewing_scope(session, user.id, now)),
        describe=describers(names),
        links=page_links(items, ".review_campaign", {"state": wanted or "",
                                                      "person": person or ""},
                         campaign_id=campaign.id)), status
