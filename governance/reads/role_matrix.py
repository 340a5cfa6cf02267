"""Reading the role matrix (contract section 9): roles x catalogued fields for one action, and a
draft of cell changes checked against what the store holds now.

A draft is a set of cell changes (role, field, granted or not) made against one state of the
grants, named by ``MatrixState.base``: a digest of the action's grant lines and of the live
roles and fields. A draft whose base is no longer the store's is stale (someone changed the
grants since), and is refused rather than applied over changes its author never saw.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from governance.audit import canonical
from governance.errors import Conflict, Invalid
from governance.models import CasbinRule, Field, Program, Role, RoleAssignment, User
from governance.policy.matrix import ACTIONS, Rewrite, opened_by, rewrite

ORGANIZATION = "organization"


@dataclass(frozen=True)
class FieldRow:
    id: str
    group: str
    sensitivity: str
    labels: tuple[str, ...]
    description: str | None


@dataclass(frozen=True)
class RoleInfo:
    id: str
    name: str | None
    scope: str


@dataclass(frozen=True)
class CellChange:
    role: str
    field: str
    granted: bool  # True: the draft grants it, False: the draft takes it away


@dataclass
class MatrixState:
    """The grants of one action as the store holds them now."""

    action: str
    fields: dict[str, FieldRow]  # live fields, by id
    field_ids: tuple[str, ...]
    roles: dict[str, RoleInfo]  # live roles, by id
    patterns: dict[str, tuple[str, ...]]  # role -> its grant patterns for the action
    lines: dict[tuple[str, str], list[list[str]]]  # (role, pattern) -> its casbin lines
    base: str
    _sources: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    _opened: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def sources(self, role: str) -> dict[str, str]:
        """The fields ``role`` may act on now -> the grant that opens each: the field's own id
        when granted by id, else the first pattern that covers it."""
        if role not in self._sources:
            patterns = self.patterns.get(role, ())
            found = {p: p for p in patterns if p in self.fields}
            for pattern in patterns:
                if "*" in pattern:
                    for field_id in opened_by(pattern, self.field_ids):
                        found.setdefault(field_id, pattern)
            self._sources[role] = found
        return self._sources[role]

    def opened(self, role: str) -> frozenset[str]:
        """The fields ``role`` may act on now (through ids and patterns)."""
        if role not in self._opened:
            self._opened[role] = frozenset(self.sources(role))
        return self._opened[role]


def require_action(action: object) -> str:
    if action not in ACTIONS:
        raise Invalid.naming({"action": f"unknown action {str(action)[:40]!r}; one of "
                                        f"{', '.join(ACTIONS)}"})
    return str(action)


def load_state(session: Session, action: str) -> MatrixState:
    """The live roles and fields and the action's grant lines (any role's)."""
    action = require_action(action)
    fields = {row.id: FieldRow(row.id, row.id.split(".", 1)[0], row.sensitivity,
                               tuple(row.labels or ()), row.description)
              for row in session.execute(
                  select(Field.id, Field.sensitivity, Field.labels, Field.description)
                  .where(Field.retired_at.is_(None)).order_by(Field.id))}
    roles = {row.id: RoleInfo(row.id, row.name, row.scope) for row in session.execute(
        select(Role.id, Role.name, Role.scope).where(Role.retired_at.is_(None))
        .order_by(Role.id))}
    patterns: dict[str, list[str]] = defaultdict(list)
    lines: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for row in session.execute(
            select(CasbinRule.v0, CasbinRule.v1, CasbinRule.v2, CasbinRule.v3, CasbinRule.v4,
                   CasbinRule.v5)
            .where(CasbinRule.ptype == "p", CasbinRule.v2 == action)
            .order_by(CasbinRule.v0, CasbinRule.v1, CasbinRule.id)):
        values = list(row)
        while values and values[-1] == "":
            values.pop()
        if (row[0], row[1]) not in lines:
            patterns[row[0]].append(row[1])
        lines[(row[0], row[1])].append(values)
    base = hashlib.sha256(canonical({
        "action": action, "fields": list(fields), "roles": [[r.id, r.scope] for r in
                                                            roles.values()],
        "lines": sorted(v for vs in lines.values() for v in vs)}).encode()).hexdigest()[:20]
    return MatrixState(action, fields, tuple(fields), roles,
                       {r: tuple(p) for r, p in patterns.items()}, dict(lines), base)


def require_base(state: MatrixState, base: object) -> None:
    """The draft was made against the grants the store holds now (409 otherwise)."""
    if base != state.base:
        raise Conflict(f"The {state.action} grants changed since this draft was made "
                       "(someone applied other changes). Load the role matrix again, make "
                       "your changes there and review them again.", {"base": "stale"})


def check_names(state: MatrixState, roles: list[str], fields: list[str]) -> None:
    """Every role and field the draft names is live (400 naming the others)."""
    problems = {}
    unknown_roles = [r for r in dict.fromkeys(roles) if r not in state.roles]
    unknown_fields = [f for f in dict.fromkeys(fields) if f not in state.fields]
    if unknown_roles:
        problems["roles"] = "unknown role(s) " + ", ".join(repr(r[:64]) for r in
                                                           unknown_roles[:10])
    if unknown_fields:
        problems["fields"] = "unknown field(s) " + ", ".join(repr(f[:64]) for f in
                                                             unknown_fields[:10])
    if problems:
        raise Invalid.naming(problems)


def changes_from_grid(state: MatrixState, roles: list[str], fields: list[str],
                      checked: set[tuple[str, str]]) -> list[CellChange]:
    """The full grid as posted (the cells shown, those checked) -> what it changes."""
    check_names(state, roles + [r for r, _ in checked], fields + [f for _, f in checked])
    shown_roles, shown_fields = set(roles), set(fields)
    outside = sorted(c for c in checked if c[0] not in shown_roles or c[1] not in shown_fields)
    if outside:
        raise Invalid.naming({"grant": f"cell {' '.join(outside[0])!r} is not in the grid"})
    changes = []
    for role in dict.fromkeys(roles):
        now_open = state.sources(role)
        for field_id in dict.fromkeys(fields):
            wanted = (role, field_id) in checked
            if wanted != (field_id in now_open):
                changes.append(CellChange(role, field_id, wanted))
    return changes


def effective_changes(state: MatrixState, changes: list[CellChange]) -> list[CellChange]:
    """The changes that change something now, validated; one per cell (400 for a cell that
    is both granted and taken away)."""
    check_names(state, [c.role for c in changes], [c.field for c in changes])
    seen: dict[tuple[str, str], bool] = {}
    for c in changes:
        if seen.setdefault((c.role, c.field), c.granted) != c.granted:
            raise Invalid.naming({"changes": f"cell '{c.role} {c.field}' is both added and "
                                             "removed"})
    return sorted((c for c in changes if c.granted != (c.field in state.sources(c.role))),
                  key=lambda c: (c.role, c.field))


def rewrites(state: MatrixState, changes: list[CellChange]) -> list[Rewrite]:
    """Each role's grant patterns after the (effective) changes, for the roles they touch."""
    grant: dict[str, set[str]] = defaultdict(set)
    revoke: dict[str, set[str]] = defaultdict(set)
    for c in changes:
        (grant if c.granted else revoke)[c.role].add(c.field)
    out = []
    for role in sorted(set(grant) | set(revoke)):
        result = rewrite(role, state.patterns.get(role, ()), state.field_ids, grant[role],
                         revoke[role])
        if result.changed:
            out.append(result)
    return out


