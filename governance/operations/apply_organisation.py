"""ApplyOrganisation: make the store match an org file, touching only what the file owns.

Runs in one transaction: on --dry-run (or any error) it rolls back, so a dry run reports exactly
the changes a real run would make, and a failed run writes nothing.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance import audit
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
from governance.operations.state import bump_revision
from governance.orgfile.export import policy_version
from governance.orgfile.schema import ConsentSpec, OrgSpec
from governance.policy.enforcer import new_enforcer

CHUNK = 1000
AUDIT_DETAIL_LIMIT = 500
Progress = Callable[[str, int], None]


@dataclass
class Change:
    section: str
    op: str  # create | update | retire | end | disable
    key: str
    detail: dict | None = None

    def __str__(self) -> str:
        extra = f"  {canonical(self.detail)}" if self.detail else ""
        return f"{self.op:8} {self.section:13} {self.key}{extra}"


@dataclass
class ApplyResult:
    changes: list[Change] = field(default_factory=list)
    version: str = ""
    dry_run: bool = False

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[f"{c.section}.{c.op}"] = counts.get(f"{c.section}.{c.op}", 0) + 1
        return counts


@dataclass
class ApplyOrganisation:
    spec: OrgSpec
    actor: str = "cli"
    dry_run: bool = False
    file_digest: str | None = None
    progress: Progress = lambda section, n: None
    now: datetime = field(default_factory=utcnow)

    def execute(self, session: Session) -> ApplyResult:
        self.session, self.result = session, ApplyResult(dry_run=self.dry_run)
        try:
            self._reconcile()
            session.flush()
            self.result.version = policy_version(session)
            if self.dry_run or not self.result.changes:
                session.rollback()
                return self.result
            bump_revision(session, version=self.result.version)
            audit.append(session, "org.applied", self._audit_payload(), actor=self.actor,
                         ref=self.result.version, at=self.now)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return self.result

    def _audit_payload(self) -> dict:
        changes = self.result.changes
        return {"file_sha256": self.file_digest, "policy_version": self.result.version,
                "summary": self.result.summary(),
                "changes": [c.__dict__ for c in changes[:AUDIT_DETAIL_LIMIT]],
                "changes_truncated": max(0, len(changes) - AUDIT_DETAIL_LIMIT)}

    def _record(self, section: str, op: str, key: str, detail: dict | None = None) -> None:
        self.result.changes.append(Change(section, op, key, detail))

    # -- the sections, in dependency order --------------------------------------------------
    def _reconcile(self) -> None:
        spec = self.spec
        self._catalogue(Program, "programs", {p.id: {"name": p.name} for p in spec.programs})
        self._catalogue(Field, "fields", {f.id: {"sensitivity": f.sensitivity,
                                                 "labels": list(f.labels),
                                                 "description": f.description}
                                          for f in spec.fields})
        self._catalogue(Purpose, "purposes", {p.id: {"basis": p.basis,
                                                     "description": p.description}
                                              for p in spec.purposes})
        self._catalogue(Partner, "partners", {p.id: {"name": p.name, "type": p.type,
                                                     "standard": p.standard,
                                                     "channels": list(p.channels),
                                                     "address": p.address}
                                              for p in spec.partners})
        self._catalogue(Role, "roles", {r.id: {
            "name": r.name, "description": r.description, "scope": r.scope,
            "elevated": r.elevated, "review_every_days": r.review_every_days,
            "approves": list(r.approves), "max_override_minutes": r.max_override_minutes,
            "eligible_overrides": [e.model_dump(exclude_none=True) for e in r.eligible_overrides],
        } for r in spec.roles})
        self._grants()
        self._catalogue(Bundle, "bundles", {b.id: {
            "purpose_id": b.purpose, "partner_types": list(b.partner_types),
            "required": list(b.required), "optional": list(b.optional),
            "prohibited": list(b.prohibited), "description": b.description,
        } for b in spec.bundles})
        self._group_roles()
        self._users()
        self._windowed(RoleAssignment, "assignments",
                       {(u.id, a.role, a.program, a.valid_from, a.valid_until): {
                           "user_id": u.id, "role_id": a.role, "program_id": a.program,
                           "valid_from": a.valid_from, "valid_until": a.valid_until}
                        for u in spec.users for a in u.roles},
                       key=lambda r: (r.user_id, r.role_id, r.program_id, r.valid_from,
                                      r.valid_until))
        self._participants()
        self._windowed(Enrollment, "enrollments",
                       {(p.id, program): {"participant_id": p.id, "program_id": program}
                        for p in spec.participants for program in p.programs},
                       key=lambda r: (r.participant_id, r.program_id))
        self._windowed(Involvement, "involvements",
                       {(i.user, i.participant, i.program, i.valid_from, i.valid_until): {
                           "user_id": i.user, "participant_id": i.participant,
                           "program_id": i.program, "valid_from": i.valid_from,
                           "valid_until": i.valid_until}
                        for i in spec.involvements},
                       key=lambda r: (r.user_id, r.participant_id, r.program_id, r.valid_from,
                                      r.valid_until))
        self._consents()

    def _catalogue(self, model, section: str, desired: dict[str, dict]) -> None:
        current = {row.id: row for row in self.session.scalars(select(model))}
        for key, attrs in desired.items():
            row = current.get(key)
            if row is None:
                self.session.add(model(id=key, source="file", **attrs))
                self._record(section, "create", key)
                continue
            diff = {k: v for k, v in attrs.items() if getattr(row, k) != v}
            if row.retired_at is not None or row.source != "file":
                diff.update(retired_at=None, source="file")
            if diff:
                for k, v in diff.items():
                    setattr(row, k, v)
                self._record(section, "update", key,
                             {k: v for k, v in diff.items() if k not in ("retired_at", "source")})
        for key, row in current.items():
            if key not in desired and row.source == "file" and row.retired_at is None:
                row.retired_at = self.now
                self._record(section, "retire", key)
        self.progress(section, len(desired))

    def _grants(self) -> None:
        """The role matrix goes through Casbin (and its adapter over this session)."""
        scopes = {r.id: r.scope for r in self.spec.roles}
        desired = {(r.id, pattern, action, r.scope)
                   for r in self.spec.roles
                   for action in ("view", "export", "disclose")
                   for pattern in getattr(r.grants, action)}
        owned = set(scopes) | set(self.session.scalars(
            select(Role.id).where(Role.source == "file")))
        current = {tuple(line.values()[:4]) for line in self.session.scalars(
            select(CasbinRule).where(CasbinRule.ptype == "p", CasbinRule.v0.in_(owned)))}
        enforcer = new_enforcer(self.session)
        stale, missing = sorted(current - desired), sorted(desired - current)
        if stale:
            enforcer.remove_policies([list(line) for line in stale])
        if missing:
            enforcer.add_policies([list(line) for line in missing])
        for line in stale:
            self._record("grants", "remove", " ".join(line))
        for line in missing:
            self._record("grants", "add", " ".join(line))

    def _group_roles(self) -> None:
        desired = {(g.group, g.role, g.program) for g in self.spec.directory.group_roles}
        rows = self.session.scalars(select(DirectoryGroupRole).where(
            DirectoryGroupRole.retired_at.is_(None)))
        current = {(r.group_dn, r.role_id, r.program_id): r for r in rows}
        for key in sorted(desired - set(current), key=str):
            self.session.add(DirectoryGroupRole(group_dn=key[0], role_id=key[1],
                                                program_id=key[2], source="file"))
            self._record("directory", "create", _key(key))
        for key, row in current.items():
            if key not in desired and row.source == "file":
                row.retired_at = self.now
                self._record("directory", "retire", _key(key))

    def _users(self) -> None:
        current = {u.id: u for u in self.session.scalars(select(User))}
        for spec in self.spec.users:
            attrs = {"name": spec.name, "email": spec.email, "active": spec.active}
            row = current.get(spec.id)
            if row is None:
                self.session.add(User(id=spec.id, source="file", **attrs))
                self._record("users", "create", spec.id)
                continue
            diff = {k: v for k, v in attrs.items() if getattr(row, k) != v}
            if diff or row.source != "file":
                for k, v in diff.items():
                    setattr(row, k, v)
                row.source = "file"
                self._record("users", "update", spec.id, diff or None)
        listed = {u.id for u in self.spec.users}
        for key, row in current.items():
            if key not in listed and row.source == "file" and row.active:
                row.active = False
                self._record("users", "disable", key)
        self.progress("users", len(self.spec.users))

    def _participants(self) -> None:
        existing = set(self.session.scalars(select(Participant.id)))
        new = [{"id": p.id, "source": "file", "created_at": self.now}
               for p in self.spec.participants if p.id not in existing]
        self._bulk_insert(Participant, "participants", new)
        for row in new:
            self._record("participants", "create", row["id"])

    def _windowed(self, model, section: str, desired: dict[tuple, dict], key) -> None:
        """Time-stamped rows: create what is missing, end what the file no longer lists."""
        rows = self.session.execute(select(model).where(
            model.ended_at.is_(None), model.source == "file")).scalars()
        current = {key(r): r.id for r in rows}
        new = [dict(attrs, source="file", created_at=self.now)
               for k, attrs in desired.items() if k not in current]
        stale = [row_id for k, row_id in current.items() if k not in desired]
        for k in desired.keys() - current.keys():
            self._record(section, "create", _key(k))
        for k in current.keys() - desired.keys():
            self._record(section, "end", _key(k))
        self._bulk_insert(model, section, new)
        self._end(model, stale)

    def _consents(self) -> None:
        desired = {consent_key(c): c for c in self.spec.consents}
        current = {c.id: c for c in self.session.scalars(select(Consent).where(
            Consent.ended_at.is_(None), Consent.source == "file"))}
        new = []
        for key, spec in desired.items():
            attrs = _consent_attrs(spec)
            row = current.get(key)
            if row is None:
                new.append(dict(attrs, id=key, source="file", created_at=self.now,
                                created_by=self.actor,
                                revoked_at=self.now if spec.status == "revoked" else None))
                self._record("consents", "create", key)
                continue
            diff = {k: v for k, v in attrs.items() if getattr(row, k) != v}
            if diff:
                if diff.get("status") == "revoked":
                    row.revoked_at, row.revoked_by = self.now, self.actor
                for k, v in diff.items():
                    setattr(row, k, v)
                row.version += 1
                self._record("consents", "update", key, _plain(diff))
        self._bulk_insert(Consent, "consents", new)
        stale = [key for key in current if key not in desired]
        for key in stale:
            self._record("consents", "end", key)
        self._end(Consent, stale)

    # -- bulk helpers -----------------------------------------------------------------------
    def _bulk_insert(self, model, section: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start:start + CHUNK]
            # Core, not ORM: no primary keys to fetch back, so the driver batches the rows.
            self.session.connection().execute(model.__table__.insert(), chunk)
            self.progress(section, len(chunk))

    def _end(self, model, ids: Iterable) -> None:
        ids = list(ids)
        pk = model.__mapper__.primary_key[0]
        values: dict = {"ended_at": self.now}
        if hasattr(model, "ended_by"):
            values["ended_by"] = self.actor
        for start in range(0, len(ids), CHUNK):
            self.session.execute(update(model).where(pk.in_(ids[start:start + CHUNK]))
                                 .values(**values))


def consent_key(spec: ConsentSpec) -> str:
    """A declared id, or one derived from the consent's content (so re-applying matches)."""
    if spec.id:
        return spec.id
    digest = hashlib.sha256(canonical(_plain(_consent_attrs(spec))).encode()).hexdigest()
    return f"cns_{digest[:24]}"


def _consent_attrs(spec: ConsentSpec) -> dict:
    return {"participant_id": spec.participant, "partners": list(spec.partners),
            "partner_types": list(spec.partner_types), "purposes": list(spec.purposes),
            "fields": list(spec.fields), "exclude_labels": list(spec.exclude_labels),
            "valid_from": spec.valid_from, "valid_until": spec.valid_until,
            "status": spec.status}


def _plain(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _key(parts: tuple) -> str:
    return " ".join("-" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p))
                    for p in parts)
