"""What an organisation file's plan does to people: who gains or loses access.

Read from the plan's change lines (a dry run), with one query for the holders of the roles
whose grants change, so an administrator sees the people behind a grant line before applying.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import RoleAssignment, User
from governance.operations.apply_plan import ApplyResult, Change

HOLDERS_SHOWN = 12  # names listed per role; the rest are counted


@dataclass
class PersonImpact:
    user: str
    gains: list[str] = field(default_factory=list)
    loses: list[str] = field(default_factory=list)


@dataclass
class RoleImpact:
    role: str
    gains: list[str] = field(default_factory=list)  # "view contact.*"
    loses: list[str] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)  # after the apply, the first few
    more_holders: int = 0


@dataclass
class Impact:
    people: list[PersonImpact]
    roles: list[RoleImpact]
    participants: dict[str, list[str]]  # participant -> what changes for their record

    @property
    def empty(self) -> bool:
        return not (self.people or self.roles or self.participants)


def plan_impact(session: Session, result: ApplyResult) -> Impact:
    """Who gains or loses what if ``result`` (a dry run, rolled back) is applied."""
    people: dict[str, PersonImpact] = {}
    participants: dict[str, list[str]] = defaultdict(list)
    # role -> "+"/"-" -> (user, program) the plan starts or ends
    assignments: dict[str, dict[str, set[tuple]]] = defaultdict(lambda: defaultdict(set))

    def person(user: str) -> PersonImpact:
        return people.setdefault(user, PersonImpact(user))

    for change in result.changes:
        _one_change(change, person, participants, assignments)
    roles = _role_impacts(session, result.changes, assignments)
    return Impact(sorted(people.values(), key=lambda p: p.user), roles,
                  dict(sorted(participants.items())))


def _one_change(change: Change, person, participants: dict[str, list[str]],  # noqa: ANN001
                assignments: dict[str, dict[str, set[tuple]]]) -> None:
    parts = change.key.split(" ")
    if change.section == "users":
        user = change.key
        if change.op == "create":
            person(user).gains.append("a new account")
        elif change.op == "disable":
            person(user).loses.append("their account (disabled: no longer in the file)")
        elif change.op == "update" and "active" in (change.detail or {}):
            active = change.detail["active"]
            (person(user).gains if active else person(user).loses).append(
                "their account (" + ("enabled" if active else "disabled") + ")")
    elif change.section == "assignments" and len(parts) >= 3:
        user, role, program = parts[0], parts[1], parts[2]
        where = "every program" if program == "-" else f"program {program}"
        window = _window(parts[3:5])
        if change.op == "create":
            person(user).gains.append(f"role {role} in {where}{window}")
            assignments[role]["+"].add((user, program))
        elif change.op == "end":
            person(user).loses.append(f"role {role} in {where}{window}")
            assignments[role]["-"].add((user, program))
    elif change.section == "involvements" and len(parts) >= 3:
        user, participant, program = parts[0], parts[1], parts[2]
        what = f"case involvement with {participant} in {program}{_window(parts[3:5])}"
        if change.op == "create":
            person(user).gains.append(what)
        elif change.op == "end":
            person(user).loses.append(what)
    elif change.section == "enrollments" and len(parts) >= 2:
        verb = {"create": "enrolled in", "end": "no longer enrolled in"}.get(change.op)
        if verb:
            participants[parts[0]].append(f"{verb} {parts[1]}")
    elif change.section == "consents" and change.participant:
        verb = {"create": "new consent", "end": "consent ended",
                "update": "consent changed"}.get(change.op, change.op)
        participants[change.participant].append(f"{verb}: {change.key}")


def _window(parts: list[str]) -> str:
    start, end = (parts + ["-", "-"])[:2]
    if start == "-" and end == "-":
        return ""
    return (f" from {start[:10]}" if start != "-" else "") + (
        f" until {end[:10]}" if end != "-" else "")


def _role_impacts(session: Session, changes: list[Change],
                  assignments: dict[str, dict[str, set[tuple]]]) -> list[RoleImpact]:
    """Each role whose grants change, with the people who hold it once the plan is applied."""
    roles: dict[str, RoleImpact] = {}
    for change in changes:
        if change.section != "grants":
            continue
        role, pattern, action = (change.key.split(" ") + ["", "", ""])[:3]
        impact = roles.setdefault(role, RoleImpact(role))
        (impact.gains if change.op == "add" else impact.loses).append(f"{action} {pattern}")
    if not roles:
        return []
    held: dict[str, set[tuple]] = defaultdict(set)
    for role, user, program in session.execute(
            select(RoleAssignment.role_id, RoleAssignment.user_id,
                   RoleAssignment.program_id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.role_id.in_(list(roles)), RoleAssignment.ended_at.is_(None),
                   User.active.is_(True))):
        held[role].add((user, program or "-"))
    for role, impact in roles.items():
        after = (held[role] - assignments[role]["-"]) | assignments[role]["+"]
        holders = sorted({user for user, _program in after})
        impact.holders, impact.more_holders = (holders[:HOLDERS_SHOWN],
                                               max(0, len(holders) - HOLDERS_SHOWN))
    return [roles[r] for r in sorted(roles)]
