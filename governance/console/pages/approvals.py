"""The Approvals page (contract section 9; issue 15, item 2), for those who approve: the
pending override requests and escalations I may decide (never my own: the queues leave them
out and the operations refuse them), with who asks, for what, why, for how long and the
fields' sensitivity; `Approve` / `Deny` with a `Note`; the break-glass uses awaiting their
review, closed with a finding; the requests nobody decided in time, shown as expired."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for

from governance.console import bp
from governance.console.paged import page_number
from governance.console.pages.dashboard import Names, when
from governance.db import CONSOLE
from governance.errors import GovernanceError, Invalid
from governance.extension import state
from governance.operations.break_glass import CloseReviewItem
from governance.operations.escalations import DecideEscalation
from governance.operations.override_requests import DecideOverride
from governance.policy.patterns import ENTIRE_RECORD
from governance.reads import attention
from governance.reads.access import Page
from governance.reads.elevated_access import overrides_by_id, what_request_adds
from governance.signin.powers import APPROVER, REVIEWER
from governance.signin.session import any_power_required, power_required, signed_in_user

PAGE = "governance/console/approvals.html"
PER_PAGE = 20
MAX_NOTE = 2000
VERDICTS = {"approve": True, "deny": False}
QUEUES = ("page", "escalations_page", "glass_page", "lapsed_page")  # each list's page number


@dataclass
class Refusal:
    """Why a decision was not taken: shown at the top, and beside the item's form."""

    item: str
    field: str
    message: str
    status: int


# Break-glass uses are closed by the program's reviewers: those who approve and those who hold
# the reviewer power (operations/approvers.reviewing_scope); the page's other queues are empty
# for someone who approves nothing.
BREAK_GLASS_REVIEWERS = (APPROVER, REVIEWER)


@bp.get("/approvals")
@any_power_required(*BREAK_GLASS_REVIEWERS)
def approvals():
    return _page()


