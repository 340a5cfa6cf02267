"""Reading the Directory page: the people the service knows (filterable, paginated), where the
last directory sync left off, and which directory groups give which roles."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from governance.models import DirectoryGroupRole, DirectorySync, Program, Role, User
from governance.reads.access import Page

STATUSES = ("active", "disabled", "locked")


@dataclass(frozen=True)
class UserFilter:
    text: str = ""  # part of the id, name or e-mail address
    source: str = ""  # file, directory, api, console, cli; empty: any
    status: str = ""  # one of STATUSES; empty: any


@dataclass(frozen=True)
class GroupMapping:
    group_dn: str
    role: str
    program: str | None  # its name; None: organisation-wide
    authoritative: bool


def user_page(session: Session, wanted: UserFilter, now: datetime, page: int,
              per_page: int) -> Page:
    """One page of users matching ``wanted``, by id."""
    query = select(User)
    if wanted.text:
        needle = wanted.text.lower()
        query = query.where(or_(*(func.lower(column).contains(needle, autoescape=True)
                                  for column in (User.id, User.name, User.email))))
    if wanted.source:
        query = query.where(User.source == wanted.source)
    if wanted.status == "active":
        query = query.where(User.active.is_(True))
    elif wanted.status == "disabled":
        query = query.where(User.active.is_(False))
    elif wanted.status == "locked":
        query = query.where(User.locked_until > now)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = min(max(1, page), max(1, -(-total // per_page)))
    users = list(session.scalars(query.order_by(User.id).offset((page - 1) * per_page)
                                 .limit(per_page)))
    return Page(users, total, page, per_page)


def user_sources(session: Session) -> list[str]:
    return list(session.scalars(select(User.source).distinct().order_by(User.source)))


def last_sync(session: Session) -> DirectorySync | None:
    return session.get(DirectorySync, 1)


def group_mappings(session: Session) -> list[GroupMapping]:
    """The org file's ``directory.group_roles`` in force, by group."""
    rows = session.execute(
        select(DirectoryGroupRole, Role.id, Program.name)
        .join(Role, Role.id == DirectoryGroupRole.role_id)
        .outerjoin(Program, Program.id == DirectoryGroupRole.program_id)
        .where(DirectoryGroupRole.retired_at.is_(None))
        .order_by(DirectoryGroupRole.group_dn, Role.id)).all()
    return [GroupMapping(m.group_dn, role, program, bool(m.authoritative))
            for m, role, program in rows]

