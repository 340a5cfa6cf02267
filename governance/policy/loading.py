"""Fill and patch the Snapshot from the store (plain column tuples: fast at scale).

Each per-person slice (assignments, involvements, consents, ...) has a loader that reads either
everything or only the given keys, so a change to one participant's consent reloads just that
participant's consents.
"""
from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Collection
from functools import lru_cache

from sqlalchemy import Text, cast, literal, or_, select, true
from sqlalchemy.orm import Session

from governance.models import (
    ApiKey,
    Bundle,
    Consent,
    Enrollment,
    Escalation,
    Field,
    Involvement,
    Override,
    Partner,
    PolicyState,
    Program,
    Purpose,
    Role,
    RoleAssignment,
    User,
)
from governance.policy import patterns
from governance.policy.enforcer import new_enforcer
from governance.policy.snapshot import (
    AssignmentInfo,
    BundleInfo,
    ConsentInfo,
    EscalationInfo,
    FieldInfo,
    InvolvementInfo,
    KeyInfo,
    OverrideInfo,
    PartnerInfo,
    Snapshot,
)

Keys = Collection[str] | None  # None: everything


# One object per distinct value: a county-size snapshot repeats the same dates, ids and label
# sets hundreds of thousands of times, and sharing them keeps a worker's memory near the size of
# the distinct data. ``_same(v, v)`` (dict.setdefault, called from C) is the cheapest way.
_SHARED: dict = {}
_same = _SHARED.setdefault


def read_state(session: Session) -> tuple[int, str]:
    row = session.execute(select(PolicyState.revision, PolicyState.version)).first()
    return (row[0], row[1]) if row else (0, "")


def build_snapshot(session: Session) -> Snapshot:
    """Read the whole policy from the store and compile it."""
    revision, version = read_state(session)
    fields = {fid: FieldInfo(fid, sensitivity, frozenset(labels or ()))
              for fid, sensitivity, labels in session.execute(
                  select(Field.id, Field.sensitivity, Field.labels)
                  .where(Field.retired_at.is_(None)))}
    field_ids = tuple(sorted(fields))
    roles = dict(session.execute(select(Role.id, Role.scope).where(Role.retired_at.is_(None)))
                 .all())
    return Snapshot(
        revision=revision,
        version=version,
        fields=fields,
        field_ids=field_ids,
        programs=frozenset(session.scalars(select(Program.id).where(Program.retired_at.is_(None)))),
        purposes=dict(session.execute(
            select(Purpose.id, Purpose.basis).where(Purpose.retired_at.is_(None))).all()),
        partners=_partners(session),
        bundles=_bundles(session, field_ids),
        role_scopes=roles,
        grants=compile_grants(session, field_ids, roles),
        active_users=load_active_users(session, None),
        assignments=load_assignments(session, None),
        enrollments=load_enrollments(session, None),
        involvements=load_involvements(session, None),
        consents=load_consents(session, None),
        overrides=load_overrides(session, None),
        escalations=load_escalations(session, None),
        escalation_ids=frozenset(session.scalars(select(Escalation.id))),
        api_keys=load_api_keys(session),
    )


def patch_snapshot(session: Session, snap: Snapshot, revision: int,
                   changes: dict[str, set[str]]) -> Snapshot:
    """A new snapshot with only the changed slices reloaded (the old one stays valid)."""
    updates: dict = {"revision": revision, "_expanded": snap._expanded}
    for scope, keys in changes.items():
        if scope == "users":
            fresh = load_active_users(session, keys)
            updates["active_users"] = (snap.active_users - frozenset(keys)) | fresh
        elif scope == "api_keys":
            updates["api_keys"] = load_api_keys(session)
        elif scope == "escalations":
            updates["escalations"] = _merge(snap.escalations, load_escalations(session, keys),
                                            keys, pair=True)
            updates["escalation_ids"] = frozenset(session.scalars(select(Escalation.id)))
        else:
            loader, pair = SLICES[scope]
            updates[scope] = _merge(getattr(snap, scope), loader(session, keys), keys, pair)
    return dataclasses.replace(snap, **updates)


def _merge(old: dict, fresh: dict, keys: Collection[str], pair: bool) -> dict:
    """``old`` with every entry of the changed keys replaced by what the store holds now.

    Pair-keyed slices ((user, participant)) are touched when either half is a changed key.
    """
    merged = dict(old)
    if pair:
        for k in [k for k in merged if k[0] in keys or k[1] in keys]:
            del merged[k]
    else:
        for k in keys:
            merged.pop(k, None)
    merged.update(fresh)
    return merged


def compile_grants(session: Session, field_ids: tuple[str, ...], roles: dict[str, str]
                   ) -> dict[tuple[str, str], frozenset[str]]:
    """Casbin's role matrix expanded to field ids: (role, action) -> fields."""
    enforcer = new_enforcer(session)
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    for role, pattern, action, *_ in enforcer.get_policy():
        if role in roles:
            by_key[(role, action)].update(_expand_one(pattern, field_ids))
    return {key: frozenset(ids) for key, ids in by_key.items()}


