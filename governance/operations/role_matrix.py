"""EditRoleMatrix: commit a role-matrix draft at once (contract section 9).

The draft is a list of cell changes made against one state of the grants (its ``base``). The
operation recomputes everything from the store under the provisioning lock: a draft made
against grants that changed since is refused (409), unknown roles, fields or actions are
refused (400), and cells that already are as the draft wants are left alone. The grant lines
change through Casbin (over this session), each line the console adds or removes is recorded
as a console edit (which outranks the org file, contract section 2), the revision moves with a
new policy version so every worker decides with the new grants from the next request, and one
audit row ``policy.matrix_edited`` holds the grants before and after.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import CONSOLE
from governance.models import ConsoleGrantEdit
from governance.operations.common import active_actor
from governance.operations.errors import Invalid
from governance.operations.state import bump_revision, provisioning_lock
from governance.orgfile.export import policy_version
from governance.policy.enforcer import new_enforcer
from governance.policy.matrix import Rewrite
from governance.reads.role_matrix import (
    CellChange,
    MatrixState,
    effective_changes,
    load_state,
    require_action,
    require_base,
    rewrites,
)

ADD, REMOVE = "add", "remove"


@dataclass
class MatrixEdit:
    """What an applied draft did."""

    action: str
    changes: list[CellChange]
    rewrites: list[Rewrite]
    version: str

    @property
    def granted(self) -> int:
        return sum(c.granted for c in self.changes)

    @property
    def revoked(self) -> int:
        return sum(not c.granted for c in self.changes)


@dataclass
class EditRoleMatrix:
    actor: str
    action: str
    changes: list[CellChange]
    now: datetime
    base: str | None = None  # the state the draft was made against (None: whatever is there)
    via: str = CONSOLE
    reason: str | None = None

    def execute(self, session: Session) -> MatrixEdit:
        try:
            actor = active_actor(session, self.actor)
            action = require_action(self.action)
            provisioning_lock(session)  # never beside an apply, a sync or another edit
            state = load_state(session, action)
            if self.base is not None:
                require_base(state, self.base)
            changes = effective_changes(state, list(self.changes))
            planned = rewrites(state, changes)
            if not planned:
                raise Invalid.naming({"changes": "the draft changes no grant: every cell "
                                                 "already is as it asks"})
            before = policy_version(session)
            self._write(session, state, planned)
            session.flush()
            version = policy_version(session)
            self._record_edits(session, planned, actor, version)
            bump_revision(session, version=version)
            audit.append(session, "policy.matrix_edited",
                         _payload(action, changes, planned, before, version, self.reason),
                         actor=actor, ref=version, at=self.now)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return MatrixEdit(action, changes, planned, version)

    @staticmethod
    def _write(session: Session, state: MatrixState, planned: list[Rewrite]) -> None:
        stale = [line for r in planned for pattern in r.removed
                 for line in state.lines.get((r.role, pattern), [])]
        missing = [[r.role, pattern, state.action, state.roles[r.role].scope]
                   for r in planned for pattern in r.added]
        enforcer = new_enforcer(session)
        if stale:
            enforcer.remove_policies(stale)
        if missing:
            enforcer.add_policies(missing)

    def _record_edits(self, session: Session, planned: list[Rewrite], actor: str,
                      version: str) -> None:
        """Each line added or removed is a console edit; editing a line the console edited
        before undoes that edit instead (the line is back as it was)."""
        lines = [(r.role, p, ADD) for r in planned for p in r.added] + [
            (r.role, p, REMOVE) for r in planned for p in r.removed]
        open_edits = {(e.role_id, e.field_pattern): e for e in session.scalars(
            select(ConsoleGrantEdit).where(ConsoleGrantEdit.ended_at.is_(None),
                                           ConsoleGrantEdit.action == self.action,
                                           ConsoleGrantEdit.role_id.in_(
                                               sorted({r.role for r in planned}))))}
        for role, pattern, op in lines:
            earlier = open_edits.get((role, pattern))
            if earlier is not None and earlier.op != op:
                earlier.end(self.now, actor, self.via, f"undone in the console ({version})")
                continue
            if earlier is None:
                session.add(ConsoleGrantEdit(role_id=role, action=self.action,
                                             field_pattern=pattern, op=op, made_at=self.now,
                                             made_by=actor, policy_version=version))


def _payload(action: str, changes: list[CellChange], planned: list[Rewrite], before: str,
             after: str, reason: str | None) -> dict:
    return {
        "action": action,
        "before": {r.role: sorted(r.before) for r in planned},
        "after": {r.role: list(r.after) for r in planned},
        "replaced": {r.role: {p: list(f) for p, f in r.replaced.items()}
                     for r in planned if r.replaced},
        "granted": [f"{c.role} {c.field}" for c in changes if c.granted],
        "revoked": [f"{c.role} {c.field}" for c in changes if not c.granted],
        "policy_version_before": before,
        "policy_version": after,
        **({"reason": reason} if reason else {}),
    }
