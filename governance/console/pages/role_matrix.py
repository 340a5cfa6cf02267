"""The role matrix page (contract section 9): roles x fields for one action, edited as a draft,
reviewed with its diff and impact, then applied at once.

The grid form posts the whole grid (the cells shown and those checked); the review turns it
into cell changes against the grants it was drawn from (``base``) and carries them on as
``add``/``remove`` fields, in the Apply form and in the review's own address, so that a
sign-in asked for on the way (applying needs a recent one) brings the same review back. Nothing
the browser sends is trusted: every step recomputes the changes from the store, and a draft
drawn from grants that changed since is refused (409).
"""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from governance.console import bp
from governance.errors import GovernanceError, Invalid
from governance.extension import state
from governance.operations.role_matrix import EditRoleMatrix
from governance.policy.matrix import ACTIONS, opened
from governance.reads.matrix_impact import impact
from governance.reads.role_matrix import (
    CellChange,
    Grid,
    MatrixState,
    Section,
    changes_from_grid,
    effective_changes,
    load_grid,
    load_state,
    program_names,
    require_base,
    rewrites,
)
from governance.signin.powers import ADMIN
from governance.signin.session import (
    SIGN_IN_ENDPOINT,
    fresh_sign_in,
    power_required,
    signed_in_user,
)

PAGE = "governance/console/role_matrix.html"
REVIEW = "governance/console/role_matrix_review.html"
REFUSED = "governance/console/role_matrix_refused.html"
MAX_CELLS = 50_000  # cells named in one form (a 40 x 300 grid has 12,000)
MAX_URL = 3000  # longest review address kept across a sign-in (servers cap request lines)
IMPACT_ROWS = 500  # users listed on the review page (all are counted)


def _values() -> MultiDict:
    return request.form if request.method == "POST" else request.args


def _view() -> dict:
    """The grid's filters (action, program, field group) as the request gives them."""
    values = _values()
    return {"action": values.get("action") or "view", "program": values.get("program") or None,
            "group": values.get("group") or None}


def _cells(name: str) -> list[tuple[str, str]]:
    """``ROLE FIELD`` pairs of form field ``name`` (400 for anything else)."""
    values = _values().getlist(name)
    if len(values) > MAX_CELLS:
        raise Invalid.naming({name: f"more than {MAX_CELLS} cells"})
    cells = []
    for value in values:
        role, _, field_id = value.strip().partition(" ")
        if not role or not field_id or " " in field_id:
            raise Invalid.naming({name: f"{value[:80]!r} is not 'ROLE FIELD'"})
        cells.append((role, field_id))
    return cells


def _draft(matrix: MatrixState) -> list[CellChange]:
    """The draft's changes as posted or in the address, checked against the store."""
    require_base(matrix, _values().get("base"))
    changes = [CellChange(r, f, True) for r, f in _cells("add")] + [
        CellChange(r, f, False) for r, f in _cells("remove")]
    return effective_changes(matrix, changes)


def _refused(exc: GovernanceError, view: dict):
    state().session.rollback()
    return render_template(REFUSED, error=exc, query=_query(view)), exc.status


@bp.route("/role-matrix", methods=["GET", "POST"])
@power_required(ADMIN)
def role_matrix():
    """The grid; posted with a draft (from the review's "Change the draft"), drawn with it."""
    view = _view()
    try:
        matrix = load_state(state().session, view["action"])
        changes = _draft(matrix) if "base" in _values() else []
        grid = load_grid(state().session, matrix, state().clock(), program=view["program"],
                         group=view["group"], changes=changes)
    except GovernanceError as exc:
        return _refused(exc, view)
    return render_template(PAGE, grid=grid, view=view, actions=ACTIONS,
                           section_rows=_row_cells(grid))


