"""The compiled policy: everything a decision needs, indexed for one request at a time.

Casbin's ``p`` lines (the role matrix) are expanded against the field catalogue once, so a
decision looks up ``(role, action) -> field ids`` instead of scanning policy lines per field.
The snapshot is rebuilt when ``policy_state.revision`` moves.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import (
    Bundle,
    Consent,
    Enrollment,
    Escalation,
    Field,
    Involvement,
    Override,
    Participant,
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


@dataclass(frozen=True, slots=True)
class FieldInfo:
    id: str
    sensitivity: str
    labels: frozenset[str]


@dataclass(frozen=True, slots=True)
class PartnerInfo:
    id: str
    name: str
    type: str
    standard: bool
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BundleInfo:
    id: str
    purpose: str
    partner_types: frozenset[str]
    releasable: frozenset[str]
    prohibited: frozenset[str]


@dataclass(frozen=True, slots=True)
class Window:
    """A time-bounded row (assignment, involvement, override, escalation)."""

    id: object
    valid_from: datetime | None
    valid_until: datetime | None

    def active(self, now: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until)


@dataclass(frozen=True, slots=True)
class AssignmentInfo(Window):
    role: str = ""
    program: str | None = None


@dataclass(frozen=True, slots=True)
class InvolvementInfo(Window):
    program: str = ""


@dataclass(frozen=True, slots=True)
class OverrideInfo(Window):
    kind: str = "override"
    program: str = ""
    participant: str | None = None
    fields: tuple[str, ...] = ()
    actions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class EscalationInfo(Window):
    recipient: str | None = None
    purpose: str = ""
    action: str = "disclose"
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsentInfo(Window):
    partners: frozenset[str] = frozenset()
    partner_types: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    fields: tuple[str, ...] = ()
    exclude_labels: frozenset[str] = frozenset()

    def for_recipient(self, partner: PartnerInfo) -> bool:
        return partner.id in self.partners or partner.type in self.partner_types


@dataclass
class Snapshot:
    revision: int
    version: str
    fields: dict[str, FieldInfo]
    field_ids: tuple[str, ...]
    programs: frozenset[str]
    purposes: dict[str, str]  # purpose id -> basis
    partners: dict[str, PartnerInfo]
    bundles: dict[str, BundleInfo]
    role_scopes: dict[str, str]
    grants: dict[tuple[str, str], frozenset[str]]  # (role, action) -> field ids
    active_users: frozenset[str]
    assignments: dict[str, list[AssignmentInfo]]
    enrollments: dict[str, frozenset[str]]
    involvements: dict[tuple[str, str], list[InvolvementInfo]]
    consents: dict[str, list[ConsentInfo]]
    overrides: dict[str, list[OverrideInfo]]
    escalations: dict[tuple[str, str], list[EscalationInfo]]
    escalation_ids: frozenset[str] = field(default_factory=frozenset)
    _expanded: dict = field(default_factory=dict, repr=False)

    def expand(self, requested: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """Field ids the requested ids/patterns name, and those naming no catalogued field."""
        hit = self._expanded.get(requested)
        if hit is None:
            hit = patterns.expand(requested, self.field_ids)
            if len(self._expanded) < 10_000:  # bounded: callers control the keys
                self._expanded[requested] = hit
        return hit


def read_state(session: Session) -> tuple[int, str]:
    row = session.execute(select(PolicyState.revision, PolicyState.version)).first()
    return (row[0], row[1]) if row else (0, "")


def build_snapshot(session: Session) -> Snapshot:
    """Read the whole policy from the store and compile it."""
    revision, version = read_state(session)
    fields = {
        f.id: FieldInfo(f.id, f.sensitivity, frozenset(f.labels or ()))
        for f in session.scalars(select(Field).where(Field.retired_at.is_(None)))
    }
    field_ids = tuple(sorted(fields))
    roles = {r.id: r.scope for r in session.scalars(select(Role).where(Role.retired_at.is_(None)))}
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
        active_users=frozenset(session.scalars(select(User.id).where(User.active.is_(True)))),
        assignments=_assignments(session),
        enrollments=_enrollments(session),
        involvements=_involvements(session),
        consents=_consents(session),
        overrides=_overrides(session),
        escalations=_escalations(session),
        escalation_ids=frozenset(session.scalars(select(Escalation.id))),
    )


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


def _assignments(session: Session) -> dict[str, list[AssignmentInfo]]:
    out: dict[str, list[AssignmentInfo]] = defaultdict(list)
    for a in session.scalars(select(RoleAssignment).where(RoleAssignment.ended_at.is_(None))):
        out[a.user_id].append(AssignmentInfo(a.id, a.valid_from, a.valid_until, a.role_id,
                                             a.program_id))
    return dict(out)


def _enrollments(session: Session) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        select(Enrollment.participant_id, Enrollment.program_id)
        .join(Participant, Participant.id == Enrollment.participant_id)
        .where(Enrollment.ended_at.is_(None)))
    for participant, program in rows:
        out[participant].add(program)
    return {k: frozenset(v) for k, v in out.items()}


def _involvements(session: Session) -> dict[tuple[str, str], list[InvolvementInfo]]:
    out: dict[tuple[str, str], list[InvolvementInfo]] = defaultdict(list)
    for i in session.scalars(select(Involvement).where(Involvement.ended_at.is_(None))):
        out[(i.user_id, i.participant_id)].append(
            InvolvementInfo(i.id, i.valid_from, i.valid_until, i.program_id))
    return dict(out)


def _consents(session: Session) -> dict[str, list[ConsentInfo]]:
    out: dict[str, list[ConsentInfo]] = defaultdict(list)
    rows = session.scalars(
        select(Consent).where(Consent.ended_at.is_(None), Consent.status == "active"))
    for c in rows:
        out[c.participant_id].append(ConsentInfo(
            c.id, c.valid_from, c.valid_until, frozenset(c.partners or ()),
            frozenset(c.partner_types or ()), frozenset(c.purposes or ()),
            tuple(c.fields or ()), frozenset(c.exclude_labels or ())))
    return dict(out)


def _overrides(session: Session) -> dict[str, list[OverrideInfo]]:
    out: dict[str, list[OverrideInfo]] = defaultdict(list)
    for o in session.scalars(select(Override).where(Override.status == "approved")):
        out[o.user_id].append(OverrideInfo(
            o.id, o.approved_at, o.expires_at, o.kind, o.program_id, o.participant_id,
            tuple(o.fields or ()), frozenset(o.actions or ())))
    return dict(out)


def _escalations(session: Session) -> dict[tuple[str, str], list[EscalationInfo]]:
    out: dict[tuple[str, str], list[EscalationInfo]] = defaultdict(list)
    for e in session.scalars(select(Escalation).where(Escalation.status == "approved")):
        out[(e.user_id, e.participant_id)].append(EscalationInfo(
            e.id, e.decided_at, e.expires_at, e.recipient_id, e.purpose_id, e.action,
            tuple(e.fields or ())))
    return dict(out)
