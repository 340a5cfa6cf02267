"""Reviews (contract section 9, issue 15 item 3), for reviewers: the items I may decide, each
with its last use and recommendation, ``Keep`` / ``Revoke`` and a ``Note``, all sent at once
with ``Submit decisions``; ``Accept recommendations`` revokes the unused ones with one
justification. Never my own access: the list leaves it out and the operation refuses it.
The campaigns themselves are pages/reviews_campaigns.py."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import select

from governance.console import bp
from governance.console.paged import page_number
from governance.console.review_text import (
    ReviewNames,
    describers,
    page_links,
    text_arg,
    until,
)
from governance.db import CONSOLE
from governance.errors import GovernanceError
from governance.extension import state
from governance.models import Program, ReviewCampaign
from governance.operations.review_decisions import DecideReviewItems, ItemDecision
from governance.reads.reviews import (
    RECOMMENDATIONS,
    ItemFilter,
    Reviewer,
    end_dates,
    id_set_fingerprint,
    items_to_decide,
    own_items_under_review,
    recommended_revokes,
)
from governance.signin.powers import REVIEWER
from governance.signin.session import power_required, signed_in_user

PAGE = "governance/console/reviews.html"
PER_PAGE = 50
MAX_NOTE = 2000
MAX_ITEMS = 500  # ids one submission may carry (a page shows PER_PAGE)
FILTERS = ("campaign", "program", "recommendation", "person")
CHOICES = {"keep": "Keep", "revoke": "Revoke", "expire": "Let it expire"}
# "Let it expire" is a keep (the operations decide keep or revoke) of an access that ends by
# itself: the reviewer saw it and lets it run to its end, which the note records.


def _wanted() -> tuple[ItemFilter, dict[str, str]]:
    """The filters asked for (the forms post to a URL that carries them too)."""
    args = {name: text_arg(name) or "" for name in FILTERS}
    errors = {}
    if args["recommendation"] and args["recommendation"] not in RECOMMENDATIONS:
        errors["recommendation"] = "choose keep or revoke"
        args["recommendation"] = ""
    return ItemFilter(**{k: v or None for k, v in args.items()}), errors


def _render(*, status: int = 200, errors: dict | None = None, chosen: dict | None = None,
            notes: dict | None = None, justification: str = ""):
    """The page: my items under the filters, with what was chosen kept on a refused form."""
    session, now, user = state().session, state().clock(), signed_in_user()
    wanted, filter_errors = _wanted()
    errors = {**filter_errors, **(errors or {})}
    reviewer = Reviewer.of(session, user.id, now)
    page = items_to_decide(reviewer, wanted, page=page_number(), per_page=PER_PAGE)
    names = ReviewNames(session)
    names.learn({r.item.user_id for r in page.items})
    args = wanted.as_args()
    recommended = recommended_revokes(reviewer, wanted)
    page_html = render_template(
        PAGE, page=page, names=names, now=now, args=args, errors=errors,
        chosen=chosen or {}, notes=notes or {}, justification=justification,
        choices=CHOICES, recommended_revoke=len(recommended),
        recommended_fingerprint=id_set_fingerprint(recommended),
        reviews_anywhere=bool(reviewer.scope),
        own_under_review=own_items_under_review(session, user.id),
        campaigns=[(c.id, f"{names.scope(c)}, due {c.due:%d %b %Y}") for c in session.scalars(
            select(ReviewCampaign).where(ReviewCampaign.status == "open")
            .order_by(ReviewCampaign.due))],
        programs=dict(session.execute(select(Program.id, Program.name)
                                      .where(Program.retired_at.is_(None))
                                      .order_by(Program.name)).all()),
        describe=describers(names),
        links=page_links(page, ".reviews", args))
    return page_html, status


@bp.get("/reviews")
@power_required(REVIEWER)
def reviews():
    """My items to decide, filtered and paged."""
    return _render(status=400 if _wanted()[1] else 200)


def _read_decisions() -> tuple[list[ItemDecision], dict, dict, dict]:
    """The choices of the form: decisions, what each item chose, its note, the problems."""
    shown = request.form.getlist("item")[:MAX_ITEMS]
    decisions, chosen, notes, errors = [], {}, {}, {}
    for item_id in dict.fromkeys(shown):
        choice = (request.form.get(f"decision-{item_id}") or "").strip()
        note = (request.form.get(f"note-{item_id}") or "").strip()
        chosen[item_id], notes[item_id] = choice, note
        if choice and choice not in CHOICES:
            errors[item_id] = "choose Keep, Revoke or Let it expire"
        elif len(note) > MAX_NOTE:
            errors[item_id] = f"the note is longer than {MAX_NOTE:,} characters"
        elif note and not choice:
            errors[item_id] = "a note was written but neither Keep nor Revoke chosen"
        elif choice:
            decisions.append(ItemDecision(item_id, choice, note or None))
    decisions = _let_expire(decisions, errors)
    if not decisions and not errors:
        errors["decisions"] = "choose Keep or Revoke for at least one item"
    return decisions, chosen, notes, errors


def _let_expire(decisions: list[ItemDecision], errors: dict) -> list[ItemDecision]:
    """Each "Let it expire" as the keep it is, its end date in the note; refused for an
    access without an end date."""
    ends = end_dates(state().session, [d.item_id for d in decisions if d.decision == "expire"])
    kept = []
    for d in decisions:
        if d.decision != "expire":
            kept.append(d)
        elif ends.get(d.item_id) is None:
            errors[d.item_id] = "this access has no end date to expire at: choose Keep or Revoke"
        else:
            note = f"Reviewed: let it expire ({until(ends[d.item_id])})"
            kept.append(ItemDecision(d.item_id, "keep", f"{note}. {d.note}" if d.note else note))
    return kept


def _decide(decisions: list[ItemDecision]) -> list:
    return DecideReviewItems(signed_in_user().id, decisions, state().clock(), via=CONSOLE,
                             notifier=state().notifier).execute(state().session)


def _back() -> str:
    return url_for(".reviews", **_wanted()[0].as_args())


@bp.post("/reviews/decisions")
@power_required(REVIEWER)
def reviews_decide():
    """``Submit decisions``: every item given Keep or Revoke, at once; the rest stay open."""
    decisions, chosen, notes, errors = _read_decisions()
    if errors:
        return _render(status=400, errors=errors, chosen=chosen, notes=notes)
    try:
        decided = _decide(decisions)
    except GovernanceError as exc:
        state().session.rollback()
        return _render(status=exc.status, errors=exc.details or {"decisions": exc.message},
                       chosen=chosen, notes=notes)
    revoked = sum(1 for i in decided if i.decision == "revoke")
    flash(f"{len(decided)} decision{'' if len(decided) == 1 else 's'} recorded: "
          f"{len(decided) - revoked} kept, {revoked} revoked"
          + (" (that access has ended)." if revoked else "."))
    return redirect(_back())


@bp.post("/reviews/accept-recommendations")
@power_required(REVIEWER)
def reviews_accept():
    """``Accept recommendations``: revoke every item under the filters recommended for revoke
    (unused), with one justification as each one's note; only the very items the page showed
    (their fingerprint), never a list that changed since, even one of the same length."""
    justification = (request.form.get("justification") or "").strip()
    shown = request.form.get("fingerprint", "")
    wanted, _ = _wanted()
    ids = recommended_revokes(Reviewer.of(state().session, signed_in_user().id, state().clock()),
                              wanted)
    problem, status = None, 400
    if not justification:
        problem = "write a justification: it is recorded as the note of every revoke"
    elif len(justification) > MAX_NOTE:
        problem = f"the justification is longer than {MAX_NOTE:,} characters"
    elif not ids:
        problem = "no item here is recommended for revoke"
    elif shown != id_set_fingerprint(ids):  # what the reviewer saw is not what would go
        problem, status = (f"the list changed since the page was shown: {len(ids):,} items "
                           "are recommended for revoke now. Look at them again, then accept."
                           ), 409
    if problem:
        return _render(status=status, errors={"justification": problem},
                       justification=justification)
    try:
        decided = _decide([ItemDecision(i, "revoke", justification) for i in ids])
    except GovernanceError as exc:
        state().session.rollback()
        return _render(status=exc.status, errors={"justification": exc.message},
                       justification=justification)
    flash(f"{len(decided):,} unused access{'' if len(decided) == 1 else 'es'} revoked, "
          "each with your justification as its note.")
    return redirect(_back())
