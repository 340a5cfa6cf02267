"""Who can act on what, and through which path (the access explorer, contract section 9).

Both questions are answered from the compiled snapshot (the grants already expanded to field
ids, every live assignment and override in memory), so a 10,000-user organisation costs a scan
of its assignments of the few roles that grant the field, never a query per user. The store is
asked only for what the snapshot does not keep, and only for the page shown: names, where each
assignment came from (the file, the console, a directory group) and the case involvements that
make a case-scope role count.

Access is counted the way the pipeline counts it (rules 2 and 3): an assignment in force of a
role that grants the action on the field, in the program or organisation-wide; an active
approved override or break-glass covering it. A case-scope role acts only on the participants
whose case the user is on; the explorer lists which.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from governance.db import DIRECTORY
from governance.models import RoleAssignment, User
from governance.policy.patterns import expand, field_match, matches_any
from governance.policy.snapshot import AssignmentInfo, OverrideInfo, Snapshot
from governance.policy.trail import Facts, Origin, directory_group
from governance.reads.access_index import (
    ANY_PROGRAM,
    active_cases,
    assignments_by_role,
    cases_by_user,
    grant_patterns,
    group_sizes,
)

ORGANIZATION_ROLE, PROGRAM_ROLE, CASE_ROLE = "organization_role", "program_role", "case_role"
OVERRIDE, BREAK_GLASS, DIRECTORY_GROUP = "override", "break_glass", "directory_group"
NO_CASE_NOW = "no_case_now"  # counted: holders whose only path is a case role, with no case
# What a list may be narrowed to (a holder shown has at least one path of that kind).
VIA = (ORGANIZATION_ROLE, PROGRAM_ROLE, CASE_ROLE, DIRECTORY_GROUP, OVERRIDE, BREAK_GLASS)
SCOPE_KIND = {"organization": ORGANIZATION_ROLE, "program": PROGRAM_ROLE, "case": CASE_ROLE}
PARTICIPANTS_SHOWN = 5
MAX_PER_PAGE = 200


@dataclass
class AccessPath:
    """One way a user holds access: a role through an assignment, or an override."""

    kind: str  # organization_role, program_role, case_role, override, break_glass
    ref: str  # assignment:12, override:ovr_..., break_glass:brk_...
    role: str | None = None
    program: str | None = None
    patterns: tuple[str, ...] = ()
    until: datetime | None = None
    source: str | None = None
    group: str | None = None  # the directory group an assignment came through
    participants: tuple[str, ...] = ()  # case involvements in force (the first few)
    participant_count: int = 0  # case: all of them; override: 0 means every participant
    actions: frozenset[str] = frozenset()  # an override's actions

    @property
    def key(self) -> tuple:
        return (self.kind, self.ref)


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


@dataclass
class Holder:
    user: str
    name: str | None
    paths: list[AccessPath]


@dataclass
class FieldHolders:
    field: str
    action: str
    program: str
    holders: Page  # of Holder
    counts: dict[str, int]  # holders (all pages) per path kind, and NO_CASE_NOW


@dataclass
class FieldRow:
    group: str
    fields: list[str]
    whole_group: bool
    paths: list[AccessPath]


@dataclass
class AccessSection:
    program: str
    action: str
    rows: list[FieldRow]

    @property
    def field_count(self) -> int:
        return sum(len(r.fields) for r in self.rows)


@dataclass
class UserAccess:
    user: str
    name: str | None
    exists: bool
    active: bool
    sections: Page  # of (program, [AccessSection per action])
    held: list[AccessPath] = field(default_factory=list)  # every assignment/override in force


def who_can_act(session: Session, snap: Snapshot, now: datetime, *, field_id: str,
                action: str, program: str, text: str | None = None, via: str | None = None,
                page: int = 1, per_page: int = 50) -> FieldHolders:
    """Every active user who can ``action`` ``field_id`` in ``program`` now, with each path."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    candidates = _field_candidates(snap, now, field_id, action, program)
    if text:
        named = _users_matching(session, text)
        candidates = {u: p for u, p in candidates.items() if u in named}
    if via == DIRECTORY_GROUP:
        made = _directory_assignments(session, snap, field_id, action)
        candidates = {u: p for u, p in candidates.items()
                      if any(isinstance(x, AssignmentInfo) and x.id in made for _, x in p)}
    elif via:
        candidates = {u: p for u, p in candidates.items() if any(k == via for k, _ in p)}
    counts = dict.fromkeys((ORGANIZATION_ROLE, PROGRAM_ROLE, CASE_ROLE, OVERRIDE, BREAK_GLASS,
                            NO_CASE_NOW), 0)
    cases = cases_by_user(snap)
    for user, held in candidates.items():
        kinds = {k for k, _ in held}
        for kind in kinds:
            counts[kind] += 1
        if kinds == {CASE_ROLE} and not any(
                i.active(now) for _, i in cases.get((user, program), ())):
            counts[NO_CASE_NOW] += 1
    users = sorted(candidates)
    page = max(1, min(page, max(1, -(-len(users) // per_page))))
    holders = [Holder(u, None, [_assignment_path(x, kind) if isinstance(x, AssignmentInfo)
                                else _override_path(x, field_id) for kind, x in candidates[u]])
               for u in users[(page - 1) * per_page: page * per_page]]
    _fill_details(session, snap, now, holders, (action, field_id))
    return FieldHolders(field_id, action, program, Page(holders, len(users), page, per_page),
                        counts)


def what_user_can_act(session: Session, snap: Snapshot, now: datetime, *, user_id: str,
                      program: str | None = None, action: str | None = None, page: int = 1,
                      per_page: int = 5, actions: Iterable[str] = ("view", "export", "disclose")
                      ) -> UserAccess:
    """What ``user_id`` can act on now, per program (``per_page`` programs a page) and action,
    fields grouped by field group, each with its paths."""
    row = session.execute(select(User.name, User.active).where(User.id == user_id)).first()
    if row is None:
        return UserAccess(user_id, None, False, False, Page([], 0, 1, per_page))
    name, active = row
    held = _held_paths(snap, now, user_id) if active and user_id in snap.active_users else []
    holder = Holder(user_id, name, held)
    _fill_details(session, snap, now, [holder], None)
    programs = sorted(snap.programs) if any(p.kind == ORGANIZATION_ROLE for p in held) else \
        sorted({p.program for p in held if p.program in snap.programs})
    if program:
        programs = [p for p in programs if p == program]
    wanted = [a for a in actions if action in (None, a)]
    per_page = max(1, min(per_page, 50))
    page = max(1, min(page, max(1, -(-len(programs) // per_page))))
    shown = programs[(page - 1) * per_page: page * per_page]
    sections = [(p, [_section(snap, p, a, held) for a in wanted]) for p in shown]
    return UserAccess(user_id, name, True, bool(active), Page(sections, len(programs), page,
                                                              per_page), held)


def explanation_facts(session: Session, snap: Snapshot, subject: str) -> Facts:
    """What a decision's trail needs beyond the snapshot, for ``subject``."""
    ids = [a.id for a in snap.assignments.get(subject, ())]
    return Facts(grant_patterns(snap, session), _origins(session, ids))


# The candidates, from the snapshot -------------------------------------------------------

Held = list[tuple[str, "AssignmentInfo | OverrideInfo"]]  # (path kind, what gives it)


def _field_candidates(snap: Snapshot, now: datetime, field_id: str, action: str,
                      program: str) -> dict[str, Held]:
    """user -> how they hold the field: rules 2 and 3 over the snapshot, reading only the
    assignments of the roles that grant it in the program (and organisation-wide)."""
    active = snap.active_users
    found: dict[str, Held] = {}
    index = assignments_by_role(snap)
    for role, scope in snap.role_scopes.items():
        kind = SCOPE_KIND.get(scope)
        if kind is None or field_id not in snap.grants.get((role, action), ()):
            continue
        for user, a in index.get((role, ANY_PROGRAM if kind == ORGANIZATION_ROLE else program),
                                 ()):
            if user in active and a.active(now):
                found.setdefault(user, []).append((kind, a))
    for user, overrides in snap.overrides.items():
        if user not in active:
            continue
        for o in overrides:
            if (o.active(now) and o.program == program and action in o.actions
                    and matches_any(field_id, o.fields)):
                found.setdefault(user, []).append(
                    (BREAK_GLASS if o.kind == BREAK_GLASS else OVERRIDE, o))
    return found


def _held_paths(snap: Snapshot, now: datetime, user_id: str) -> list[AccessPath]:
    """Every assignment of a live role and every override of ``user_id`` in force now."""
    paths = [_assignment_path(a, SCOPE_KIND[snap.role_scopes[a.role]])
             for a in snap.assignments.get(user_id, ())
             if a.active(now) and snap.role_scopes.get(a.role) in SCOPE_KIND]
    paths += [_override_path(o, None) for o in snap.overrides.get(user_id, ()) if o.active(now)]
    return sorted(paths, key=lambda p: (list(SCOPE_KIND.values()) + [OVERRIDE, BREAK_GLASS]
                                        ).index(p.kind))


def _section(snap: Snapshot, program: str, action: str, held: list[AccessPath]
             ) -> AccessSection:
    """The fields ``held`` opens for ``action`` in ``program``, grouped by field group and,
    within a group, by the paths that open them."""
    per_field: dict[str, list[AccessPath]] = defaultdict(list)
    for path in held:
        if path.kind in (OVERRIDE, BREAK_GLASS):
            if path.program != program or action not in path.actions:
                continue
            fields = expand(path.patterns, snap.field_ids)[0]
        else:
            if path.kind != ORGANIZATION_ROLE and path.program != program:
                continue
            fields = snap.grants.get((path.role, action), ())
        for f in fields:
            per_field[f].append(path)
    groups: dict[tuple[str, tuple], list[str]] = defaultdict(list)
    for f in sorted(per_field):
        groups[(f.split(".", 1)[0], tuple(p.key for p in per_field[f]))].append(f)
    in_group = group_sizes(snap)
    rows = [FieldRow(group, fields, len(fields) == in_group[group], per_field[fields[0]])
            for (group, _), fields in sorted(groups.items(), key=lambda kv: (kv[0][0],
                                                                             kv[1][0]))]
    return AccessSection(program, action, rows)


def _assignment_path(a: AssignmentInfo, kind: str) -> AccessPath:
    return AccessPath(kind, f"assignment:{a.id}", role=a.role, program=a.program,
                      until=a.valid_until)


def _override_path(o: OverrideInfo, field_id: str | None) -> AccessPath:
    kind = BREAK_GLASS if o.kind == BREAK_GLASS else OVERRIDE
    patterns = o.fields if field_id is None else tuple(
        p for p in o.fields if field_match(field_id, p))
    return AccessPath(kind, f"{o.kind}:{o.id}", program=o.program, patterns=patterns,
                      until=o.valid_until, participants=(o.participant,) if o.participant
                      else (), participant_count=1 if o.participant else 0,
                      actions=o.actions)


# Details of the page shown, from the store ------------------------------------------------

def _fill_details(session: Session, snap: Snapshot, now: datetime, holders: list[Holder],
                  granting: tuple[str, str] | None) -> None:
    """Names, assignment origins, case involvements of ``holders`` and, for one ``granting``
    (action, field), the patterns of each role's grant that match the field."""
    if not holders:
        return
    users = [h.user for h in holders]
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(users))).all())
    paths = [p for h in holders for p in h.paths]
    assignment_ids = [int(p.ref.partition(":")[2]) for p in paths
                      if p.ref.startswith("assignment:")]
    origins = _origins(session, assignment_ids)
    patterns = grant_patterns(snap, session)
    for h in holders:
        h.name = names.get(h.user, h.name)
        for p in h.paths:
            if p.ref.startswith("assignment:"):
                origin = origins.get(int(p.ref.partition(":")[2]))
                if origin is not None:
                    p.source, p.group = origin.source, origin.group
                if granting is not None and p.role is not None:
                    action, field_id = granting
                    p.patterns = tuple(x for x in patterns.get((p.role, action), ())
                                       if field_match(field_id, x))
            if p.kind == CASE_ROLE:
                on = active_cases(snap, now, h.user, p.program)
                p.participants = tuple(on[:PARTICIPANTS_SHOWN])
                p.participant_count = len(on)


def _origins(session: Session, ids: list) -> dict[object, Origin]:
    if not ids:
        return {}
    return {aid: Origin(source, directory_group(source, reason)) for aid, source, reason in
            session.execute(select(RoleAssignment.id, RoleAssignment.source,
                                   RoleAssignment.reason).where(RoleAssignment.id.in_(ids)))}


def _users_matching(session: Session, text: str) -> set[str]:
    """Users whose id or name contains ``text`` (any case)."""
    needle = text.strip().lower()
    return set(session.scalars(select(User.id).where(or_(
        func.lower(User.id).contains(needle, autoescape=True),
        func.lower(func.coalesce(User.name, "")).contains(needle, autoescape=True)))))


def _directory_assignments(session: Session, snap: Snapshot, field_id: str, action: str
                           ) -> set[int]:
    """Ids of the live directory-made assignments of the roles granting the field."""
    roles = [r for r in snap.role_scopes if field_id in snap.grants.get((r, action), ())]
    if not roles:
        return set()
    return set(session.scalars(
        select(RoleAssignment.id).where(RoleAssignment.source == DIRECTORY,
                                        RoleAssignment.ended_at.is_(None),
                                        RoleAssignment.role_id.in_(roles))))
