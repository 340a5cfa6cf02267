"""How the Reviews pages put campaigns and items into words: whose access, its last use, the
recommendation, and what a campaign's ``on_no_decision`` rule does (or did) at its due date."""
from __future__ import annotations

from datetime import datetime

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.console.paged import query_text
from governance.console.pages.dashboard import Names, last_day, when
from governance.models import ReviewCampaign, Role
from governance.reads.reviews import ItemRow, Page, Progress


def describers(names: ReviewNames) -> dict:
    """What the item tables call to put a row into words."""
    return {"person": names.person, "access": names.access, "ago": ago, "ends": ends,
            "recommendation": recommendation}


class ReviewNames(Names):
    """Names of users, programs and roles, read once per page."""

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.roles = {r: n or r for r, n in session.execute(select(Role.id, Role.name))}

    def role(self, role_id: str | None) -> str:
        return self.roles.get(role_id, role_id or "")

    def person(self, row: ItemRow) -> str:
        name = row.user_name or row.item.user_id
        return name if name == row.item.user_id else f"{name} ({row.item.user_id})"

    def access(self, row: ItemRow) -> str:
        """What the item reviews: a role in a program, or an override."""
        item = row.item
        if item.kind == "override":
            return f"Override in {self.program(item.program_id)}"
        where = self.program(item.program_id) if item.program_id else "every program"
        return f"{self.role(item.role_id)} in {where}"

    def scope(self, campaign: ReviewCampaign) -> str:
        """What a campaign reviews, as its title: "supervisor in Rapid Rehousing"."""
        roles = ", ".join(self.role(r) for r in campaign.roles) or "Every elevated role"
        programs = ", ".join(self.program(p) for p in campaign.programs) or "every program"
        return f"{roles} in {programs}"

    def chart_label(self, campaign: ReviewCampaign) -> str:
        """A campaign's bar label: its title and due day, short enough for the chart."""
        title = self.scope(campaign)
        title = title if len(title) <= 38 else title[:37] + "…"
        return f"{title}, {campaign.due:%d %b}"


def day(moment: datetime | None) -> str:
    return f"{moment:%d %b %Y}" if moment else ""


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never used"
    days = (now - moment).days
    when_text = "today" if days <= 0 else "yesterday" if days == 1 else f"{days:,} days ago"
    return f"{moment:%d %b %Y} ({when_text})"


def recommendation(row: ItemRow) -> str:
    if row.item.recommendation == "revoke":
        return ("Revoke: never used" if row.item.last_used_at is None
                else f"Revoke: unused for {row.unused_days} days or more")
    if row.item.kind == "override":
        return "Keep: an active override (it ends by itself)"
    if row.item.last_used_at is None:
        return f"Keep: granted less than {row.unused_days} days ago"
    return f"Keep: used within {row.unused_days} days"


def ends(row: ItemRow) -> str:
    return until(row.ends_at) if row.ends_at else "no end date"


def until(moment: datetime) -> str:
    """An access's end as people declared it (``until: 2027-06-30`` is in force that day)."""
    return f"in force until {last_day(moment)}"


def rule_words(on_no_decision: str) -> str:
    return "revoked" if on_no_decision == "revoke" else "kept"


def rule_statement(campaign: ReviewCampaign, progress: Progress, now: datetime) -> str:
    """What ``on_no_decision`` will do, or did, to the undecided items."""
    words = rule_words(campaign.on_no_decision)
    if campaign.status == "closed":
        by_rule = (progress.revoked_by_rule if campaign.on_no_decision == "revoke"
                   else progress.kept_by_rule)
        return (f"Closed {when(campaign.closed_at)}: {by_rule:,} undecided "
                f"item{'' if by_rule == 1 else 's'} {'was' if by_rule == 1 else 'were'} "
                f"{words} by the rule.")
    n = progress.undecided
    items = f"{n:,} undecided item{'' if n == 1 else 's'}"
    if campaign.due <= now:
        return (f"Overdue since {when(campaign.due)}: the next run of reviews run-due closes it, "
                f"and its {items} will be {words}.")
    return f"At {when(campaign.due)}, any item still undecided will be {words} ({items} now)."


def text_arg(name: str) -> str | None:
    return query_text(name) or None


def page_links(page: Page, endpoint: str, args: dict, **values: str) -> dict:
    """Previous and next links of a paged list, keeping its filters."""
    keep = {k: v for k, v in args.items() if v}

    def link(n: int) -> str:
        return url_for(endpoint, **values, **keep, page=n)

    return {"previous": link(page.page - 1) if page.page > 1 else None,
            "next": link(page.page + 1) if page.page < page.pages else None}
