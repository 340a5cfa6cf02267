"""Approver lookups (issue 12 item 4): a fixed number of statements, answering as the per-user
check did.

The reference below is the check as it was before: for one user, the live roles that approve
``what``, then that user's assignments, each in scope and open now. Every lookup is compared with
it for every user, program and kind, on an organisation that has each kind of assignment the rule
tells apart; and the statements a lookup runs are counted at 5 and at 50 users.
"""
from __future__ import annotations

import itertools
import random
import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from governance.extension import state
from governance.ids import new_id
from governance.models import Escalation, Role, RoleAssignment
from governance.operations.approvers import (
    approval_scope,
    approvers,
    is_reviewer,
    may_approve,
    reviewers,
)
from governance.operations.escalations import pending_for
from governance.operations.overrides import _roles_in
from governance.policy.snapshot import Window
from tests.conftest import NOW

HOUR = timedelta(hours=1)
PROGRAMS = ["housing", "clinic", "outreach"]
ASKED = [*PROGRAMS, "nowhere", ""]  # a program nobody works in, and the empty id reviews use
KINDS = ("override", "escalation")
# (id, scope, approves, retired)
ROLES = [
    ("supervisor", "program", ["override", "escalation"], False),
    ("override_lead", "program", ["override"], False),
    ("compliance", "organization", ["escalation"], False),
    ("director", "organization", ["override"], False),
    ("old_supervisor", "program", ["override", "escalation"], True),
    ("lookalike", "program", ["overrider"], False),  # its text contains "override"; it is not
    ("case_manager", "case", [], False),
]
# name -> (valid_from, valid_until, ended_at)
WINDOWS = {
    "open": (None, None, None),
    "current": (NOW - timedelta(days=1), NOW + timedelta(days=1), None),
    "starts_now": (NOW, None, None),
    "not_yet": (NOW + HOUR, None, None),
    "expired": (None, NOW - HOUR, None),
    "ends_now": (None, NOW, None),
    "ended": (None, None, NOW - HOUR),
}


def reference_may_approve(session, user, what, program, now) -> bool:
    """The per-user check this module replaced, kept verbatim as the rule's reference."""
    approving = {r.id: r.scope for r in session.scalars(select(Role).where(
        Role.retired_at.is_(None))) if what in (r.approves or [])}
    for a in session.scalars(select(RoleAssignment).where(
            RoleAssignment.user_id == user, RoleAssignment.ended_at.is_(None),
            RoleAssignment.role_id.in_(list(approving)))):
        in_scope = approving[a.role_id] == "organization" or a.program_id == program
        if in_scope and Window(a.id, a.valid_from, a.valid_until).active(now):
            return True
    return False


def reference_roles_in(session, user, program, now) -> list[str]:
    roles = []
    for a in session.scalars(select(RoleAssignment).where(
            RoleAssignment.user_id == user, RoleAssignment.ended_at.is_(None))):
        role = session.get(Role, a.role_id)
        if (role is not None and role.retired_at is None
                and (role.scope == "organization" or a.program_id == program)
                and Window(a.id, a.valid_from, a.valid_until).active(now)):
            roles.append(role.id)
    return roles


def add_roles(session) -> None:
    for role_id, scope, approves, retired in ROLES:
        session.add(Role(id=role_id, scope=scope, approves=approves,
                         retired_at=NOW - HOUR if retired else None))


def assign(session, user: str, role: str, program: str | None, window: str) -> None:
    valid_from, valid_until, ended_at = WINDOWS[window]
    session.add(RoleAssignment(user_id=user, role_id=role, program_id=program,
                               valid_from=valid_from, valid_until=valid_until, ended_at=ended_at,
                               source="api"))


def build_org(session) -> list[str]:
    """One user for every (role, program or none, window), then 40 holding random mixes."""
    add_roles(session)
    users = []
    places = [*PROGRAMS, None]
    for n, (role, program, window) in enumerate(itertools.product(
            [r[0] for r in ROLES] + ["no_such_role"], places, WINDOWS)):
        users.append(f"u{n:03d}")
        assign(session, users[-1], role, program, window)
    rng = random.Random(12)
    for n in range(40):
        users.append(f"mix{n:02d}")
        for _ in range(rng.randint(1, 4)):
            assign(session, users[-1], rng.choice(ROLES)[0], rng.choice(places),
                   rng.choice(list(WINDOWS)))
    for n in range(30):
        requester = rng.choice(users)
        session.add(Escalation(id=new_id("esc"), decision_id=new_id("dec"), user_id=requester,
                               participant_id="p-1", program_id=rng.choice(PROGRAMS),
                               fields=["x.y"], justification="test",
                               status=rng.choice(["pending", "pending", "approved"]),
                               requested_at=NOW - timedelta(minutes=n)))
    session.commit()
    return users