def _decide_override(item_id: str, approve: bool, note: str | None) -> None:
    """The clock of an approved override starts at the approval."""
    st = state()
    DecideOverride(item_id, signed_in_user().id, approve, note, st.clock(),
                   int(current_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"]),
                   notifier=st.notifier, via=CONSOLE).execute(st.session)


def _decide_escalation(item_id: str, approve: bool, note: str | None) -> None:
    """An approved escalation covers the same disclosure for 7 days."""
    st = state()
    DecideEscalation(item_id, signed_in_user().id, approve, note, st.clock(),
                     notifier=st.notifier, via=CONSOLE).execute(st.session)


DECIDE = {"overrides": ("override request", _decide_override),
          "escalations": ("escalation", _decide_escalation)}


@bp.post("/approvals/<any(overrides, escalations):kind>/<item_id>")
@power_required(APPROVER)
def decide_item(kind: str, item_id: str):
    """Approve or deny an override request or an escalation, with an optional note."""
    what, decide = DECIDE[kind]
    verdict = request.form.get("verdict")
    note = (request.form.get("note") or "").strip()
    try:
        if verdict not in VERDICTS:
            raise Invalid.naming({"verdict": "press Approve or Deny"})
        if len(note) > MAX_NOTE:
            raise Invalid.naming({"note": f"at most {MAX_NOTE} characters"})
        decide(item_id, VERDICTS[verdict], note or None)
    except GovernanceError as exc:
        return _refused(item_id, "note", exc)
    flash(f"The {what} {item_id} was {'approved' if VERDICTS[verdict] else 'denied'}; the "
          "requester has been told.")
    return redirect(url_for(".approvals", **_filters()))


@bp.post("/approvals/break-glass/<item_id>")
@any_power_required(*BREAK_GLASS_REVIEWERS)
def close_break_glass(item_id: str):
    """Close a break-glass use's review with a finding (required)."""
    st = state()
    finding = (request.form.get("finding") or "").strip()
    try:
        if not finding:
            raise Invalid.naming({"finding": "required: write what the review found"})
        if len(finding) > MAX_NOTE:
            raise Invalid.naming({"finding": f"at most {MAX_NOTE} characters"})
        CloseReviewItem(item_id, signed_in_user().id, finding, st.clock(),
                        via=CONSOLE).execute(st.session)
    except GovernanceError as exc:
        return _refused(item_id, "finding", exc)
    flash(f"Review {item_id} closed with your finding.")
    return redirect(url_for(".approvals", **_filters()))


def _refused(item_id: str, field: str, exc: GovernanceError):
    """The page again, with the refusal at the top and beside the item (nothing written)."""
    state().session.rollback()
    detail = next(iter(exc.details.values()), None) if len(exc.details) == 1 else None
    message = exc.message if detail is None or exc.status != 400 else detail
    return _page(Refusal(item_id, field, message, exc.status)), exc.status


def _filters() -> dict:
    values = request.form if request.method == "POST" else request.args
    program = (values.get("in") or "").strip()
    return {"in": program} if program else {}


def _queue_page(queue: Callable[..., attention.Queue], name: str, **kw) -> Page:
    """One page of a queue, ``name`` its page number's parameter (past the end: the last)."""
    number = page_number(name)
    found = queue(shown=PER_PAGE, offset=(number - 1) * PER_PAGE, **kw)
    if number > 1 and not found.items and found.count:
        number = -(-found.count // PER_PAGE)
        found = queue(shown=PER_PAGE, offset=(number - 1) * PER_PAGE, **kw)
    return Page(found.items, found.count, number, PER_PAGE)


def _page(refusal: Refusal | None = None):
    st, user = state(), signed_in_user()
    session, now, snap = st.session, st.clock(), st.snapshot()
    pending_minutes = int(current_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"])
    program = _filters().get("in")
    mine = {"now": now, "program": program}
    overrides = _queue_page(lambda **kw: attention.overrides_to_decide(
        session, user.id, pending_minutes=pending_minutes, **kw), "page", **mine)
    escalations = _queue_page(lambda **kw: attention.escalations_to_decide(
        session, user.id, **kw), "escalations_page", **mine)
    glass = _queue_page(lambda **kw: attention.break_glass_to_review(
        session, user.id, **kw), "glass_page", **mine)
    lapsed = _queue_page(lambda **kw: attention.overrides_lapsed(
        session, user.id, pending_minutes=pending_minutes, **kw), "lapsed_page", **mine)
    uses = overrides_by_id(session, [i.override_id for i in glass.items])
    names = Names(session)
    names.learn({o.user_id for o in overrides.items + lapsed.items}
                | {e.user_id for e in escalations.items} | {i.user_id for i in glass.items})

    def fields_of(patterns: list[str]) -> list:
        return [snap.fields[f] for f in snap.expand(tuple(patterns))[0] if f in snap.fields]

    def adds(o) -> list:  # noqa: ANN001 - what the request adds to what they hold now
        return what_request_adds(snap, now, o.user_id, o.program_id, o.participant_id,
                                 o.fields, o.actions)

    def link(name: str) -> Callable[[int], str]:
        kept = {q: request.args.get(q) for q in QUEUES if q != name and request.args.get(q)}
        return lambda n: url_for(".approvals", **{**kept, name: n}, **_filters())

    return render_template(
        PAGE, overrides=overrides, escalations=escalations, glass=glass, lapsed=lapsed,
        uses=uses, names=names, adds=adds, when=when, fields_of=fields_of,
        entire_record=ENTIRE_RECORD,
        now_plus=lambda minutes: now + timedelta(minutes=minutes),
        lapses_at=lambda o: o.requested_at + timedelta(minutes=pending_minutes),
        refusal=refusal, program=program, link=link, pending_hours=pending_minutes // 60,
        note_limit=MAX_NOTE)
