"""The catalogue sections of an organisation-file apply: programs, fields, purposes, partners,
roles, the role matrix's grants (and the console's edits to it), bundles, and the directory's
group mapping.
"""
from __future__ import annotations

from sqlalchemy import select

from governance.clock import iso
from governance.db import CLI, FILE
from governance.models import CasbinRule, ConsoleGrantEdit, DirectoryGroupRole, Role
from governance.operations.apply_plan import _key
from governance.operations.local_accounts import ADMIN_ROLE
from governance.policy.enforcer import new_enforcer


class CatalogueSections:
    """Mixed into ``ApplyOrganisation``: uses its spec, session, actor, now, progress,
    ``replace_console_edits``, ``_record`` and ``_conflict``."""

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
                if model is Role and key == ADMIN_ROLE:  # taken over by an apply before ccc3781
                    self._conflict(f"role {key} is the first administrator's;",
                                   "left live: a file never retires it")
                    continue
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


def _edit_text(edit: ConsoleGrantEdit) -> str:
    return (f"{'added' if edit.op == 'add' else 'removed'} in the console on "
            f"{iso(edit.made_at)} by {edit.made_by}")