@pytest.fixture
def session(app):
    with app.app_context():
        yield state(app).session


def test_lookups_answer_as_the_per_user_check_did(session):
    users = build_org(session)
    for what, program in itertools.product(KINDS, ASKED):
        expected = [u for u in users if reference_may_approve(session, u, what, program, NOW)]
        assert approvers(session, what, program, NOW) == sorted(expected), (what, program)
        for user in users:
            assert may_approve(session, user, what, program, NOW) == (user in expected)
            assert approval_scope(session, user, what, NOW).covers(program) == (
                user in expected), (user, what, program)
    for program in ASKED:
        either = {u for u in users for what in KINDS
                  if reference_may_approve(session, u, what, program, NOW)}
        assert reviewers(session, program, NOW) == sorted(either)
        for user in users:
            assert is_reviewer(session, user, program, NOW) == (user in either)
            assert sorted(r.id for r in _roles_in(session, user, program, NOW)) == sorted(
                reference_roles_in(session, user, program, NOW)), (user, program)


def test_the_organisation_covers_every_case_the_rule_tells_apart(session):
    users = build_org(session)
    holders = approvers(session, "override", "housing", NOW)
    assert holders and len(holders) < len(users)
    by_assignment = {(a.role_id, a.program_id, a.valid_from, a.valid_until, a.ended_at): a.user_id
                     for a in session.scalars(select(RoleAssignment).where(
                         RoleAssignment.user_id.like("u%")))}

    def holder(role, program, window):
        return by_assignment[(role, program, *WINDOWS[window])]
    assert holder("supervisor", "housing", "starts_now") in holders
    assert holder("director", None, "current") in holders  # organisation-wide
    for refused in [("supervisor", "housing", "not_yet"), ("supervisor", "housing", "expired"),
                    ("supervisor", "housing", "ends_now"), ("supervisor", "housing", "ended"),
                    ("supervisor", "clinic", "open"), ("old_supervisor", "housing", "open"),
                    ("lookalike", "housing", "open"), ("compliance", None, "open")]:
        assert holder(*refused) not in holders, refused


def test_escalation_queue_lists_what_the_per_escalation_check_listed(session):
    users = build_org(session)
    pending = session.scalars(select(Escalation).where(Escalation.status == "pending")
                              .order_by(Escalation.requested_at)).all()
    listed = 0
    for user in users:
        expected = [e.id for e in pending if e.user_id != user
                    and reference_may_approve(session, user, "escalation", e.program_id, NOW)]
        assert [e.id for e in pending_for(session, user, NOW)] == expected, user
        listed += bool(expected)
    assert listed


@contextmanager
def counted(app):
    """Count the SQL statements this thread runs inside the block."""
    seen, thread = [], threading.get_ident()

    def count(*_args) -> None:
        if threading.get_ident() == thread:
            seen.append(1)
    engine = state(app).db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def statements(app, session, call) -> int:
    session.rollback()
    with counted(app) as seen:
        call()
    return len(seen)


def test_statements_do_not_grow_with_users(app, session):
    add_roles(session)
    lookups = {
        "approvers": lambda: approvers(session, "override", "housing", NOW),
        "reviewers": lambda: reviewers(session, "housing", NOW),
        "may_approve": lambda: may_approve(session, "u000", "override", "housing", NOW),
        "is_reviewer": lambda: is_reviewer(session, "u000", "housing", NOW),
        "roles_in": lambda: _roles_in(session, "u000", "housing", NOW),
        "pending_for": lambda: pending_for(session, "u000", NOW),
    }
    counts, made = {}, 0
    for total in (5, 50):
        for n in range(made, total):
            assign(session, f"u{n:03d}", "supervisor", "housing", "open")
            assign(session, f"u{n:03d}", "case_manager", "clinic", "open")
            session.add(Escalation(id=new_id("esc"), decision_id=new_id("dec"),
                                   user_id=f"u{n:03d}", participant_id="p-1", program_id="housing",
                                   fields=["x.y"], justification="test", status="pending",
                                   requested_at=NOW))
        session.commit()
        made = total
        assert len(approvers(session, "override", "housing", NOW)) == total
        assert len(pending_for(session, "u000", NOW)) == total - 1
        counts[total] = {name: statements(app, session, call) for name, call in lookups.items()}
    assert counts[5] == counts[50]
    # the approving roles, then their assignments (and for the queue, the escalations)
    assert counts[5] == {"approvers": 2, "reviewers": 2, "may_approve": 2, "is_reviewer": 2,
                         "roles_in": 1, "pending_for": 3}
