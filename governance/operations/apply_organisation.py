"""ApplyOrganisation: make the store match an org file, touching only what the file owns.

Runs in one transaction: on --dry-run (or any error) it rolls back, so a dry run reports exactly
the changes a real run would make, and a failed run writes nothing.

What anything else ended (a consent revoked or amended through the API, an assignment an access
review revoked, an account an administrator or the directory disabled) stays ended even while
the file still lists it: the apply reports a conflict instead, and grants again only an entry
whose ``from`` is later than that end. Grant lines that the console's role matrix added or
removed stay so too (conflicts), until the file agrees or ``replace_console_edits`` is given.
Every change gets its own audit row.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from governance import audit
from governance.clock import utcnow
from governance.db import FILE
from governance.models import (
    Bundle,
    Enrollment,
    Field,
    Involvement,
    Partner,
    Program,
    Purpose,
    Role,
    RoleAssignment,
)
from governance.operations.apply_catalogue import CatalogueSections
from governance.operations.apply_people import PeopleSections
from governance.operations.apply_plan import ApplyResult, Change, PlanChanged
from governance.operations.state import bump_revision, provisioning_lock
from governance.orgfile.export import policy_version
from governance.orgfile.schema import OrgSpec

CHUNK = 1000
Progress = Callable[[str, int], None]


@dataclass
class ApplyOrganisation(CatalogueSections, PeopleSections):
    spec: OrgSpec
    actor: str = "cli"
    dry_run: bool = False
    file_digest: str | None = None
    # The plan_digest of the dry run a person reviewed: write only that plan (PlanChanged if
    # the store has moved on since, so the plan would differ).
    reviewed_plan: str | None = None
    progress: Progress = lambda section, n: None
    now: datetime = field(default_factory=utcnow)
    # The file's grants win over the role matrix's console edits (otherwise: conflicts).
    replace_console_edits: bool = False

    def execute(self, session: Session) -> ApplyResult:
        self.session, self.result = session, ApplyResult(dry_run=self.dry_run)
        try:
            provisioning_lock(session)  # never beside a directory sync
            self._reconcile()
            session.flush()
            self.result.version = policy_version(session)
            if self.reviewed_plan is not None and not self.dry_run \
                    and self.result.plan_digest() != self.reviewed_plan:
                self.result.dry_run = True
                raise PlanChanged(self.result)
            if self.dry_run or not self.result.changes:
                session.rollback()
                return self.result
            bump_revision(session, version=self.result.version)
            self._audit()
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return self.result

    def _audit(self) -> None:
        """One row per change and per conflict, naming the item and the file, then the
        summary."""
        cause = {"file_sha256": self.file_digest, "policy_version": self.result.version}
        rows = [audit.new_row("org.change", {**c.__dict__, **cause}, actor=self.actor,
                              subject=c.subject, participant=c.participant,
                              ref=self.result.version, at=self.now)
                for c in self.result.changes]
        rows += [audit.new_row("org.conflict", {"conflict": line, **cause}, actor=self.actor,
                               ref=self.result.version, at=self.now)
                 for line in self.result.conflicts]
        rows.append(audit.new_row("org.applied", {
            **cause, "summary": self.result.summary(), "changes": len(self.result.changes),
            "conflicts": len(self.result.conflicts)},
            actor=self.actor, ref=self.result.version, at=self.now))
        audit.append_rows(self.session, rows)

    def _record(self, section: str, op: str, key: str, detail: dict | None = None, *,
                subject: str | None = None, participant: str | None = None) -> None:
        self.result.changes.append(Change(section, op, key, detail, subject, participant))

    def _conflict(self, what: str, ended: str) -> None:
        self.result.conflicts.append(f"conflict: {what} {ended}")

    @property
    def _file_reason(self) -> str:
        digest = f" (sha256 {self.file_digest[:12]})" if self.file_digest else ""
        return f"no longer in the organisation file{digest}"

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
            "approves": list(r.approves), "console": list(r.console),
            "max_override_minutes": r.max_override_minutes,
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
                                      r.valid_until),
                       identity=lambda k: k[:3], what="assignment",
                       who=lambda k: (k[0], None))
        self._participants()
        self._windowed(Enrollment, "enrollments",
                       {(p.id, program): {"participant_id": p.id, "program_id": program}
                        for p in spec.participants for program in p.programs},
                       key=lambda r: (r.participant_id, r.program_id),
                       who=lambda k: (None, k[0]))
        self._windowed(Involvement, "involvements",
                       {(i.user, i.participant, i.program, i.valid_from, i.valid_until): {
                           "user_id": i.user, "participant_id": i.participant,
                           "program_id": i.program, "valid_from": i.valid_from,
                           "valid_until": i.valid_until}
                        for i in spec.involvements},
                       key=lambda r: (r.user_id, r.participant_id, r.program_id, r.valid_from,
                                      r.valid_until),
                       identity=lambda k: k[:3], what="involvement",
                       who=lambda k: (k[0], k[1]))
        self._consents()

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
        if hasattr(model, "ended_via"):
            values.update(ended_by=self.actor, ended_via=FILE, end_reason=self._file_reason)
        for start in range(0, len(ids), CHUNK):
            self.session.execute(update(model).where(pk.in_(ids[start:start + CHUNK]))
                                 .values(**values))
