"""What a compliance officer should look at now."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import Override, ReviewItem, Role, RoleAssignment, User
from governance.policy.snapshot import Window

GENERIC = re.compile(r"(^|[._-])(admin|shared|generic|frontdesk|front[._-]?desk|temp|test|"
                     r"user\d*|nurse\d*|staff\d*|team)([._-]|\d|$)", re.IGNORECASE)


def alerts(session: Session, now: datetime, *, unused_days: int = 30,
           break_glass_threshold: int = 3) -> dict:
    roles = {r.id: r for r in session.scalars(select(Role).where(Role.retired_at.is_(None)))}
    live = [a for a in session.scalars(select(RoleAssignment).where(
        RoleAssignment.ended_at.is_(None)))
        if Window(a.id, a.valid_from, a.valid_until).active(now)]
    reviewed = {}
    for item in session.scalars(select(ReviewItem).where(ReviewItem.status == "decided",
                                                         ReviewItem.assignment_id.is_not(None))):
        reviewed[item.assignment_id] = max(reviewed.get(item.assignment_id, item.decided_at),
                                           item.decided_at)
    unreviewed, overdue, unused = [], [], []
    for a in live:
        role = roles.get(a.role_id)
        if role is None:
            continue
        entry = {"user": a.user_id, "role": a.role_id, "program": a.program_id,
                 "assignment_id": a.id}
        if role.elevated:
            last = reviewed.get(a.id)
            if last is None:
                unreviewed.append(entry)
            elif role.review_every_days and last < now - timedelta(days=role.review_every_days):
                overdue.append({**entry, "last_reviewed": last.isoformat() + "Z"})
        reference = a.last_used_at or a.created_at
        if reference <= now - timedelta(days=unused_days):
            unused.append({**entry, "last_used_at": a.last_used_at and
                           a.last_used_at.isoformat() + "Z"})
    uses = Counter(session.scalars(select(Override.user_id).where(
        Override.kind == "break_glass", Override.requested_at > now - timedelta(days=30))))
    return {
        "elevated_never_reviewed": unreviewed,
        "elevated_review_overdue": overdue,
        f"unused_for_{unused_days}_days": unused,
        "shared_or_generic_accounts": [
            {"user": u.id, "name": u.name} for u in session.scalars(select(User).where(
                User.active.is_(True))) if GENERIC.search(u.id) or GENERIC.search(u.name or "")],
        "frequent_break_glass": [{"user": user, "uses_in_30_days": n}
                                 for user, n in sorted(uses.items()) if n >= break_glass_threshold],
    }
