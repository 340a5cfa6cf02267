"""What the Requests and Approvals pages read: a user's own requests and the access they hold
through them now, what an override request would add to what they already hold, and how an
override or escalation stands as people see it (a request nobody decided in time has
expired, whether or not ``reviews run-due`` has marked it yet)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from governance.models import Escalation, Override, Program, ReviewItem, Role, RoleAssignment
from governance.operations.overrides import override_limit
from governance.policy.snapshot import FieldInfo, Snapshot
from governance.reads.access import Page
from governance.reads.access_index import active_cases

STATUSES = ("pending", "active", "expired", "denied", "revoked")
PER_PAGE = 20
ACTIVE_SHOWN = 50  # access in force at once: a handful; more is itself worth a look


def shown_status(o: Override, now: datetime, pending_minutes: int) -> str:
    """``pending``, ``active``, ``expired``, ``denied`` or ``revoked``, as of ``now``."""
    if o.status == "pending":
        lapsed = o.requested_at + timedelta(minutes=pending_minutes) <= now
        return "expired" if lapsed else "pending"
    if o.status == "approved":
        return "active" if o.expires_at is not None and now < o.expires_at else "expired"
    return o.status


def _status_condition(status: str | None, now: datetime, pending_minutes: int):  # noqa: ANN202
    """The SQL form of ``shown_status(o) == status`` (any status: None)."""
    lapse = now - timedelta(minutes=pending_minutes)
    pending = and_(Override.status == "pending", Override.requested_at > lapse)
    active = and_(Override.status == "approved", Override.expires_at > now)
    return {
        None: true(),
        "pending": pending,
        "active": active,
        "expired": or_(Override.status == "expired",
                       and_(Override.status == "pending", Override.requested_at <= lapse),
                       and_(Override.status == "approved", Override.expires_at <= now)),
    }.get(status, Override.status == status)


def paged(session: Session, query, order, page: int, per_page: int = PER_PAGE) -> Page:  # noqa: ANN001
    """One page of ``query`` (the last one when ``page`` is past the end), with the total."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = list(session.scalars(query.order_by(*order).offset((page - 1) * per_page)
                                 .limit(per_page))) if total else []
    return Page(items, total, page, per_page)


def my_requests(session: Session, user: str, now: datetime, *, pending_minutes: int,
                status: str | None = None, program: str | None = None, page: int = 1
                ) -> Page:
    """``user``'s override requests and break-glass uses, newest first."""
    query = select(Override).where(Override.user_id == user,
                                   _status_condition(status, now, pending_minutes))
    if program:
        query = query.where(Override.program_id == program)
    return paged(session, query, (Override.requested_at.desc(), Override.id.desc()), page)


def my_escalations(session: Session, user: str, page: int = 1) -> Page:
    """The escalations ``user`` asked for, newest first."""
    return paged(session, select(Escalation).where(Escalation.user_id == user),
                 (Escalation.requested_at.desc(), Escalation.id.desc()), page)


def break_glass_reviews(session: Session, rows: list[Override]) -> dict[str, ReviewItem]:
    """override id -> its after-the-fact review, for the break-glass uses among ``rows``."""
    ids = [o.id for o in rows if o.kind == "break_glass"]
    if not ids:
        return {}
    return {r.override_id: r for r in session.scalars(
        select(ReviewItem).where(ReviewItem.kind == "break_glass",
                                 ReviewItem.override_id.in_(ids)))}


def overrides_by_id(session: Session, ids: list[str]) -> dict[str, Override]:
    """The overrides (break-glass uses) a page lists by id, read at once."""
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Override).where(Override.id.in_(ids)))}


def escalation_status(e: Escalation, now: datetime) -> str:
    if e.status == "approved" and e.expires_at is not None and e.expires_at <= now:
        return "expired"
    return e.status


def active_access(session: Session, user: str, now: datetime) -> list[Override]:
    """The overrides and break-glass uses ``user`` holds now, the soonest ending first."""
    return list(session.scalars(
        select(Override).where(Override.user_id == user, Override.status == "approved",
                               Override.expires_at > now)
        .order_by(Override.expires_at, Override.id).limit(ACTIVE_SHOWN)))


def minutes_left(o: Override, now: datetime) -> int:
    """Whole minutes until ``o`` ends, rounded up (a minute and a second left is 2)."""
    return max(0, -(-int((o.expires_at - now).total_seconds()) // 60))


def request_limits(session: Session, user: str, now: datetime, service_cap: int
                   ) -> dict[str, int]:
    """program -> the most minutes ``user`` may ask for there: the programs where they hold
    a role now (every program for an organisation-wide role)."""
    rows = session.execute(
        select(RoleAssignment.program_id, Role.scope).join(Role, Role.id == RoleAssignment.role_id)
        .where(RoleAssignment.user_id == user, RoleAssignment.ended_at.is_(None),
               Role.retired_at.is_(None))).all()
    if any(scope == "organization" for _, scope in rows):
        programs = list(session.scalars(select(Program.id).order_by(Program.id)))
    else:
        programs = sorted({p for p, _ in rows if p})
    limits = {p: override_limit(session, user, p, now, service_cap) for p in programs}
    return {p: limit for p, limit in limits.items() if limit is not None}


@dataclass(frozen=True)
class FieldChange:
    field: FieldInfo
    held_through: str | None  # None: the request adds it; else what gives it already


@dataclass(frozen=True)
class ActionChange:
    action: str
    fields: list[FieldChange]

    @property
    def added(self) -> list[FieldChange]:
        return [f for f in self.fields if f.held_through is None]

    @property
    def held(self) -> list[FieldChange]:
        return [f for f in self.fields if f.held_through is not None]


def what_request_adds(snap: Snapshot, now: datetime, user: str, program: str,
                      participant: str | None, fields: list[str], actions: list[str]
                      ) -> list[ActionChange]:
    """Per action, each field the request names, and whether the user already holds it (by
    rules 2 and 3 of the pipeline, over the snapshot) or the override would add it."""
    wanted = snap.expand(tuple(fields))[0]
    changes = []
    for action in actions:
        held = _held(snap, now, user, program, participant, action)
        changes.append(ActionChange(action, [
            FieldChange(snap.fields[f], held.get(f)) for f in wanted if f in snap.fields]))
    return changes


def _held(snap: Snapshot, now: datetime, user: str, program: str, participant: str | None,
          action: str) -> dict[str, str]:
    """field -> what opens it for ``user`` now: a role, a case role (only on the participant's
    case), an override already in force."""
    held: dict[str, str] = {}
    on_case = participant is not None and participant in active_cases(snap, now, user, program)
    for a in snap.assignments.get(user, ()):
        scope = snap.role_scopes.get(a.role)
        if scope is None or not a.active(now) or (scope != "organization"
                                                   and a.program != program):
            continue
        if scope == "case" and not on_case:
            continue  # a case role counts only on the participant's case
        for f in snap.grants.get((a.role, action), ()):
            held.setdefault(f, f"your role {a.role}")
    for o in snap.overrides.get(user, ()):
        if (o.active(now) and o.program == program and action in o.actions
                and o.participant in (None, participant)):
            for f in snap.expand(tuple(o.fields))[0]:
                held.setdefault(f, f"your {o.kind.replace('_', '-')} {o.id}")
    return held
