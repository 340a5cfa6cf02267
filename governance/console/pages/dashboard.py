"""The dashboard, the console's home page (issue 14, item 2): what needs my attention (my
approvals, review items due, break-glass uses awaiting review, consents to renew, alerts) and
the last 14 days as charts. Each part is shown to those whose powers allow it, and a part's
link only once its page exists."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import current_app, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.console import bp
from governance.console.charts import FILLS, days_chart, denied_fields_chart, programs_chart
from governance.extension import state
from governance.models import Partner, Program, User
from governance.operations.alerts import alerts
from governance.reads import attention
from governance.reads.dashboard import Window, elevation_per_program, trail_figures
from governance.signin.powers import ADMIN, APPROVER, AUDITOR, ORDER, REVIEWER, Powers
from governance.signin.session import sign_in_required, signed_in_powers, signed_in_user

POWER_LABELS = dict(zip(ORDER, (
    "Administer: role matrix, organisation file, users, directory, API keys",
    "Audit: audit trail, accounting of disclosures, sampling audits, integrity check",
    "Review: access reviews",
    "Approve: override and escalation queues",
    "Request access for yourself",
    "Break the glass",
    "See your own access"), strict=True))

ALERT_LABELS = {  # alert: (count label, what one entry is)
    "elevated_never_reviewed": ("Elevated access never reviewed", "never reviewed"),
    "elevated_review_overdue": ("Elevated access overdue for review", "review overdue"),
    "shared_or_generic_accounts": ("Shared or generic accounts", "shared or generic account"),
    "frequent_break_glass": ("Frequent break-glass use (30 days)", "breaks the glass often"),
}
SEES_CHARTS = (ADMIN, AUDITOR)
SEES_CONSENTS = (ADMIN, AUDITOR, APPROVER)
SEES_ALERTS = (ADMIN, AUDITOR)


@dataclass
class Card:
    """One thing that may need attention: how many, the first few, where to act on them."""

    key: str
    title: str
    count: int
    lines: list[str] = field(default_factory=list)
    more: int = 0
    link: tuple[str, str] | None = None  # label, href
    empty: str = "Nothing waiting."
    breakdown: list[tuple[str, int]] = field(default_factory=list)


def page_link(endpoint: str, label: str) -> tuple[str, str] | None:
    """A link to a console page, or None while that page is not built."""
    full = f"{bp.name}.{endpoint}"
    return (label, url_for(full)) if full in current_app.view_functions else None


def _any(powers: Powers, wanted: tuple[str, ...]) -> bool:
    return any(p in powers for p in wanted)


def when(moment: datetime | None) -> str:
    return f"{moment:%d %b %Y, %H:%M} UTC" if moment else "no date"


def last_day(until: datetime) -> str:
    """A window's end as people declared it: ``until: 2027-01-01`` is in force all that day
    (stored as the next midnight, as the org file's export writes it back)."""
    if until.time() == time.min:
        return f"{until - timedelta(days=1):%d %b %Y}"
    return when(until)


class Names:
    """Display names of the users and programs a page mentions, read once per page."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.programs = {p: n for p, n in session.execute(select(Program.id, Program.name))}
        self.partners = {p: n for p, n in session.execute(select(Partner.id, Partner.name))}
        self.users: dict[str, str] = {}

    def learn(self, user_ids: set[str]) -> None:
        wanted = sorted(user_ids - set(self.users))
        if wanted:
            self.users.update((u, n or u) for u, n in self.session.execute(
                select(User.id, User.name).where(User.id.in_(wanted))))

    def user(self, user_id: str) -> str:
        name = self.users.get(user_id, user_id)
        return name if name == user_id else f"{name} ({user_id})"

    def recipient(self, partner_id: str | None) -> str:
        return f" to {self.partners.get(partner_id, partner_id)}" if partner_id else ""

    def program(self, program_id: str | None) -> str:
        return self.programs.get(program_id, program_id or "every program")


def approval_card(session: Session, user: str, now: datetime, names: Names) -> Card:
    pending_minutes = int(current_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"])
    overrides = attention.overrides_to_decide(session, user, now,
                                              pending_minutes=pending_minutes)
    escalations = attention.escalations_to_decide(session, user, now)
    names.learn({o.user_id for o in overrides.items} | {e.user_id for e in escalations.items})
    lines = [f"Override: {names.user(o.user_id)} asks to {', '.join(o.actions)} "
             f"{', '.join(o.fields)} in {names.program(o.program_id)} for {o.minutes} minutes "
             f"(asked {when(o.requested_at)})" for o in overrides.items]
    lines += [f"Escalation: {names.user(e.user_id)} asks to {e.action} {', '.join(e.fields)} "
              f"of {e.participant_id}{names.recipient(e.recipient_id)} "
              f"(asked {when(e.requested_at)})" for e in escalations.items]
    return Card("approvals", "Approvals waiting for you", overrides.count + escalations.count,
                lines, overrides.more + escalations.more,
                page_link("approvals", "Open Approvals"),
                "Nobody is waiting for your approval.",
                [("Override requests", overrides.count), ("Escalations", escalations.count)])


def review_card(session: Session, user: str, now: datetime, names: Names) -> Card:
    due = attention.review_items_due(session, user, now)
    names.learn({d.item.user_id for d in due.items})
    lines = [f"{names.user(d.item.user_id)}: {d.item.role_id or d.item.kind} in "
             f"{names.program(d.item.program_id)}, due {d.due:%d %b %Y}"
             + (" (overdue)" if d.due <= now else "")
             + (f", recommended: {d.item.recommendation}" if d.item.recommendation else "")
             for d in due.items]
    return Card("reviews", "Access review items due", due.count, lines, due.more,
                page_link("reviews", "Open Reviews"), "No review item waits for you.")


def overdue_card(session: Session, now: datetime, powers: Powers) -> Card:
    """Campaigns past their due date, and what their stated rule will do to the undecided."""
    overdue = attention.overdue_campaigns(session, now)
    lines = [f"{o.campaign.id}, due {when(o.campaign.due)}: {o.undecided:,} undecided "
             f"item{'' if o.undecided == 1 else 's'} will be "
             f"{'revoked' if o.campaign.on_no_decision == 'revoke' else 'kept'} "
             f"(on_no_decision: {o.campaign.on_no_decision}) when reviews run-due next runs"
             for o in overdue.items]
    # Auditors see the card too; only reviewers may open the campaigns.
    link = page_link("review_campaigns", "Open the overdue campaigns") \
        if REVIEWER in powers else None
    if link is not None:
        link = (link[0], url_for(f"{bp.name}.review_campaigns", state="overdue"))
    return Card("overdue_reviews", "Overdue access reviews", overdue.count, lines,
                overdue.more, link, "No access review is overdue.")


def break_glass_card(session: Session, user: str, powers: Powers, now: datetime,
                     names: Names) -> Card:
    uses = attention.break_glass_to_review(session, user, now, everywhere=AUDITOR in powers)
    names.learn({i.user_id for i in uses.items})
    lines = [f"{names.user(i.user_id)} in {names.program(i.program_id)}, "
             f"{when(i.created_at)}" for i in uses.items]
    link = page_link("approvals", "Open Approvals") if APPROVER in powers else None
    return Card("break_glass", "Break-glass uses awaiting review", uses.count, lines,
                uses.more, link, "No break-glass use awaits review.")


def consent_card(session: Session, now: datetime, names: Names) -> Card:
    renew = attention.consents_to_renew(session, now)
    lines = []
    for c in renew.items:
        why = (f"flagged: {c.needs_renewal.replace('_', ' ')}" if c.needs_renewal
               else f"in force until {last_day(c.valid_until)}")
        to = (", ".join(names.partners.get(p, p) for p in c.partners)
              or ", ".join(f"any {t}" for t in c.partner_types) or "any recipient")
        lines.append(f"{c.participant_id}, to {to} for {', '.join(c.purposes)}: {why}")
    return Card("consents", "Consents to renew", renew.count, lines, renew.more,
                page_link("consents_to_renew", "Open the consents to renew"),
                f"No consent is flagged or ends within {attention.RENEW_WITHIN_DAYS} days.")


def alert_card(session: Session, now: datetime, names: Names) -> Card:
    found = alerts(session, now, break_glass_threshold=int(
        current_app.config["GOVERNANCE_BREAK_GLASS_ALERT"]))
    labels = {key: ALERT_LABELS.get(key, (key.replace("_", " ").capitalize(),
                                          key.replace("_", " "))) for key in found}
    entries = [(key, e) for key, listed in found.items() for e in listed]
    shown = entries[:attention.SHOWN]
    names.learn({e["user"] for _, e in shown})
    lines = []
    for key, e in shown:
        where = f" in {names.program(e['program'])}" if e.get("program") else ""
        role = f", {e['role']}{where}" if e.get("role") else ""
        uses = f", {e['uses_in_30_days']} uses" if e.get("uses_in_30_days") else ""
        lines.append(f"{names.user(e['user'])}{role}{uses}: {labels[key][1]}")
    return Card("alerts", "Alerts", len(entries), lines, len(entries) - len(lines),
                page_link("access_explorer", "Open Access explorer"), "No alert.",
                [(labels[key][0], len(listed)) for key, listed in found.items() if listed])


def own_card(session: Session, user: str, now: datetime, names: Names) -> Card:
    mine = attention.own_requests(session, user, now, pending_minutes=int(
        current_app.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"]))
    lines = [f"Override: {', '.join(o.actions)} {', '.join(o.fields)} in "
             f"{names.program(o.program_id)}, asked {when(o.requested_at)}: awaiting approval"
             for o in mine.overrides.items]
    lines += [f"Escalation: {e.action} {', '.join(e.fields)} of {e.participant_id}, asked "
              f"{when(e.requested_at)}: awaiting sign-off" for e in mine.escalations.items]
    lines += [f"Break-glass in {names.program(i.program_id)}, {when(i.created_at)}: awaiting "
              "its review" for i in mine.break_glass.items]
    return Card("mine", "Your requests waiting on others", mine.count, lines[:attention.SHOWN],
                mine.count - min(len(lines), attention.SHOWN),
                page_link("requests", "Open Requests"),
                "Nothing you asked for is waiting.")


def attention_cards(session: Session, user: str, powers: Powers, now: datetime) -> list[Card]:
    """The cards this user's powers show, in the order a working day takes them."""
    names = Names(session)
    cards = []
    if APPROVER in powers:
        cards.append(approval_card(session, user, now, names))
    if REVIEWER in powers:
        cards.append(review_card(session, user, now, names))
    if REVIEWER in powers or AUDITOR in powers:
        overdue = overdue_card(session, now, powers)
        if overdue.count:  # a missed deadline is shown; no card while none is missed
            cards.append(overdue)
    if APPROVER in powers or AUDITOR in powers:
        cards.append(break_glass_card(session, user, powers, now, names))
    if _any(powers, SEES_CONSENTS):
        cards.append(consent_card(session, now, names))
    if _any(powers, SEES_ALERTS):
        cards.append(alert_card(session, now, names))
    mine = own_card(session, user, now, names)
    if mine.count or not cards:  # shown when it has something, or when nothing else is
        cards.append(mine)
    return cards


def charts(session: Session, now: datetime) -> dict:
    window = Window.ending(now)
    trail = trail_figures(session, window)
    return {"window": window, "days": days_chart(trail.days),
            "fields": denied_fields_chart(trail.fields),
            "programs": programs_chart(elevation_per_program(session, window))}


@bp.get("/", endpoint="home")
@sign_in_required
def home():
    """The dashboard."""
    user, powers, now = signed_in_user(), signed_in_powers(), state().clock()
    session = state().session
    return render_template(
        "governance/console/home.html", powers=powers, now=now,
        labels=[POWER_LABELS[p] for p in powers.names],
        cards=attention_cards(session, user.id, powers, now),
        charts=charts(session, now) if _any(powers, SEES_CHARTS) else None,
        fills=FILLS)
