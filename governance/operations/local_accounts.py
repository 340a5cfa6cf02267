"""Local accounts: the first administrator, and passwords set from the command line.

A local account signs in with an argon2 hash kept here; a directory user's password lives in
the directory and is never set here. The administrator's power comes, like every console power,
from a role: ``governance_admin`` (organisation-wide, ``console: [admin, auditor, reviewer]``),
created the first time it is needed, owned by the CLI so that no apply of the org file retires
it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from governance import audit
from governance.db import CLI, DIRECTORY
from governance.models import Role, RoleAssignment, User
from governance.operations.common import locked_row, optional_text, require_text
from governance.operations.errors import Conflict, Invalid, NotFound, Refused
from governance.operations.state import bump_revision
from governance.orgfile.schema import ID_MAX_CHARS, ID_PATTERN
from governance.signin.passwords import MAX_PASSWORD_CHARS, hash_password
from governance.signin.powers import CONSOLE_POWERS

ADMIN_ROLE = "governance_admin"
# NIST SP 800-63B (rev. 4): at least 15 characters for a password that is the only factor.
MIN_PASSWORD_CHARS = 15


def check_new_password(password: object) -> str:
    """A password good enough to set (400 naming the rule otherwise)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(f"password: at least {MIN_PASSWORD_CHARS} characters",
                      {"password": f"at least {MIN_PASSWORD_CHARS} characters"})
    if len(password) > MAX_PASSWORD_CHARS:
        raise Invalid(f"password: at most {MAX_PASSWORD_CHARS} characters",
                      {"password": f"at most {MAX_PASSWORD_CHARS} characters"})
    return password


@dataclass
class CreateAdmin:
    user_id: str
    name: str | None
    password: str
    now: datetime
    actor: str = "cli"

    def execute(self, session: Session) -> User:
        user_id = require_text(self.user_id, "user")
        # An id the org file could not declare would make `export` write a file `apply`
        # refuses.
        if len(user_id) > ID_MAX_CHARS or not re.fullmatch(ID_PATTERN, user_id):
            raise Invalid.naming({"user": f"at most {ID_MAX_CHARS} letters, digits, '_', '.', "
                                          "'@' or '-', starting with a letter or digit (as "
                                          "in the org file)"})
        password_hash = hash_password(check_new_password(self.password))
        if locked_row(session, User, user_id) is not None:
            raise Conflict(f"user '{user_id}' already exists; give it the role "
                           f"{ADMIN_ROLE}, or set its password with `user set-password`",
                           {"user": "exists"})
        role = self._admin_role(session)
        user = User(id=user_id, name=optional_text(self.name, "name"), active=True,
                    source=CLI, password_hash=password_hash, created_at=self.now)
        session.add(user)
        session.add(RoleAssignment(user_id=user_id, role_id=role.id, program_id=None,
                                   source=CLI, created_at=self.now, created_by=self.actor,
                                   reason="first administrator (user create-admin)"))
        bump_revision(session)
        session.flush()
        audit.append(session, "user.created", {"id": user_id, "name": user.name,
                                               "source": CLI, "roles": [role.id]},
                     actor=self.actor, subject=user_id, ref=user_id, at=self.now)
        session.commit()
        return user

    def _admin_role(self, session: Session) -> Role:
        role = session.get(Role, ADMIN_ROLE)
        if role is None:
            role = Role(id=ADMIN_ROLE, name="Need-to-Know administrator", scope="organization",
                        console=list(CONSOLE_POWERS), approves=[], source=CLI,
                        created_at=self.now,
                        description="Console administrator (created by user create-admin)")
            session.add(role)
            session.flush()
            audit.append(session, "role.created", {"id": role.id, "console": role.console,
                                                   "source": CLI},
                         actor=self.actor, ref=role.id, at=self.now)
        elif role.retired_at is not None or "admin" not in (role.console or []):
            raise Refused(f"role {ADMIN_ROLE} exists but is retired or lacks the admin power; "
                          "restore it in the org file first", {"role": "not an admin role"})
        return role


@dataclass
class SetPassword:
    user_id: str
    password: str
    now: datetime
    actor: str = "cli"

    def execute(self, session: Session) -> User:
        user_id = require_text(self.user_id, "user")
        password_hash = hash_password(check_new_password(self.password))
        user = locked_row(session, User, user_id)
        if user is None:
            raise NotFound(f"no user '{user_id}'", {"user": "unknown"})
        if user.source == DIRECTORY:
            raise Refused(f"user '{user_id}' comes from the directory, whose password it "
                          "signs in with; change it there", {"user": "directory user"})
        first = user.password_hash is None
        user.password_hash = password_hash
        user.failed_sign_ins, user.failures_since, user.locked_until = 0, None, None
        audit.append(session, "user.password_set", {"id": user_id, "first": first},
                     actor=self.actor, subject=user_id, ref=user_id, at=self.now)
        session.commit()
        return user
