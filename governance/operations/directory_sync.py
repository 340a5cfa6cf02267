"""SyncDirectory: read the directory, plan, then apply the plan in one transaction.

All or nothing (contract section 8): an unreachable directory, a failed or partial search, or a
plan that would disable more users than the circuit breaker allows changes nothing. Every change
is audited, one row per item, with the directory as its actor; a sync and an apply never run at
the same time.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from governance import audit
from governance.db import DIRECTORY
from governance.directory.connection import DirectorySettings
from governance.directory.plan import RUNTIME_ENDS, Plan, Step, Store, plan_sync
from governance.directory.reader import DirectoryReader, DirectoryView
from governance.errors import Refused
from governance.models import (
    DirectoryGroupRole,
    DirectorySync,
    Escalation,
    Involvement,
    Override,
    ReviewItem,
    RoleAssignment,
    User,
)
from governance.operations.state import EVERYTHING, bump_revision, provisioning_lock
from governance.operations.users import disable_account, user_document

ACTOR = "directory"
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
BATCH = 2000  # audit rows (and inserts) written at a time
MANY = 200  # past this many users touched, workers rebuild their snapshot instead of patching
FULL_EVERY = timedelta(days=1)  # a changed-only sync is a full one if the last is older
ORDER = ("rename", "join", "update", "return", "grant", "end", "leave")


@dataclass
class SyncResult:
    plan: Plan
    full: bool
    dry_run: bool
    high_water: str | None

    def lines(self) -> list[str]:
        return [str(s) for s in self.plan.steps] + self.plan.conflicts


@dataclass
class SyncDirectory:
    settings: DirectorySettings
    now: datetime
    dry_run: bool = False
    changed_only: bool = False
    allow_mass_leave: bool = False
    started_by: str | None = None  # who ran it from the console (None: the CLI or a schedule)
    progress: Callable[[str, int], None] | None = field(default=None, repr=False)

    def execute(self, session: Session) -> SyncResult:
        reader = DirectoryReader(self.settings, self.progress)
        mark = session.get(DirectorySync, 1)
        # In doubt (no sync yet, another directory or search, no full sync for a day), full.
        since = (mark.high_water if self.changed_only and mark is not None
                 and mark.server == self._server() and mark.last_full_at is not None
                 and mark.last_full_at > self.now - FULL_EVERY else None)
        view = reader.read(since)  # all of it, before the store is locked
        try:
            provisioning_lock(session)  # never beside an apply
            plan = self._plan(session, view)
            self._breaker(plan)
            result = SyncResult(plan, view.complete, self.dry_run, view.high_water)
            if self.dry_run:
                session.rollback()
                return result
            self._apply(session, plan)
            self._remember(session, view, plan)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return result

    def _plan(self, session: Session, view: DirectoryView) -> Plan:
        """The plan; entries whose id is no usable user id (empty, too long, control
        characters, filter syntax) never become accounts, and are listed."""
        bad = [u for u in view.users if not USER_ID.fullmatch(u.id)]
        view.users = [u for u in view.users if USER_ID.fullmatch(u.id)]
        plan = plan_sync(view, self._store(session), self.settings.nested_groups)
        plan.conflicts += [f"skipped: {u.dn} has the id {u.id!r}, which is not a usable user "
                           "id" for u in bad]
        return plan

    def _server(self) -> str:
        s = self.settings
        return " ".join((s.url, s.user_base, s.group_base, s.user_filter, s.group_filter,
                         s.user_id_attr))

    def _store(self, session: Session) -> Store:
        ended: dict = {}
        for a in session.scalars(select(RoleAssignment).where(
                RoleAssignment.ended_at.is_not(None), RoleAssignment.ended_via.in_(RUNTIME_ENDS))
                .order_by(RoleAssignment.ended_at)):
            ended[(a.user_id, a.role_id, a.program_id)] = a
        # Core selects of the tables' columns: rows without the ORM's loading, a third of the
        # time for the 80,000 rows of a county directory.
        users, assignments = User.__table__.c, RoleAssignment.__table__.c
        return Store(
            users=session.execute(select(
                users.id, users.source, users.active, users.name, users.email,
                users.directory_uuid, users.directory_dn, users.disabled_at, users.disabled_by,
                users.disabled_via)).all(),
            live=session.execute(select(
                assignments.id, assignments.user_id, assignments.role_id, assignments.program_id,
                assignments.source).where(assignments.ended_at.is_(None))).all(),
            ended_outside=ended,
            mappings=list(session.scalars(select(DirectoryGroupRole).where(
                DirectoryGroupRole.retired_at.is_(None)))))

    def _breaker(self, plan: Plan) -> None:
        limit = self.settings.max_leavers or max(5, math.ceil(plan.directory_users / 10))
        if len(plan.leavers) > limit and not self.allow_mass_leave:
            raise Refused(
                f"the sync would disable {len(plan.leavers)} users, more than the limit of "
                f"{limit} (GOVERNANCE_LDAP_MAX_LEAVERS); nothing was changed. If the directory "
                "is right, run it again with --allow-mass-leave",
                {"leavers": len(plan.leavers), "limit": limit})

    # -- applying ---------------------------------------------------------------------------
    def _apply(self, session: Session, plan: Plan) -> None:
        """Steps in ORDER; joins and grants as batched inserts and the audit rows in chunks,
        so a first sync of a large directory holds neither objects nor rows by the thousand."""
        users = _Accounts(session)
        rows, touched, inserts, told = [], set(), {User: [], RoleAssignment: []}, 0
        tell = self.progress or (lambda _what, _n: None)
        tell("planned", len(plan.steps))
        steps = sorted(plan.steps, key=lambda s: ORDER.index(s.op))
        for done, step in enumerate(steps, 1):
            touched.add(step.user)
            if step.op in ("join", "grant"):
                model, values = self._new_row(step)
                inserts[model].append(values)
            else:
                rows += getattr(self, f"_{step.op}")(session, users, step)
            rows.append(audit.new_row(f"directory.{step.op}", {"change": str(step),
                                                               **step.detail},
                                      actor=ACTOR, subject=step.user, ref=step.user,
                                      at=self.now))
            last = done == len(steps) or steps[done].op != step.op
            if last or len(rows) >= BATCH:
                for model, batch in inserts.items():
                    if batch:
                        session.execute(insert(model), batch)
                        batch.clear()
                audit.append_rows(session, rows)
                rows = []
                tell("applied", done - told)
                told = done
        rows += [audit.new_row("directory.conflict", {"conflict": line}, actor=ACTOR,
                               at=self.now) for line in plan.conflicts]
        renamed = any(s.op == "rename" for s in plan.steps)
        if touched:
            bump_revision(session, [EVERYTHING] if renamed or len(touched) > MANY else
                          [(scope, u) for u in sorted(touched)
                           for scope in ("users", "assignments")])
        ran = {"started_by": self.started_by} if self.started_by else {}
        rows.append(audit.new_row("directory.synced", {"summary": plan.summary(), **ran},
                                  actor=ACTOR, at=self.now))
        audit.append_rows(session, rows)

    def _new_row(self, step: Step) -> tuple[type, dict]:
        d = step.detail
        if step.op == "join":
            return User, {"id": step.user, "name": d["name"], "email": d["email"],
                          "active": True, "source": DIRECTORY, "directory_uuid": d["uuid"],
                          "directory_dn": d["dn"], "created_at": self.now,
                          "updated_at": self.now}
        return RoleAssignment, {"user_id": step.user, "role_id": d["role"],
                                "program_id": d["program"], "source": DIRECTORY,
                                "created_by": ACTOR, "created_at": self.now,
                                "reason": f"member of {d['group']}"}

    def _rename(self, session: Session, users: _Accounts, step: Step) -> list[dict]:
        old, new = step.detail["from"], step.user
        session.flush()
        session.execute(update(User).where(User.id == old).values(id=new))
        for model in (RoleAssignment, Involvement, Override, Escalation, ReviewItem):
            session.execute(update(model).where(model.user_id == old).values(user_id=new))
        session.expire_all()
        users.forget(old)
        return []

    def _update(self, session: Session, users: _Accounts, step: Step) -> list[dict]:
        user = users[step.user]
        for name, value in step.detail["changes"].items():
            setattr(user, "directory_dn" if name == "dn" else name, value)
        return []

    def _return(self, session: Session, users: _Accounts, step: Step) -> list[dict]:
        user = users[step.user]
        user.active = True
        user.disabled_at = user.disabled_by = user.disabled_via = user.disabled_reason = None
        return [audit.new_row("user.enabled", user_document(user), actor=ACTOR,
                              subject=user.id, ref=user.id, at=self.now)]

    def _end(self, session: Session, users: _Accounts, step: Step) -> list[dict]:
        a = session.get(RoleAssignment, step.detail["assignment"])
        a.end(self.now, ACTOR, DIRECTORY, step.detail["why"])
        return []

    def _leave(self, session: Session, users: _Accounts, step: Step) -> list[dict]:
        _change, rows = disable_account(session, users[step.user], ACTOR, DIRECTORY,
                                        step.detail["why"], self.now)
        return rows

    def _remember(self, session: Session, view: DirectoryView, plan: Plan) -> None:
        mark = session.get(DirectorySync, 1) or DirectorySync(id=1)
        mark.server, mark.high_water, mark.last_run_at = self._server(), view.high_water, self.now
        if view.complete:
            mark.last_full_at = self.now
        mark.summary = plan.summary() | {"full": view.complete}
        session.add(mark)


class _Accounts:
    """The users a plan's steps act on, loaded one by one as they are needed (a sync that
    changes a few users should not load twenty thousand)."""

    def __init__(self, session: Session):
        self.session, self.loaded = session, {}

    def __getitem__(self, user_id: str) -> User:
        if user_id not in self.loaded:
            self.loaded[user_id] = self.session.get(User, user_id)
        return self.loaded[user_id]

    def forget(self, user_id: str) -> None:
        self.loaded.pop(user_id, None)
