"""A Casbin adapter over the application's own SQLAlchemy session.

The stock adapter opens its own engine and runs ``create_all``; this one reads and writes through
the session the rest of the app uses, so policy edits commit (or roll back) with the change and
its audit row, and Alembic owns the schema.

``p`` lines (the role matrix) live in ``casbin_rule``. Role assignments and case involvements
carry history and time windows, so they live in their own tables; with ``membership=True`` the
adapter presents those active at ``now`` as ``g``/``g2`` lines (read-only).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from casbin import persist
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from governance.clock import utcnow
from governance.models import CasbinRule, Involvement, RoleAssignment

MATRIX_PTYPE = "p"


class SessionAdapter(persist.Adapter):
    def __init__(self, session: Session | Callable[[], Session], *, membership: bool = False,
                 now: datetime | None = None):
        self._session = session
        self.membership = membership
        self.now = now

    @property
    def session(self) -> Session:
        return self._session() if callable(self._session) and not isinstance(
            self._session, Session) else self._session

    def load_policy(self, model) -> None:
        for row in self.session.scalars(select(CasbinRule).order_by(CasbinRule.id)):
            model.add_policy("p" if row.ptype.startswith("p") else "g", row.ptype, row.values())
        if self.membership:
            now = self.now or utcnow()
            for user, role, program in self.session.execute(
                select(RoleAssignment.user_id, RoleAssignment.role_id, RoleAssignment.program_id)
                .where(RoleAssignment.ended_at.is_(None), _window(RoleAssignment, now))
            ):
                model.add_policy("g", "g", [user, role, program or "*"])
            for user, participant, program in self.session.execute(
                select(Involvement.user_id, Involvement.participant_id, Involvement.program_id)
                .where(Involvement.ended_at.is_(None), _window(Involvement, now))
            ):
                model.add_policy("g", "g2", [user, participant, program])

    def save_policy(self, model) -> bool:
        self.session.execute(delete(CasbinRule).where(CasbinRule.ptype == MATRIX_PTYPE))
        for rule in model.model.get("p", {}).get(MATRIX_PTYPE, _Empty()).policy:
            self.session.add(_row(MATRIX_PTYPE, rule))
        return True

    def add_policy(self, sec: str, ptype: str, rule: list[str]) -> bool:
        self._matrix_only(ptype)
        self.session.add(_row(ptype, rule))
        return True

    def add_policies(self, sec: str, ptype: str, rules) -> bool:
        self._matrix_only(ptype)
        self.session.add_all([_row(ptype, r) for r in rules])
        return True

    def remove_policy(self, sec: str, ptype: str, rule: list[str]) -> bool:
        self._matrix_only(ptype)
        cols = [CasbinRule.v0, CasbinRule.v1, CasbinRule.v2, CasbinRule.v3]
        conds = [c == v for c, v in zip(cols, rule, strict=False)]
        self.session.execute(delete(CasbinRule).where(CasbinRule.ptype == ptype, *conds))
        return True

    def remove_policies(self, sec: str, ptype: str, rules) -> bool:
        for rule in rules:
            self.remove_policy(sec, ptype, rule)
        return True

    def remove_filtered_policy(self, sec: str, ptype: str, field_index: int, *values) -> bool:
        self._matrix_only(ptype)
        cols = [CasbinRule.v0, CasbinRule.v1, CasbinRule.v2, CasbinRule.v3, CasbinRule.v4]
        conds = [cols[field_index + i] == v for i, v in enumerate(values) if v]
        self.session.execute(delete(CasbinRule).where(CasbinRule.ptype == ptype, *conds))
        return True

    @staticmethod
    def _matrix_only(ptype: str) -> None:
        if ptype != MATRIX_PTYPE:
            raise ValueError(
                f"'{ptype}' lines are role assignments or involvements: change them through "
                "governance operations, which keep their history")


class _Empty:
    policy: list = []


def _row(ptype: str, rule: list[str]) -> CasbinRule:
    values = list(rule) + [""] * (6 - len(rule))
    return CasbinRule(ptype=ptype, v0=values[0], v1=values[1], v2=values[2], v3=values[3],
                      v4=values[4], v5=values[5])


def _window(model, now: datetime):
    return and_(or_(model.valid_from.is_(None), model.valid_from <= now),
                or_(model.valid_until.is_(None), model.valid_until > now))