@bp.route("/role-matrix/review", methods=["GET", "POST"])
@power_required(ADMIN)
def role_matrix_review():
    """The draft's diff and impact, with the buttons to apply it or change it."""
    view = _view()
    values = _values()
    session = state().session
    try:
        matrix = load_state(session, view["action"])
        if "shown_roles" in values:  # the whole grid, as the grid form posts it
            require_base(matrix, values.get("base"))
            changes = changes_from_grid(matrix, values.get("shown_roles", "").split(),
                                        values.get("shown_fields", "").split(),
                                        set(_cells("grant")))
        else:
            changes = _draft(matrix)
        planned = rewrites(matrix, changes)
        effect = impact(session, matrix, {r.role: opened(r.after, matrix.field_ids)
                                          for r in planned}, state().clock())
    except GovernanceError as exc:
        return _refused(exc, view)
    return render_template(REVIEW, view=view, matrix=matrix, changes=changes, planned=planned,
                           impact=effect, rows=IMPACT_ROWS, fresh=fresh_sign_in(),
                           query=_query(view), programs=program_names(session),
                           sources={c.role: matrix.sources(c.role) for c in changes})


@bp.post("/role-matrix/apply")
@power_required(ADMIN)
def role_matrix_apply():
    """Commit the draft (a sensitive action: it needs a recent sign-in)."""
    view = _view()
    if not fresh_sign_in():
        return _sign_in_again(view)
    session = state().session
    try:
        matrix = load_state(session, view["action"])
        edit = EditRoleMatrix(signed_in_user().id, matrix.action, _draft(matrix),
                              state().clock(), base=_values().get("base"),
                              reason=(_values().get("reason") or "").strip()[:2000] or None
                              ).execute(session)
    except GovernanceError as exc:
        return _refused(exc, view)
    flash(f"Applied to {edit.action}: {_count(edit.granted, 'grant')} added and "
          f"{_count(edit.revoked, 'grant')} taken away, in force from the next decision "
          f"(policy version {edit.version}).")
    return redirect(url_for(".role_matrix", **_query(view)))


def _row_cells(grid: Grid):
    """``section_rows(section)`` for the template: each field with its row of cells as HTML.

    A 40 x 300 grid has 12,000 cells: drawn by Jinja one expression at a time they cost most
    of a second; joined here from strings escaped once per role and field, a few tens of
    milliseconds (the markup is the same)."""
    action = str(escape(grid.state.action))
    names = {r.id: str(escape(r.id)) for r in grid.roles}
    checks = {True: " checked></td>", False: "></td>"}
    # The cell's <td> and its checkbox's title, by (pattern granting it, changed by the draft).
    marks: dict[tuple[str | None, bool], tuple[str, str]] = {(None, False): ("<td>", "")}

    def mark(source: str | None, changed: bool) -> tuple[str, str]:
        if (source, changed) not in marks:
            kind = " ".join(k for k, on in (("via", source), ("draft", changed)) if on)
            title = (f"granted through {escape(source)}" if source else
                     "changed in your draft")
            marks[(source, changed)] = (f'<td class="{kind}">', f' title="{title}"')
        return marks[(source, changed)]

    def rows(section: Section):
        for f in section.fields:
            field_id = str(escape(f.id))
            out = []
            for role, checked, source, changed in grid.cells(f.id):
                name = names[role]
                td, title = marks.get((source, changed)) or mark(source, changed)
                out.append(f'{td}<input type="checkbox" name="grant" value="{name} {field_id}" '
                           f'aria-label="{name} {action} {field_id}"{title}{checks[checked]}')
            yield f, Markup("".join(out))

    return rows


def _sign_in_again(view: dict):
    """Sign in again first, then come back to the same review (when its address fits)."""
    query = MultiDict(_query(view))
    query.add("base", _values().get("base", ""))
    for name in ("add", "remove"):
        for value in _values().getlist(name)[:MAX_CELLS]:
            query.add(name, value)
    review = url_for(".role_matrix_review", **query.to_dict(flat=False))
    if len(review) <= MAX_URL:
        flash("Applying changes to the role matrix needs a recent sign-in. Sign in again: "
              "your draft is kept and shown for review again.")
        target = review
    else:
        flash("Applying changes to the role matrix needs a recent sign-in. Sign in again; "
              "your draft was too large to keep, so make it again after signing in.")
        target = url_for(".role_matrix", **_query(view))
    return redirect(url_for(SIGN_IN_ENDPOINT, next=target))


def _count(n: int, noun: str) -> str:
    return f"{'no' if n == 0 else n} {noun}{'' if n == 1 else 's'}"


def _query(view: dict) -> dict:
    """The grid's address parameters (an unknown action left out, so the link still works)."""
    return {k: v for k, v in view.items() if v and (k != "action" or v in ACTIONS)}
