"""Read an organisation file and check it whole, listing every problem with its path."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable

import yaml
from pydantic import ValidationError

from governance.errors import Invalid
from governance.jsontext import unique_members
from governance.orgfile.schema import OrgSpec, Windowed
from governance.policy import patterns
from governance.policy.vocabulary import BUILTIN_PURPOSES


class OrgFileError(Invalid):
    SHOWN = 200  # a generated file can be wrong thousands of times; the first ones tell enough

    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:self.SHOWN]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        super().__init__(f"{len(errors)} error(s) in the organisation file:\n"
                         + "\n".join(shown) + more)


def load_text(text: str, name: str = "<file>") -> object:
    """Parse YAML or JSON (JSON is YAML, but try it first for exact error positions). A key
    given twice in one mapping is refused: both parsers would keep the last silently, so a
    second ``users:`` would replace the first and the apply end everyone it listed."""
    stripped = text.lstrip()
    try:
        if stripped.startswith("{"):
            return json.loads(text, object_pairs_hook=unique_members)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except (ValueError, yaml.YAMLError) as exc:  # JSONDecodeError and JsonError are ValueErrors
        raise OrgFileError([f"{name}: not valid YAML or JSON: {exc}"]) from None


MERGE_TAG = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping that names one of its own keys twice (a key
    brought in by a ``<<`` merge may still be overridden, as YAML intends)."""

    def construct_mapping(self, node, deep=False):  # noqa: ANN001, ANN201 - PyYAML's hook
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark,
                    f"found the key {key!r} twice", key_node.start_mark)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def validate(data: object) -> OrgSpec:
    """The checked organisation, or OrgFileError listing every problem."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise OrgFileError(["(top level): must be a mapping of sections (programs, fields, ...)"])
    try:
        spec = OrgSpec.model_validate(data)
    except ValidationError as exc:
        raise OrgFileError(pydantic_errors(exc)) from None
    errors = list(_references(spec))
    if errors:
        raise OrgFileError(errors)
    return spec


def pydantic_errors(exc: ValidationError) -> list[str]:
    """Each problem as ``path: message`` (``roles[2].scope: Input should be ...``)."""
    return [_pydantic_error(e) for e in exc.errors()]


def _pydantic_error(error: dict) -> str:
    path = _path(error["loc"])
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "literal_error":
        message = f"{message}, got {error.get('input')!r}"
    return f"{path}: {message}"


def _path(loc: Iterable) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("date", "datetime") or "[" in str(part):
            continue  # pydantic's union-branch names are noise in a path
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _references(spec: OrgSpec) -> Iterable[str]:
    """Every cross-reference and pattern must resolve inside the file."""
    yield from _duplicates(spec)
    field_ids = tuple(sorted(f.id for f in spec.fields))
    programs = {p.id for p in spec.programs}
    purposes = set(BUILTIN_PURPOSES) | {p.id for p in spec.purposes}
    roles = {r.id: r for r in spec.roles}
    partners = {p.id for p in spec.partners}
    participants = {p.id: set(p.programs) for p in spec.participants}
    users = {u.id for u in spec.users}

    names_fields: dict[str, bool] = {}  # pattern -> matches a field (asked ~10^5 times)

    def pattern_errors(path: str, values: list[str]) -> Iterable[str]:
        for i, value in enumerate(values):
            ok = names_fields.get(value)
            if ok is None:
                ok = patterns.is_pattern(value) and bool(patterns.expand([value], field_ids)[0])
                names_fields[value] = ok
            if not ok:
                yield f"{path}[{i}]: unknown field pattern '{value}'"

    def assignment_errors(path: str, role_id: str, program: str | None) -> Iterable[str]:
        role = roles.get(role_id)
        if role is None:
            yield f"{path}.role: unknown role '{role_id}'"
        elif role.scope == "organization" and program is not None:
            yield f"{path}.program: role '{role_id}' has organization scope; omit the program"
        elif role.scope != "organization" and program is None:
            yield f"{path}.program: required for {role.scope}-scope role '{role_id}'"
        if program is not None and program not in programs:
            yield f"{path}.program: unknown program '{program}'"

    for i, f in enumerate(spec.fields):
        if not patterns.is_field_id(f.id):
            yield f"fields[{i}].id: '{f.id}' is not a field id (lowercase 'group.name')"
    for i, p in enumerate(spec.purposes):
        if p.id in BUILTIN_PURPOSES:
            yield f"purposes[{i}].id: '{p.id}' is built in and cannot be redefined"
    for i, r in enumerate(spec.roles):
        for action in ("view", "export", "disclose"):
            yield from pattern_errors(f"roles[{i}].grants.{action}", getattr(r.grants, action))
        for j, e in enumerate(r.eligible_overrides):
            yield from pattern_errors(f"roles[{i}].eligible_overrides[{j}].fields", e.fields)
    for i, u in enumerate(spec.users):
        for j, a in enumerate(u.roles):
            yield from assignment_errors(f"users[{i}].roles[{j}]", a.role, a.program)
            yield from _window(f"users[{i}].roles[{j}]", a)
    for i, p in enumerate(spec.participants):
        for j, program in enumerate(p.programs):
            if program not in programs:
                yield f"participants[{i}].programs[{j}]: unknown program '{program}'"
    for i, inv in enumerate(spec.involvements):
        path = f"involvements[{i}]"
        if inv.user not in users:
            yield f"{path}.user: unknown user '{inv.user}'"
        if inv.participant not in participants:
            yield f"{path}.participant: unknown participant '{inv.participant}'"
        elif inv.program not in participants[inv.participant]:
            yield (f"{path}.program: participant '{inv.participant}' is not enrolled in "
                   f"'{inv.program}'")
        if inv.program not in programs:
            yield f"{path}.program: unknown program '{inv.program}'"
        yield from _window(path, inv)
    for i, b in enumerate(spec.bundles):
        if b.purpose not in purposes:
            yield f"bundles[{i}].purpose: unknown purpose '{b.purpose}'"
        for part in ("required", "optional", "prohibited"):
            yield from pattern_errors(f"bundles[{i}].{part}", getattr(b, part))
    for i, c in enumerate(spec.consents):
        path = f"consents[{i}]"
        if c.participant not in participants:
            yield f"{path}.participant: unknown participant '{c.participant}'"
        if not c.partners and not c.partner_types:
            yield f"{path}: name the recipients with partners and/or partner_types"
        for j, partner in enumerate(c.partners):
            if partner not in partners:
                yield f"{path}.partners[{j}]: unknown partner '{partner}'"
        for j, purpose in enumerate(c.purposes):
            if purpose not in purposes:
                yield f"{path}.purposes[{j}]: unknown purpose '{purpose}'"
        yield from pattern_errors(f"{path}.fields", c.fields)
        yield from _window(path, c)
    for i, g in enumerate(spec.directory.group_roles):
        yield from assignment_errors(f"directory.group_roles[{i}]", g.role, g.program)


def _window(path: str, item: Windowed) -> Iterable[str]:
    if item.valid_from and item.valid_until and item.valid_until <= item.valid_from:
        yield f"{path}.until: must be after from"


def _duplicates(spec: OrgSpec) -> Iterable[str]:
    for section in ("programs", "fields", "purposes", "roles", "users", "participants",
                    "partners", "bundles", "consents"):
        ids = [getattr(item, "id", None) for item in getattr(spec, section)]
        counts = Counter(i for i in ids if i is not None)
        for index, item_id in enumerate(ids):
            if item_id is not None and counts[item_id] > 1:
                yield f"{section}[{index}].id: duplicate id '{item_id}'"
