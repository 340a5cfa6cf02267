"""Opening a campaign of a few hundred items (OpenCampaign's batched read and insert): exactly
the items the rules give, with each assignment's user, role, program, last use and
recommendation, the one audit row a campaign's opening writes, and a chain that still verifies.

The expected items are worked out here the plain way, one assignment and one override at a
time, over every row of the store."""
from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from sqlalchemy import func, select, update

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, Override, ReviewItem, Role, RoleAssignment
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from tests.conftest import FIXTURES, NOW, new_key

PEOPLE = 800
UNUSED_DAYS = 30
DUE = "2026-12-07T00:00:00"
ROLES = ("supervisor", "security_lead", "supervisor", "legacy_lead", "supervisor",
         "case_manager")  # legacy_lead is retired below, case_manager is not elevated
WINDOWS = ({}, {"until": "2027-06-30"}, {"until": "2026-06-30"}, {"from": "2027-01-01"},
           {"from": "2026-01-01"})  # the third has ended, the fourth not begun
CREATED = (timedelta(days=90), timedelta(days=5), timedelta(0))
LAST_USED = (timedelta(days=2), timedelta(days=45), None, None, None, None, None)


def many_holders_org() -> dict:
    """The fixture organisation with PEOPLE more users, each holding one role: elevated or
    not, in a program or organisation-wide, in force, ended or not begun."""
    org = yaml.safe_load((FIXTURES / "org.yaml").read_text())
    org["roles"] += [{"id": "security_lead", "scope": "organization", "elevated": True,
                      "grants": {"view": ["identity.*"]}},
                     {"id": "legacy_lead", "scope": "program", "elevated": True,
                      "grants": {"view": ["identity.*"]}}]
    for n in range(PEOPLE):
        role = ROLES[n % len(ROLES)]
        held = {"role": role, **WINDOWS[n % len(WINDOWS)]}
        if role != "security_lead":
            held["program"] = ("housing", "behavioral_health")[n // len(ROLES) % 2]
        org["users"].append({"id": f"h{n:03d}", "name": f"Holder {n}", "roles": [held]})
    return org


def age_and_use(session) -> None:
    """Assignments made at different times, some used lately, some long ago, some ended; one
    elevated role retired; overrides active, run out and pending; a break-glass use (it has
    its own review, never a campaign's)."""
    for n in range(PEOPLE):
        values = {"created_at": NOW - CREATED[n % len(CREATED)],
                  "last_used_at": LAST_USED[n % len(LAST_USED)] and
                  NOW - LAST_USED[n % len(LAST_USED)]}
        if n % 11 == 0:
            values |= {"ended_at": NOW - timedelta(days=1), "ended_by": "test"}
        session.execute(update(RoleAssignment).where(RoleAssignment.user_id == f"h{n:03d}")
                        .values(**values))
    session.execute(update(Role).where(Role.id == "legacy_lead").values(retired_at=NOW))
    for n, (status, expires) in enumerate([("approved", timedelta(hours=1))] * 6 + [
            ("approved", -timedelta(minutes=1)), ("pending", timedelta(hours=1))]):
        session.add(Override(id=f"ovr_{n}", user_id=f"h{n:03d}", reason="covering",
                             program_id=("housing", "behavioral_health")[n % 2],
                             fields=["identity.*"], actions=["view"], minutes=60,
                             status=status, approved_at=NOW - timedelta(minutes=5),
                             expires_at=NOW + expires))
    session.add(Override(id="ovr_glass", kind="break_glass", user_id="h007", reason="crisis",
                         program_id="housing", participant_id="p-100", fields=["*"],
                         actions=["view"], minutes=60, status="approved",
                         approved_at=NOW - timedelta(minutes=5),
                         expires_at=NOW + timedelta(minutes=55)))
    session.commit()


def expected_items(session, roles: list[str], programs: list[str]) -> list[tuple]:
    """(kind, user, role, program, assignment, override, last use, recommendation) of every
    item the campaign should hold, one row of the store at a time."""
    elevated = {r.id for r in session.scalars(select(Role))
                if r.elevated and r.retired_at is None}
    found = []
    for a in session.scalars(select(RoleAssignment)):
        in_force = a.ended_at is None and (a.valid_from is None or a.valid_from <= NOW) and (
            a.valid_until is None or NOW < a.valid_until)
        if in_force and a.role_id in elevated and (not roles or a.role_id in roles) and (
                not programs or a.program_id in programs):
            unused = (a.last_used_at or a.created_at) < NOW - timedelta(days=UNUSED_DAYS)
            found.append(("assignment", a.user_id, a.role_id, a.program_id, a.id, None,
                          a.last_used_at, "revoke" if unused else "keep"))
    for o in session.scalars(select(Override)):
        if not roles and o.kind == "override" and o.status == "approved" and (
                o.expires_at > NOW) and (
                not programs or o.program_id in programs):
            found.append(("override", o.user_id, None, o.program_id, None, o.id, None, "keep"))
    return sorted(found, key=repr)


def item_tuple(i: ReviewItem) -> tuple:
    return (i.kind, i.user_id, i.role_id, i.program_id, i.assignment_id, i.override_id,
            i.last_used_at, i.recommendation)


@pytest.fixture
def holders_app(app):
    with app.app_context():
        session = state(app).session
        ApplyOrganisation(validate(many_holders_org()), actor="test", now=NOW).execute(session)
        age_and_use(session)
    return app


@pytest.mark.parametrize(("roles", "programs", "at_least"), [
    ([], [], 290), ([], ["housing"], 110), (["supervisor"], [], 210),
    (["security_lead"], ["housing"], 0)])
def test_a_large_campaign_holds_exactly_the_items_the_rules_give(holders_app, roles, programs,
                                                                 at_least):
    api = holders_app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(holders_app, 'manage')}"
    with holders_app.app_context():
        session = state(holders_app).session
        expected = expected_items(session, roles, programs)
        audited = session.scalar(select(func.max(AuditEvent.seq)))
        session.rollback()
    assert len(expected) >= at_least
    if at_least:
        assert {e[-1] for e in expected} == {"keep", "revoke"}
    answer = api.post("/api/v1/reviews/campaigns", json={
        "actor": "rita", "roles": roles, "programs": programs, "due": DUE,
        "on_no_decision": "revoke", "unused_days": UNUSED_DAYS})
    assert answer.status_code == 201, answer.json
    opened = answer.json
    with holders_app.app_context():
        session = state(holders_app).session
        stored = session.scalars(select(ReviewItem).where(
            ReviewItem.campaign_id == opened["id"])).all()
        assert sorted(map(item_tuple, stored), key=repr) == expected
        assert all((i.status, i.created_at, i.decision, i.note) == ("open", NOW, None, None)
                   for i in stored)
        assert sorted(i["id"] for i in opened["items"]) == sorted(i.id for i in stored)
        assert {i["id"]: (i["user"], i["recommendation"], i["last_used_at"])
                for i in opened["items"]} == {
            i.id: (i.user_id, i.recommendation, i.last_used_at and
                   i.last_used_at.isoformat() + "Z") for i in stored}
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > audited)
                               .order_by(AuditEvent.seq)).all()
        assert [(r.kind, r.actor, r.ref) for r in rows] == [
            ("review.campaign_opened", "rita", opened["id"])]
        assert payload_of(rows[0]) == {
            "id": opened["id"], "status": "open", "roles": roles, "programs": programs,
            "due": "2026-12-07T00:00:00Z", "on_no_decision": "revoke",
            "items": len(expected), "via": "api"}
    verified = holders_app.test_cli_runner().invoke(args=["governance", "audit", "verify"])
    assert verified.exit_code == 0 and "Audit chain intact" in verified.output, verified.output