@lru_cache(maxsize=8192)
def _expand_one(pattern: str, field_ids: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(patterns.expand([pattern], field_ids)[0])


def _partners(session: Session) -> dict[str, PartnerInfo]:
    rows = session.scalars(select(Partner).where(Partner.retired_at.is_(None)))
    return {p.id: PartnerInfo(p.id, p.name, p.type, bool(p.standard), tuple(p.channels or ()))
            for p in rows}


def _bundles(session: Session, field_ids: tuple[str, ...]) -> dict[str, BundleInfo]:
    out = {}
    for b in session.scalars(select(Bundle).where(Bundle.retired_at.is_(None))):
        releasable, _ = patterns.expand(list(b.required or []) + list(b.optional or []), field_ids)
        prohibited, _ = patterns.expand(list(b.prohibited or []), field_ids)
        out[b.id] = BundleInfo(b.id, b.purpose_id, frozenset(b.partner_types or ()),
                               frozenset(releasable), frozenset(prohibited))
    return out


def _only(column, keys: Keys):
    return true() if keys is None else column.in_(list(keys))


def load_active_users(session: Session, keys: Keys) -> frozenset[str]:
    return frozenset(session.scalars(
        select(User.id).where(User.active.is_(True), _only(User.id, keys))))


def load_api_keys(session: Session) -> dict[str, KeyInfo]:
    rows = session.execute(select(ApiKey.prefix, ApiKey.name, ApiKey.digest, ApiKey.scopes)
                           .where(ApiKey.revoked_at.is_(None)))
    return {prefix: KeyInfo(name, digest, frozenset(scopes or ()))
            for prefix, name, digest, scopes in rows}


def load_assignments(session: Session, keys: Keys) -> dict[str, list[AssignmentInfo]]:
    out: dict[str, list[AssignmentInfo]] = defaultdict(list)
    for aid, user, role, program, start, end in session.execute(
            select(RoleAssignment.id, RoleAssignment.user_id, RoleAssignment.role_id,
                   RoleAssignment.program_id, RoleAssignment.valid_from,
                   RoleAssignment.valid_until)
            .where(RoleAssignment.ended_at.is_(None), _only(RoleAssignment.user_id, keys))):
        out[_same(user, user)].append(AssignmentInfo(
            aid, _same(start, start), _same(end, end), _same(role, role),
            _same(program, program)))
    return dict(out)


def load_enrollments(session: Session, keys: Keys) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for participant, program in session.execute(
            select(Enrollment.participant_id, Enrollment.program_id)
            .where(Enrollment.ended_at.is_(None), _only(Enrollment.participant_id, keys))):
        out[participant].add(program)
    return {_same(k, k): _shared_set(v) for k, v in out.items()}


def load_involvements(session: Session, keys: Keys
                      ) -> dict[tuple[str, str], list[InvolvementInfo]]:
    where = true() if keys is None else or_(Involvement.user_id.in_(list(keys)),
                                          Involvement.participant_id.in_(list(keys)))
    out: dict[tuple[str, str], list[InvolvementInfo]] = defaultdict(list)
    for iid, user, participant, program, start, end in session.execute(
            select(Involvement.id, Involvement.user_id, Involvement.participant_id,
                   Involvement.program_id, Involvement.valid_from, Involvement.valid_until)
            .where(Involvement.ended_at.is_(None), where)):
        key = (_same(user, user), _same(participant, participant))
        out[key].append(InvolvementInfo(iid, _same(start, start), _same(end, end),
                                        _same(program, program)))
    return dict(out)


def load_consents(session: Session, keys: Keys) -> dict[str, list[ConsentInfo]]:
    # The five list columns come back as one JSON text, parsed once per row: decoding each
    # JSON column separately costs most of a county-size cold start.
    lists = literal("[")
    for i, column in enumerate((Consent.partners, Consent.partner_types, Consent.purposes,
                                Consent.fields, Consent.exclude_labels)):
        lists = lists + (literal(",") if i else literal("")) + cast(column, Text)
    lists = lists + literal("]")
    out: dict[str, list[ConsentInfo]] = defaultdict(list)
    for cid, participant, start, end, packed in session.execute(
            select(Consent.id, Consent.participant_id, Consent.valid_from, Consent.valid_until,
                   lists)
            .where(Consent.ended_at.is_(None), Consent.status == "active",
                   _only(Consent.participant_id, keys))):
        partners, types, purposes, fields, excluded = json.loads(packed)
        out[_same(participant, participant)].append(ConsentInfo(
            cid, _same(start, start), _same(end, end), _shared_set(partners),
            _shared_set(types), _shared_set(purposes), _shared_tuple(fields),
            _shared_set(excluded)))
    return dict(out)


def _shared_set(values: list | None) -> frozenset:
    value = frozenset(values or ())
    return _same(value, value)


def _shared_tuple(values: list | None) -> tuple:
    value = tuple(values or ())
    return _same(value, value)


def load_overrides(session: Session, keys: Keys) -> dict[str, list[OverrideInfo]]:
    out: dict[str, list[OverrideInfo]] = defaultdict(list)
    for o in session.scalars(select(Override).where(Override.status == "approved",
                                                    _only(Override.user_id, keys))):
        out[o.user_id].append(OverrideInfo(
            o.id, o.approved_at, o.expires_at, o.kind, o.program_id, o.participant_id,
            tuple(o.fields or ()), frozenset(o.actions or ())))
    return dict(out)


def load_escalations(session: Session, keys: Keys
                     ) -> dict[tuple[str, str], list[EscalationInfo]]:
    where = true() if keys is None else or_(Escalation.user_id.in_(list(keys)),
                                          Escalation.participant_id.in_(list(keys)))
    out: dict[tuple[str, str], list[EscalationInfo]] = defaultdict(list)
    for e in session.scalars(select(Escalation).where(Escalation.status == "approved", where)):
        out[(e.user_id, e.participant_id)].append(EscalationInfo(
            e.id, e.decided_at, e.expires_at, e.recipient_id, e.purpose_id, e.action,
            tuple(e.fields or ())))
    return dict(out)


# Slices patched by reloading the changed keys: scope -> (loader, keyed by (user, participant)).
SLICES = {
    "assignments": (load_assignments, False),
    "enrollments": (load_enrollments, False),
    "involvements": (load_involvements, True),
    "consents": (load_consents, False),
    "overrides": (load_overrides, False),
}
