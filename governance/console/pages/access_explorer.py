"""The access explorer (contract section 9): who can act on a field, and what one user can act
on, each with the path (role and assignment or directory group, case involvement, override,
break-glass). Read only, so its forms are GETs; the answers come from ``reads/access.py``."""
from __future__ import annotations

from flask import render_template, request, url_for
from sqlalchemy import select

from governance.console import bp
from governance.console.access_paths import describe_path
from governance.extension import state
from governance.models import Program
from governance.policy.snapshot import Snapshot
from governance.policy.vocabulary import ACTIONS
from governance.reads.access import (
    VIA,
    FieldHolders,
    UserAccess,
    what_user_can_act,
    who_can_act,
)
from governance.signin.powers import ADMIN, AUDITOR
from governance.signin.session import any_power_required

PAGE = "governance/console/access_explorer.html"
PER_PAGE = 50
VIA_LABELS = {"organization_role": "Organisation-wide role", "program_role": "Program role",
              "case_role": "Case role", "directory_group": "Directory group",
              "override": "Override", "break_glass": "Break-glass"}
PATH_PHRASES = {"organization_role": "an organisation-wide role",
                "program_role": "a program role", "case_role": "a case role",
                "override": "an override", "break_glass": "break-glass"}
MAX_TEXT = 200


@bp.get("/access-explorer")
@any_power_required(ADMIN, AUDITOR)
def access_explorer():
    """``mode=field`` (default): who can act on a field; ``mode=user``: what a user can."""
    session, snap = state().session, state().snapshot()
    programs = dict(session.execute(select(Program.id, Program.name)
                                    .where(Program.retired_at.is_(None))
                                    .order_by(Program.name)).all())
    mode = "user" if request.args.get("mode") == "user" else "field"
    context = {"mode": mode, "programs": programs, "actions": ACTIONS, "via_labels": VIA_LABELS,
               "path_phrases": PATH_PHRASES, "groups": _field_groups(snap.field_ids),
               "errors": {}, "result": None, "describe_path": describe_path,
               "explorer_url": url_for(".access_explorer")}
    answer = _who_can(context, snap) if mode == "field" else _what_user_can(context, snap)
    if answer is None:  # nothing asked yet: the form alone
        return render_template(PAGE, **context)
    context["result"] = answer
    return render_template(PAGE, **context), 400 if context["errors"] else 200


def _who_can(context: dict, snap: Snapshot) -> FieldHolders | None | bool:
    """Who can act on the field asked for (False: the request has errors, None: no field)."""
    args, programs, errors = request.args, context["programs"], context["errors"]
    asked = context["asked"] = {
        "field": _text(args, "field"), "action": args.get("action") or "view",
        "program": args.get("program") or next(iter(programs), ""), "q": _text(args, "q"),
        "via": args.get("via") or ""}
    if asked["field"] is None:
        return None
    if asked["field"] not in snap.fields:
        errors["field"] = f"'{asked['field']}' is not a catalogued field id"
    if asked["action"] not in ACTIONS:
        errors["action"] = f"choose one of {', '.join(ACTIONS)}"
    if asked["program"] not in programs:
        errors["program"] = "choose a program"
    if asked["via"] and asked["via"] not in VIA:
        errors["via"] = "choose a path from the list"
    if errors:
        return False
    context["page_link"] = lambda n: url_for(".access_explorer", **{
        k: v for k, v in asked.items() if v}, page=n)
    return who_can_act(state().session, snap, state().clock(), field_id=asked["field"],
                       action=asked["action"], program=asked["program"], text=asked["q"],
                       via=asked["via"] or None, page=_page_number(args.get("page")),
                       per_page=PER_PAGE)


def _what_user_can(context: dict, snap: Snapshot) -> UserAccess | None | bool:
    """What the user asked for can act on (False: errors, None: no user asked yet)."""
    args, errors = request.args, context["errors"]
    asked = context["asked"] = {"user": _text(args, "user"),
                                "program": args.get("program") or "",
                                "action": args.get("action") or ""}
    if asked["user"] is None:
        return None
    if asked["program"] and asked["program"] not in context["programs"]:
        errors["program"] = "choose a program"
    if asked["action"] and asked["action"] not in ACTIONS:
        errors["action"] = f"choose one of {', '.join(ACTIONS)}"
    if errors:
        return False
    result = what_user_can_act(state().session, snap, state().clock(), user_id=asked["user"],
                               program=asked["program"] or None,
                               action=asked["action"] or None,
                               page=_page_number(args.get("page")))
    if not result.exists:
        errors["user"] = f"there is no user '{asked['user']}'"
        return False
    context["page_link"] = lambda n: url_for(".access_explorer", mode="user", **{
        k: v for k, v in asked.items() if v}, page=n)
    return result


def _text(args, name: str) -> str | None:  # noqa: ANN001
    value = (args.get(name) or "").strip()
    return value[:MAX_TEXT] or None


def _page_number(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100_000))
    except ValueError:
        return 1


def _field_groups(field_ids: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for f in field_ids:
        groups.setdefault(f.split(".", 1)[0], []).append(f)
    return list(groups.items())
