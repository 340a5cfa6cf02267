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

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance import audit
from governance.audit import canonical
from governance.clock import iso, utcnow
from governance.db import CLI, FILE
from governance.errors import Conflict
from governance.models import (
    Bundle,
    CasbinRule,
    Consent,
    ConsoleGrantEdit,
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
from governance.operations.state import bump_revision, provisioning_lock
from governance.orgfile.export import policy_version
from governance.orgfile.schema import ConsentSpec, OrgSpec
from governance.policy.enforcer import new_enforcer

CHUNK = 1000
Progress = Callable[[str, int], None]


@dataclass
class Change:
    section: str
    op: str  # create | update | retire | end | disable | enable | add | remove
    key: str
    detail: dict | None = None
    subject: str | None = None  # the user it concerns, if any
    participant: str | None = None

    def __str__(self) -> str:
        extra = f"  {canonical(self.detail)}" if self.detail else ""
        return f"{self.op:8} {self.section:13} {self.key}{extra}"


@dataclass
class ApplyResult:
    changes: list[Change] = field(default_factory=list)
    # What the file still lists but something else ended: left ended (one line each).
    conflicts: list[str] = field(default_factory=list)
    version: str = ""
    dry_run: bool = False

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[f"{c.section}.{c.op}"] = counts.get(f"{c.section}.{c.op}", 0) + 1
        return counts

    def plan_digest(self) -> str:
        """A fingerprint of every change and conflict line: what a reviewer of the plan saw."""
        lines = [str(c) for c in self.changes] + self.conflicts
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class PlanChanged(Conflict):
    """The store changed since the plan was reviewed: the apply would now do something else.
    Nothing was written; ``result`` is the new plan (as a dry run)."""

    code = "plan_changed"

    def __init__(self, result: ApplyResult):
        super().__init__("the organisation changed since this plan was reviewed; review the "
                         "new plan before applying it")
        self.result = result


@dataclass
class ApplyOrganisation:
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

    def _catalogue(self, model, section: str, desired: dict[str, dict]) -> None:
        current = {row.id: row for row in self.session.scalars(select(model))}
        for key, attrs in desired.items():
            row = current.get(key)
            if row is None:
                self.session.add(model(id=key, source="file", **attrs))
                self._record(section, "create", key)
                continue
            if row.source == CLI:  # the first administrator's role: never the file's to change
                self._conflict(f"{section[:-1]} {key} belongs to the cli;",
                               "left as the cli keeps it")
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
        cli_roles = set(self.session.scalars(select(Role.id).where(Role.source == CLI)))
        scopes = {r.id: r.scope for r in self.spec.roles if r.id not in cli_roles}
        desired = {(r.id, pattern, action, r.scope)
                   for r in self.spec.roles if r.id in scopes
                   for action in ("view", "export", "disclose")
                   for pattern in getattr(r.grants, action)}
        owned = set(scopes) | set(self.session.scalars(
            select(Role.id).where(Role.source == "file")))
        current = {tuple(line.values()[:4]) for line in self.session.scalars(
            select(CasbinRule).where(CasbinRule.ptype == "p", CasbinRule.v0.in_(owned)))}
        enforcer = new_enforcer(self.session)
        stale, missing = sorted(current - desired), sorted(desired - current)
        stale, missing, replaced = self._console_edits(owned, desired, stale, missing)
        if stale:
            enforcer.remove_policies([list(line) for line in stale])
        if missing:
            enforcer.add_policies([list(line) for line in missing])
        for line in stale:
            self._record("grants", "remove", " ".join(line), replaced.get(line[:3]))
        for line in missing:
            self._record("grants", "add", " ".join(line), replaced.get(line[:3]))

    def _console_edits(self, owned: set[str], desired: set[tuple], stale: list[tuple],
                       missing: list[tuple]) -> tuple[list[tuple], list[tuple], dict]:
        """The role matrix's console edits outrank the file (contract sections 2 and 9): a
        grant line the console added stays although the file does not list it, one it
        removed stays removed although the file does, each reported as a conflict, unless
        ``replace_console_edits``. An edit the file now agrees with is settled (ended)."""
        edits = {(e.role_id, e.field_pattern, e.action): e for e in self.session.scalars(
            select(ConsoleGrantEdit).where(ConsoleGrantEdit.ended_at.is_(None),
                                           ConsoleGrantEdit.role_id.in_(sorted(owned))))}
        if not edits:
            return stale, missing, {}
        declared = {line[:3] for line in desired}
        for key, edit in sorted(edits.items()):
            if (key in declared) == (edit.op == "add"):
                edit.end(self.now, self.actor, FILE, "the organisation file now agrees")
                self._record("grants", "settle", f"{key[0]} {key[2]} {key[1]}",
                             {"console_edit": _edit_text(edit)})
        replaced: dict[tuple, dict] = {}

        def outranks(line: tuple, op: str) -> bool:
            edit = edits.get(line[:3])
            if edit is None or edit.op != op or edit.ended_at is not None:
                return False
            if self.replace_console_edits:
                edit.end(self.now, self.actor, FILE,
                         "replaced by the organisation file (--replace-console-edits)")
                replaced[line[:3]] = {"replaces_console_edit": _edit_text(edit)}
                return False
            left = "left granted" if op == "add" else "left removed"
            self._conflict(f"grant {line[0]} {line[2]} {line[1]} was "
                           f"{'added' if op == 'add' else 'removed'} in the console on "
                           f"{iso(edit.made_at)} by {edit.made_by};", left)
            return True

        return ([line for line in stale if not outranks(line, "add")],
                [line for line in missing if not outranks(line, "remove")], replaced)

    def _group_roles(self) -> None:
        desired = {(g.group, g.role, g.program, g.authoritative)
                   for g in self.spec.directory.group_roles}
        rows = self.session.scalars(select(DirectoryGroupRole).where(
            DirectoryGroupRole.retired_at.is_(None)))
        current = {(r.group_dn, r.role_id, r.program_id, bool(r.authoritative)): r
                   for r in rows}
        for key in sorted(desired - set(current), key=str):
            self.session.add(DirectoryGroupRole(group_dn=key[0], role_id=key[1],
                                                program_id=key[2], authoritative=key[3],
                                                source="file"))
            self._record("directory", "create",
                         _key(key[:3]) + (" authoritative" if key[3] else ""))
        for key, row in current.items():
            if key not in desired and row.source == "file":
                row.retired_at = self.now
                self._record("directory", "retire",
                             _key(key[:3]) + (" authoritative" if key[3] else ""))

    def _users(self) -> None:
        current = {u.id: u for u in self.session.scalars(select(User))}
        for spec in self.spec.users:
            row = current.get(spec.id)
            if row is None:
                row = User(id=spec.id, source=FILE, name=spec.name, email=spec.email)
                self.session.add(row)
                if not spec.active:
                    self._disable(row, "active: false in the organisation file")
                self._record("users", "create", spec.id, subject=spec.id)
                continue
            if row.source != FILE:
                self._conflict(f"user {spec.id} belongs to the {row.source};",
                               f"left as the {row.source} keeps it")
                continue
            diff = {k: v for k, v in (("name", spec.name), ("email", spec.email))
                    if getattr(row, k) != v}
            for k, v in diff.items():
                setattr(row, k, v)
            if spec.active and not row.active and row.disabled_via not in (None, FILE):
                self._conflict(f"user {spec.id} was disabled on {iso(row.disabled_at)} by "
                               f"{row.disabled_by} ({row.disabled_reason});", "left disabled")
            elif spec.active != row.active:
                diff["active"] = spec.active
                if spec.active:
                    row.active = True
                    row.disabled_at = row.disabled_by = row.disabled_via = None
                    row.disabled_reason = None
                else:
                    self._disable(row, "active: false in the organisation file")
            if diff:
                self._record("users", "update", spec.id, diff, subject=spec.id)
        listed = {u.id for u in self.spec.users}
        for key, row in current.items():
            if key not in listed and row.source == FILE and row.active:
                self._disable(row, self._file_reason)
                self._record("users", "disable", key, subject=key)
        self.progress("users", len(self.spec.users))

    def _disable(self, row: User, reason: str) -> None:
        row.active, row.disabled_at, row.disabled_by = False, self.now, self.actor
        row.disabled_via, row.disabled_reason = FILE, reason

    def _participants(self) -> None:
        existing = set(self.session.scalars(select(Participant.id)))
        new = [{"id": p.id, "source": "file", "created_at": self.now}
               for p in self.spec.participants if p.id not in existing]
        self._bulk_insert(Participant, "participants", new)
        for row in new:
            self._record("participants", "create", row["id"])

    def _windowed(self, model, section: str, desired: dict[tuple, dict], key, *,
                  who, identity=None, what: str = "") -> None:
        """Time-stamped rows: create what is missing, end what the file no longer lists.
        ``identity`` (the key without its window) finds what something else ended: such an
        entry is created again only if its ``from`` is later than that end."""
        rows = self.session.execute(select(model).where(
            model.ended_at.is_(None), model.source == FILE)).scalars()
        current = {key(r): r.id for r in rows}
        ended = self._ended_elsewhere(model, lambda r: identity(key(r))) if identity else {}
        new = []
        for k in sorted(desired.keys() - current.keys(), key=_key):
            attrs, end = desired[k], ended.get(identity(k)) if identity else None
            if end is not None and (attrs["valid_from"] is None
                                    or attrs["valid_from"] <= end.ended_at):
                self._conflict(f"{what} {_key(identity(k))} was ended on {iso(end.ended_at)} "
                               f"by {end.ended_by} ({end.end_reason});", "left ended")
                continue
            new.append(dict(attrs, source=FILE, created_at=self.now))
            subject, participant = who(k)
            self._record(section, "create", _key(k), subject=subject, participant=participant)
        stale = [row_id for k, row_id in current.items() if k not in desired]
        for k in sorted(current.keys() - desired.keys(), key=_key):
            subject, participant = who(k)
            self._record(section, "end", _key(k), subject=subject, participant=participant)
        self._bulk_insert(model, section, new)
        self._end(model, stale)

    def _ended_elsewhere(self, model, identity) -> dict[tuple, object]:
        """The latest end by anything but the file, per identity."""
        latest: dict[tuple, object] = {}
        for row in self.session.scalars(select(model).where(
                model.ended_at.is_not(None), model.ended_via != FILE)):
            ident = identity(row)
            if ident not in latest or latest[ident].ended_at < row.ended_at:
                latest[ident] = row
        return latest

    def _consents(self) -> None:
        desired = {consent_key(c): c for c in self.spec.consents}
        rows = {c.id: c for c in self.session.scalars(select(Consent).where(
            Consent.source == FILE))}
        new = []
        for key, spec in desired.items():
            attrs, row = _consent_attrs(spec), rows.get(key)
            if row is None:
                revoked = spec.status == "revoked"
                new.append(dict(attrs, id=key, source=FILE, created_at=self.now,
                                created_by=self.actor, revoked_at=self.now if revoked else None,
                                revoked_by=self.actor if revoked else None,
                                revoked_via=FILE if revoked else None))
                self._record("consents", "create", key, participant=spec.participant)
                continue
            ended = _ended_elsewhere(row)
            if ended is not None:
                moment, how = ended
                if spec.valid_from is None or spec.valid_from <= moment:
                    self._conflict(f"consent {key} of {row.participant_id} {how};",
                                   "left revoked" if row.ended_at is None else "left ended")
                    continue
            diff = {k: v for k, v in attrs.items() if getattr(row, k) != v}
            if ended is not None or row.ended_at is not None:  # granted anew, or listed again
                diff["status"] = spec.status
                row.ended_at = row.ended_by = row.ended_via = row.end_reason = None
                row.revoked_at = row.revoked_by = row.revoked_via = row.revoke_reason = None
            if diff:
                if diff.get("status") == "revoked":
                    row.revoked_at, row.revoked_by, row.revoked_via = self.now, self.actor, FILE
                elif diff.get("status") == "active":
                    row.revoked_at = row.revoked_by = row.revoked_via = None
                for k, v in diff.items():
                    setattr(row, k, v)
                row.version += 1
                self._record("consents", "update", key, _plain(diff),
                             participant=row.participant_id)
        self._bulk_insert(Consent, "consents", new)
        stale = [key for key, row in rows.items() if key not in desired and row.ended_at is None]
        for key in stale:
            self._record("consents", "end", key, participant=rows[key].participant_id)
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
        if hasattr(model, "ended_via"):
            values.update(ended_by=self.actor, ended_via=FILE, end_reason=self._file_reason)
        for start in range(0, len(ids), CHUNK):
            self.session.execute(update(model).where(pk.in_(ids[start:start + CHUNK]))
                                 .values(**values))


def consent_key(spec: ConsentSpec) -> str:
    """A declared id, or one derived from the consent's content (so re-applying matches)."""
    if spec.id:
        return spec.id
    digest = hashlib.sha256(canonical(_plain(_consent_attrs(spec))).encode()).hexdigest()
    return f"cns_{digest[:24]}"


def _ended_elsewhere(row: Consent) -> tuple[datetime, str] | None:
    """When and how something other than the file revoked or ended (amended) the consent."""
    if row.ended_outside(FILE):
        return row.ended_at, (f"was ended on {iso(row.ended_at)} by {row.ended_by} "
                              f"({row.end_reason})")
    if row.revoked_at is not None and row.revoked_via not in (None, FILE):
        reason = f" ({row.revoke_reason})" if row.revoke_reason else ""
        return row.revoked_at, f"was revoked on {iso(row.revoked_at)} by {row.revoked_by}{reason}"
    return None


def _consent_attrs(spec: ConsentSpec) -> dict:
    return {"participant_id": spec.participant, "partners": list(spec.partners),
            "partner_types": list(spec.partner_types), "purposes": list(spec.purposes),
            "fields": list(spec.fields), "exclude_labels": list(spec.exclude_labels),
            "valid_from": spec.valid_from, "valid_until": spec.valid_until,
            "status": spec.status}


def _edit_text(edit: ConsoleGrantEdit) -> str:
    return (f"{'added' if edit.op == 'add' else 'removed'} in the console on "
            f"{iso(edit.made_at)} by {edit.made_by}")


def _plain(values: dict) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _key(parts: tuple) -> str:
    return " ".join("-" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p))
                    for p in parts)
