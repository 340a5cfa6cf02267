"""From what the directory says and what the store holds, the changes a sync would make.

Pure: no searches and no writes, so the dry run and the real run print the same plan. The rules
are contract section 8's: joiners, movers and leavers; assignments the directory made are its
own, others are left alone unless a mapping is authoritative; a run-time decision (a review's
revoke, an administrator's disable or end) is never undone and is listed as a conflict instead.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from governance.clock import iso
from governance.db import DIRECTORY
from governance.directory.reader import MAX_NESTING, DirectoryUser, DirectoryView, normal_dn
from governance.models import DirectoryGroupRole, RoleAssignment

Key = tuple[str, str, str | None]  # user, role, program


@dataclass(frozen=True)
class Step:
    op: str  # join | rename | update | leave | return | grant | end
    user: str
    detail: dict = field(default_factory=dict)

    def __str__(self) -> str:
        d = self.detail
        what = {
            "join": lambda: f"join {self.user} ({d.get('name') or 'no name'})",
            "rename": lambda: f"rename {d['from']} -> {self.user}",
            "update": lambda: f"update {self.user} "
                              + ", ".join(f"{k}: {v!r}" for k, v in d["changes"].items()),
            "leave": lambda: f"leave {self.user} ({d['why']})",
            "return": lambda: f"return {self.user} (back in the directory and not disabled)",
            "grant": lambda: f"grant {self.user} {d['role']} {d.get('program') or '-'} "
                             f"(member of {d['group']})",
            "end": lambda: f"end {self.user} {d['role']} {d.get('program') or '-'} ({d['why']})",
        }[self.op]
        return what()


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    directory_users: int = 0

    @property
    def leavers(self) -> list[Step]:
        return [s for s in self.steps if s.op == "leave"]

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for step in self.steps:
            counts[step.op] += 1
        return {op: counts[op] for op in ("join", "rename", "update", "leave", "return",
                                          "grant", "end")} | {"conflicts": len(self.conflicts)}


@dataclass
class Store:
    """What the plan needs from the database, read once (rows with the models' column names:
    ``id``, ``source``, ``active``, ``directory_uuid``... of users; ``id``, ``user_id``,
    ``role_id``, ``program_id``, ``source`` of live assignments)."""

    users: list
    live: list  # assignments not ended
    ended_outside: dict[Key, RoleAssignment]  # latest end by a person or a workflow, per key
    mappings: list[DirectoryGroupRole]


RUNTIME_ENDS = ("workflow", "console", "api", "cli")


def plan_sync(view: DirectoryView, store: Store, nested: bool) -> Plan:
    plan = Plan(directory_users=len(view.users) if view.complete else sum(
        1 for u in store.users if u.source == DIRECTORY and u.directory_uuid))
    by_uuid = {u.directory_uuid: u for u in store.users if u.directory_uuid}
    by_id = {u.id: u for u in store.users}
    seen = _accounts(view, store, by_uuid, by_id, plan)
    members = _membership(view, nested)
    # group DN -> (role, program, the mapping's DN): plain tuples, read 60,000 times a sync
    mapped: dict[str, list[tuple[str, str | None, str]]] = defaultdict(list)
    frozen: set[tuple[str, str | None]] = set()  # (role, program) of mappings whose group is gone
    for m in store.mappings:
        if normal_dn(m.group_dn) not in view.groups:
            plan.conflicts.append(f"skipped: group {m.group_dn} (mapped to {m.role_id} "
                                  f"{m.program_id or '-'}) is not in the directory; nothing "
                                  "it grants was changed")
            frozen.add((m.role_id, m.program_id))
            continue
        mapped[normal_dn(m.group_dn)].append((m.role_id, m.program_id, m.group_dn))
    desired: dict[Key, str] = {}
    for user in seen:
        if user.disabled:
            continue
        groups = members.get(normal_dn(user.dn), frozenset())
        if user.member_of:
            groups = groups | user.member_of
        for group in sorted(groups):
            for role, program, group_dn in mapped.get(group, ()):
                desired.setdefault((user.id, role, program), group_dn)
    _assignments(store, seen, desired, frozen, plan)
    plan.steps.sort(key=lambda s: (s.user, s.op, str(sorted(s.detail.items()))))
    plan.conflicts.sort()
    return plan


def _accounts(view: DirectoryView, store: Store, by_uuid: dict, by_id: dict, plan: Plan
              ) -> list[DirectoryUser]:
    """Joiners, renames, updates, leavers and returns; the users whose roles the plan sets."""
    seen: list[DirectoryUser] = []
    for entry in view.users:
        known = by_uuid.get(entry.uuid)
        if known is None:
            holder = by_id.get(entry.id)
            if holder is not None:
                plan.conflicts.append(
                    f"conflict: user {entry.id} of the directory ({entry.dn}) already exists, "
                    f"owned by {holder.source}; left as it is")
                continue
            if not entry.disabled:
                plan.steps.append(Step("join", entry.id, {
                    "name": entry.name, "email": entry.email, "dn": entry.dn,
                    "uuid": entry.uuid}))
                seen.append(entry)
            continue
        if known.id != entry.id:
            if entry.id in by_id:
                plan.conflicts.append(f"conflict: {known.id} was renamed {entry.id} in the "
                                      f"directory, but user {entry.id} already exists; left "
                                      "as it is")
                continue
            plan.steps.append(Step("rename", entry.id, {"from": known.id, "dn": entry.dn}))
        changes = {k: v for k, v in (("name", entry.name), ("email", entry.email),
                                      ("dn", entry.dn))
                   if v != getattr(known, "directory_dn" if k == "dn" else k)}
        if changes:
            plan.steps.append(Step("update", entry.id, {"changes": changes}))
        if entry.disabled and known.active:
            plan.steps.append(Step("leave", entry.id, {"why": "disabled in the directory"}))
        elif not entry.disabled and not known.active:
            if known.disabled_via == DIRECTORY:
                plan.steps.append(Step("return", entry.id))
            else:
                plan.conflicts.append(
                    f"conflict: user {entry.id} was disabled on {iso(known.disabled_at)} by "
                    f"{known.disabled_by} ({known.disabled_via}); left disabled")
                continue
        seen.append(entry)
    if view.complete:
        present = {u.uuid for u in view.users}
        for user in store.users:
            if (user.source == DIRECTORY and user.active and user.directory_uuid
                    and user.directory_uuid not in present):
                plan.steps.append(Step("leave", user.id, {"why": "gone from the directory"}))
    else:
        seen += _unchanged(view, store)
    return seen


def _unchanged(view: DirectoryView, store: Store) -> list[DirectoryUser]:
    """For a changed-only read, the directory's other users as the store last saw them (their
    groups were all read, so their roles are planned too). A deleted entry loses the roles of
    the groups it left at once; that it is gone, a changed-only read cannot see: the next full
    sync disables it, and sign-in refuses it before that."""
    changed = {u.uuid for u in view.users}
    return [DirectoryUser(u.id, u.directory_dn or "", u.directory_uuid, u.name, u.email,
                          disabled=not u.active)
            for u in store.users
            if u.source == DIRECTORY and u.directory_uuid and u.directory_uuid not in changed
            and (u.active or u.disabled_via == DIRECTORY)]


def _membership(view: DirectoryView, nested: bool) -> dict[str, set[str]]:
    """Member DN -> the groups it belongs to, through nested groups when asked (cycle-safe,
    at most MAX_NESTING levels)."""
    groups_of: dict[str, set[str]] = defaultdict(set)
    for group, members in view.groups.items():
        for member in members:
            groups_of[member].add(group)
    if not nested:
        return groups_of
    expanded: dict[str, set[str]] = {}
    for member in list(groups_of):
        found, frontier = set(groups_of[member]), set(groups_of[member])
        for _ in range(MAX_NESTING):
            frontier = {outer for g in frontier for outer in groups_of.get(g, ())} - found
            if not frontier:
                break
            found |= frontier
        expanded[member] = found
    return expanded


def _assignments(store: Store, seen: list[DirectoryUser], desired: dict[Key, str],
                 frozen: set[tuple[str, str | None]], plan: Plan) -> None:
    renamed = {s.detail["from"]: s.user for s in plan.steps if s.op == "rename"}
    live_keys: dict[Key, list[RoleAssignment]] = defaultdict(list)
    for a in store.live:
        _id, user, role, program, _source = a  # unpacked: a row's attributes cost more
        live_keys[(renamed.get(user, user), role, program)].append(a)
    leaving = {s.user for s in plan.steps if s.op == "leave"}
    for key, group in desired.items():
        if live_keys.get(key) or key[0] in leaving:
            continue
        blocked = store.ended_outside.get(key)
        if blocked is not None:
            plan.conflicts.append(
                f"conflict: assignment {key[1]} {key[2] or '-'} of {key[0]} was ended on "
                f"{iso(blocked.ended_at)} by {blocked.ended_by} ({blocked.ended_via}); left "
                "ended")
            continue
        plan.steps.append(Step("grant", key[0], {"role": key[1], "program": key[2],
                                                 "group": group}))
    authoritative = {(m.role_id, m.program_id) for m in store.mappings if m.authoritative}
    # An assignment of a role no mapping gives any more (its mapping was removed) ends too.
    managed = {u.id for u in seen} | leaving
    for key, rows in live_keys.items():
        if key in desired or (key[1], key[2]) in frozen:
            continue
        for a in rows:
            if a.source == DIRECTORY and key[0] in managed:
                why = ("left the directory" if key[0] in leaving
                       else "no longer a member of a group mapped to it")
            elif a.source != DIRECTORY and (key[1], key[2]) in authoritative:
                why = f"the directory is authoritative for {key[1]} {key[2] or '-'}"
            else:
                continue
            plan.steps.append(Step("end", key[0], {"role": key[1], "program": key[2],
                                                   "assignment": a.id, "why": why}))