# -- the grid ---------------------------------------------------------------------------------

@dataclass
class Section:
    group: str
    fields: list[FieldRow]


@dataclass
class RoleColumn:
    id: str
    name: str | None
    scope: str
    holders: int


# One cell of the grid: (role, checked, the pattern that grants it or None when granted by its
# id or not at all, changed by the draft). Plain tuples: a 40 x 300 grid has 12,000.
Cell = tuple[str, bool, str | None, bool]


@dataclass
class Grid:
    state: MatrixState
    program: str | None
    group: str | None
    roles: list[RoleColumn]
    sections: list[Section]
    programs: list[tuple[str, str]]
    groups: list[str]
    changes: list[CellChange]
    _draft: dict[tuple[str, str], bool] = field(init=False, repr=False)
    _columns: list[tuple[str, dict[str, str]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._draft = {(c.role, c.field): c.granted for c in self.changes}
        self._columns = [(r.id, self.state.sources(r.id)) for r in self.roles]

    @property
    def field_ids(self) -> list[str]:
        return [f.id for section in self.sections for f in section.fields]

    def cells(self, field_id: str) -> Iterator[Cell]:
        """The field's cells, one per role shown, with the draft's changes drawn in."""
        draft = self._draft
        for role, sources in self._columns:
            source = sources.get(field_id)
            granted = source is not None
            wanted = draft.get((role, field_id), granted) if draft else granted
            yield (role, wanted, source if wanted and source != field_id else None,
                   wanted != granted)


def load_grid(session: Session, state: MatrixState, now: datetime, *, program: str | None = None,
              group: str | None = None, changes: list[CellChange] = ()) -> Grid:
    """The grid for ``state``'s action: every live role (with a program: the roles held there
    and the organisation-wide ones), the fields of ``group`` or all, with ``changes`` drawn in."""
    programs = list(program_names(session).items())
    if program is not None and program not in dict(programs):
        raise Invalid.naming({"program": f"unknown program {program[:64]!r}"})
    groups = list(dict.fromkeys(f.group for f in state.fields.values()))
    if group is not None and group not in groups:
        raise Invalid.naming({"group": f"unknown field group {group[:64]!r}"})
    holders = holder_counts(session, now, program, [r.id for r in state.roles.values()
                                                    if r.scope == ORGANIZATION])
    roles = [RoleColumn(r.id, r.name, r.scope, holders.get(r.id, 0))
             for r in state.roles.values()
             if program is None or r.scope == ORGANIZATION or r.id in holders]
    sections: dict[str, Section] = {}
    for f in state.fields.values():
        if group is None or f.group == group:
            sections.setdefault(f.group, Section(f.group, [])).fields.append(f)
    return Grid(state, program, group, roles, list(sections.values()), programs, groups,
                list(changes))


def program_names(session: Session) -> dict[str, str]:
    """Live programs: id -> name, by id."""
    return dict(session.execute(select(Program.id, Program.name).where(
        Program.retired_at.is_(None)).order_by(Program.id)).all())


def holder_counts(session: Session, now: datetime, program: str | None,
                  everywhere: Collection[str] = ()) -> dict[str, int]:
    """Active users holding each role now (in ``program``, if given, or through one of the
    organisation-wide roles ``everywhere``)."""
    where = [RoleAssignment.ended_at.is_(None), live_window(RoleAssignment, now),
             User.active.is_(True)]
    if program is not None:
        where.append(or_(RoleAssignment.program_id == program,
                         RoleAssignment.role_id.in_(sorted(everywhere))))
    rows = session.execute(
        select(RoleAssignment.role_id, func.count(func.distinct(RoleAssignment.user_id)))
        .join(User, User.id == RoleAssignment.user_id)
        .where(*where).group_by(RoleAssignment.role_id))
    return dict(rows.all())


def live_window(model, now: datetime):
    return and_(or_(model.valid_from.is_(None), model.valid_from <= now),
                or_(model.valid_until.is_(None), model.valid_until > now))
