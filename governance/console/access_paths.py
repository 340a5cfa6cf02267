"""One access path (``reads/access.py`` AccessPath) in words, as the explorer shows it: what it
is, where it came from, what it covers. Written in Python rather than as a template macro: the
explorer draws hundreds of them a page, and a macro call costs several times as much."""
from __future__ import annotations

from markupsafe import Markup, escape

from governance.policy.trail import shown_until
from governance.reads.access import CASE_ROLE, ORGANIZATION_ROLE, AccessPath

PATH_LABELS = {"organization_role": "Organisation-wide role", "program_role": "Program role",
               "case_role": "Case role", "override": "Override", "break_glass": "Break-glass"}
SOURCE_LABELS = {"file": "from the organisation file", "console": "given in the console",
                 "api": "given through the API", "workflow": "from a workflow",
                 "cli": "given on the command line", "directory": "from the directory"}


def describe_path(p: AccessPath, *, show_patterns: bool = False, compact: bool = False
                  ) -> Markup:
    """``show_patterns``: name the grant's patterns (who can act on one field); ``compact``:
    the kind and the role or override only (the page lists it in full elsewhere)."""
    parts = [Markup('<span class="path-kind path-{}">{}</span> ').format(
        p.kind, PATH_LABELS[p.kind])]
    if compact:
        parts.append(_code(p.role or p.ref.partition(":")[2]))
        if p.kind == CASE_ROLE:
            count = p.participant_count
            parts.append(f": on {count} case{'s' if count != 1 else ''}" if count
                         else ": on no case now")
        elif p.participants:
            parts.append(Markup(" for ") + _code(p.participants[0]))
    elif p.role:
        parts += [_code(p.role),
                  " in every program" if p.kind == ORGANIZATION_ROLE else f" in {p.program}"]
        if show_patterns and p.patterns:
            parts += [", granting ", _codes(p.patterns)]
        if p.until:
            parts.append(f", until {shown_until(p.until)}")
        if p.group:
            parts += ["; through directory group ", Markup('<code class="dn">{}</code>').format(
                p.group)]
        elif p.source:
            parts.append("; " + SOURCE_LABELS.get(p.source, f"source {p.source}"))
        if p.kind == CASE_ROLE:
            parts.append(_cases(p))
    else:
        parts += [_code(p.ref.partition(":")[2]), f" in {p.program}"]
        parts += ([Markup(" for ") + _code(p.participants[0])] if p.participants
                  else [" for every participant"])
        if p.patterns:
            parts += [", covering ", _codes(p.patterns)]
        if p.actions:
            parts.append(f" ({', '.join(sorted(p.actions))})")
        if p.until:
            parts.append(f", until {p.until.isoformat(timespec='minutes')} UTC")
        if p.kind == "break_glass":
            parts.append("; reviewed afterwards")
    return Markup("").join(escape(part) for part in parts)


def _cases(p: AccessPath) -> Markup:
    if not p.participant_count:
        return Markup('; <span class="cases">on no case at present (acts on nobody until '
                      'given one)</span>')
    shown = Markup(", ").join(_code(x) for x in p.participants)
    more = p.participant_count - len(p.participants)
    return Markup('; <span class="cases">on the case{} of {}{}</span>').format(
        "s" if p.participant_count > 1 else "", shown, f" and {more} more" if more > 0 else "")


def _code(text: str | None) -> Markup:
    return Markup("<code>{}</code>").format(text or "")


def _codes(values) -> Markup:  # noqa: ANN001
    return Markup(", ").join(_code(v) for v in values)
