"""The current organisation as an org file, and the policy version derived from it."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.audit import canonical
from governance.clock import utcnow
from governance.models import (
    Bundle,
    CasbinRule,
    Consent,
    DirectoryGroupRole,
    Enrollment,
    Field,
    Involvement,
    Participant,
    Partner,
    Program,
    Purpose,
    Role,
    RoleAssignment,
    User,
)

# The sections that make up the policy rules; per-person data (users, participants, case work,
# consents) changes daily and is reconstructed from its time-stamped history instead.
POLICY_SECTIONS = ("programs", "fields", "purposes", "roles", "partners", "bundles", "directory")


def export_org(session: Session) -> dict:
    """Everything currently in force, in the org file's shape (deterministic order)."""
    org = export_policy(session)
    org["users"] = _users(session)
    org["participants"] = _participants(session)
    org["involvements"] = [
        _dated({"user": i.user_id, "participant": i.participant_id, "program": i.program_id},
               i.valid_from, i.valid_until)
        for i in session.scalars(select(Involvement).where(Involvement.ended_at.is_(None))
                                 .order_by(Involvement.participant_id, Involvement.user_id,
                                           Involvement.id))]
    org["consents"] = [consent_terms(c) for c in session.scalars(
        select(Consent).where(Consent.ended_at.is_(None)).order_by(Consent.participant_id,
                                                                    Consent.id))]
    order = ("programs", "fields", "purposes", "roles", "users", "participants", "involvements",
             "partners", "bundles", "consents", "directory")
    return {key: org[key] for key in order}


def export_policy(session: Session) -> dict:
    live = {model: model.retired_at.is_(None) for model in (Program, Field, Purpose, Role,
                                                           Partner, Bundle, DirectoryGroupRole)}
    grants: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in session.scalars(select(CasbinRule).where(CasbinRule.ptype == "p")
                                .order_by(CasbinRule.v0, CasbinRule.v2, CasbinRule.v1)):
        grants[line.v0][line.v2].append(line.v1)
    return {
        "programs": [{"id": p.id, "name": p.name} for p in
                     session.scalars(select(Program).where(live[Program]).order_by(Program.id))],
        "fields": [_compact({"id": f.id, "sensitivity": f.sensitivity, "labels": f.labels,
                             "description": f.description})
                   for f in session.scalars(select(Field).where(live[Field]).order_by(Field.id))],
        "purposes": [_compact({"id": p.id, "basis": p.basis, "description": p.description})
                     for p in session.scalars(select(Purpose).where(
                         live[Purpose], Purpose.builtin.is_(False)).order_by(Purpose.id))],
        "roles": [_role(r, grants.get(r.id, {}))
                  for r in session.scalars(select(Role).where(live[Role]).order_by(Role.id))],
        "partners": [_compact({"id": p.id, "name": p.name, "type": p.type,
                               "standard": p.standard, "channels": p.channels,
                               "address": p.address})
                     for p in session.scalars(select(Partner).where(live[Partner])
                                              .order_by(Partner.id))],
        "bundles": [_compact({"id": b.id, "purpose": b.purpose_id,
                              "partner_types": b.partner_types, "required": b.required,
                              "optional": b.optional, "prohibited": b.prohibited,
                              "description": b.description})
                    for b in session.scalars(select(Bundle).where(live[Bundle])
                                             .order_by(Bundle.id))],
        "directory": {"group_roles": [
            _compact({"group": g.group_dn, "role": g.role_id, "program": g.program_id,
                      "authoritative": g.authoritative or None})
            for g in session.scalars(select(DirectoryGroupRole).where(live[DirectoryGroupRole])
                                     .order_by(DirectoryGroupRole.group_dn,
                                               DirectoryGroupRole.role_id))]},
    }


def policy_version(session: Session) -> str:
    """Content hash of the policy rules: the same content always gives the same version."""
    return hashlib.sha256(canonical(export_policy(session)).encode()).hexdigest()[:16]


def _role(r: Role, grants: dict[str, list[str]]) -> dict:
    return _compact({
        "id": r.id, "name": r.name, "description": r.description, "scope": r.scope,
        "elevated": r.elevated or None, "review_every_days": r.review_every_days,
        "approves": r.approves, "console": r.console,
        "max_override_minutes": r.max_override_minutes,
        "eligible_overrides": r.eligible_overrides,
        "grants": {a: sorted(grants.get(a, [])) for a in ("view", "export", "disclose")},
    })


def _users(session: Session) -> list[dict]:
    roles: dict[str, list[dict]] = defaultdict(list)
    for a in session.scalars(select(RoleAssignment).where(RoleAssignment.ended_at.is_(None))
                             .order_by(RoleAssignment.role_id, RoleAssignment.program_id,
                                       RoleAssignment.id)):
        roles[a.user_id].append(_dated(_compact({"role": a.role_id, "program": a.program_id}),
                                       a.valid_from, a.valid_until))
    return [_compact({"id": u.id, "name": u.name, "email": u.email,
                      "active": None if u.active else False, "roles": roles.get(u.id, [])})
            for u in session.scalars(select(User).order_by(User.id))]


def _participants(session: Session) -> list[dict]:
    programs: dict[str, list[str]] = defaultdict(list)
    for participant, program in session.execute(
            select(Enrollment.participant_id, Enrollment.program_id)
            .where(Enrollment.ended_at.is_(None)).order_by(Enrollment.program_id)):
        programs[participant].append(program)
    return [{"id": pid, "programs": programs.get(pid, [])}
            for pid in session.scalars(select(Participant.id).order_by(Participant.id))]


def consent_terms(c: Consent) -> dict:
    """A consent as the org file writes it."""
    body = _compact({"id": c.id, "participant": c.participant_id, "partners": c.partners,
                     "partner_types": c.partner_types, "purposes": c.purposes,
                     "fields": c.fields, "exclude_labels": c.exclude_labels,
                     "status": "revoked" if c.status == "revoked" else None})
    return _dated(body, c.valid_from, c.valid_until)


def _dated(body: dict, valid_from: datetime | None, valid_until: datetime | None) -> dict:
    """Write windows back the way people declare them: whole days as dates."""
    if valid_from is not None:
        body["from"] = (valid_from.date().isoformat() if valid_from.time() == time.min
                        else valid_from.isoformat() + "Z")
    if valid_until is not None:
        body["until"] = ((valid_until - timedelta(days=1)).date().isoformat()
                         if valid_until.time() == time.min else valid_until.isoformat() + "Z")
    return body


def _compact(body: dict) -> dict:
    return {k: v for k, v in body.items() if v not in (None, [], {})}


def consent_document(c: Consent, now: datetime | None = None) -> dict:
    """A consent as the API shows it: its terms plus where it stands at ``now``."""
    if c.status == "revoked":
        status = "revoked"
    elif c.ended_at is not None:
        status = "superseded"
    elif c.valid_until is not None and c.valid_until <= (now or utcnow()):
        status = "expired"
    else:
        status = "active"
    return {**consent_terms(c), "status": status, "version": c.version,
        "supersedes": c.supersedes, "needs_renewal": c.needs_renewal,
        "revoked_at": c.revoked_at.isoformat() + "Z" if c.revoked_at else None}
