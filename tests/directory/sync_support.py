"""What the directory sync tests (tests/directory/test_sync_*.py) share: the app's LDAP settings
for a private slapd, the mapped groups and the ``Directory`` that drives a sync (the
``directory`` fixture, in tests/directory/conftest.py, is one set up as below).

Each test starts its own slapd (tests/directory/slapd.py) and an app whose org file maps
``housing-cm`` to case_manager, ``housing-sup`` to supervisor and ``records`` (authoritative)
to records; fiona and carl are the file's users.
"""
from __future__ import annotations

from sqlalchemy import select

from governance.extension import state
from governance.models import AuditEvent, RoleAssignment, User


def ldap_config(server, **extra) -> dict:
    return {"GOVERNANCE_LDAP_URL": server.url, "GOVERNANCE_LDAP_START_TLS": True,
            "GOVERNANCE_LDAP_CA_FILE": server.ca_file,
            "GOVERNANCE_LDAP_BIND_DN": server.reader_dn,
            "GOVERNANCE_LDAP_BIND_PASSWORD": server.reader_password,
            "GOVERNANCE_LDAP_USER_BASE": server.people_dn,
            "GOVERNANCE_LDAP_GROUP_BASE": server.groups_dn, **extra}


MAPPED = ("housing-cm", "housing-sup", "records")


class Directory:
    def __init__(self, app, server):
        self.app, self.server = app, server

    def sync(self, *flags: str, ok: bool = True):
        result = self.app.test_cli_runner().invoke(args=["governance", "directory", "sync",
                                                         *flags])
        assert (result.exit_code == 0) is ok, result.output
        return result.output

    def roles(self, user: str) -> set[tuple[str, str | None, str]]:
        with self.app.app_context():
            session = state(self.app).session
            return {(a.role_id, a.program_id, a.source) for a in session.scalars(
                select(RoleAssignment).where(RoleAssignment.user_id == user,
                                             RoleAssignment.ended_at.is_(None)))}

    def user(self, user_id: str) -> User | None:
        with self.app.app_context():
            user = state(self.app).session.get(User, user_id)
            if user is not None:
                state(self.app).session.expunge(user)
            return user

    def audit_kinds(self) -> list[str]:
        with self.app.app_context():
            return list(state(self.app).session.scalars(
                select(AuditEvent.kind).order_by(AuditEvent.seq)))

    def people(self, *uids: str, **groups: list[str]) -> None:
        for uid in uids:
            self.server.add_user(uid, cn=f"{uid.title()} Person", mail=f"{uid}@example.org")
        for cn, members in groups.items():
            self.server.set_members(cn.replace("_", "-"), [self.server.user_dn(m)
                                                          for m in members])
