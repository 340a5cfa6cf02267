"""What each operation tells, and whom: the people who can act on it, or the person it is about,
never everyone. The operations send these after their commit (``governance.notify.deliver``).

- a request to decide (an override, an escalation) goes to those who may decide it, never to
  the requester, even when the requester approves such things elsewhere;
- a decision goes to the requester, naming who decided it and until when access runs;
- access about to end (once, an hour before), ended, lapsed, ended early by someone else or
  revoked in an access review goes to its holder;
- a break-glass use goes to those who close its review (never the user who broke the glass);
- review items go to each reviewer with the items that reviewer may decide (their programs,
  never their own access), so nobody is told of a campaign that has nothing for them; items
  nobody may decide are named to whoever opened the campaign.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from governance.models import Escalation, Override, ReviewCampaign, ReviewItem
from governance.notify import Notice
from governance.operations.approvers import approvers, reviewers


def _when(moment: datetime | None) -> str:
    return f"{moment:%d %b %Y %H:%M} UTC" if moment else "no date"


def _what(o: Override) -> str:
    return "break-glass access" if o.kind == "break_glass" else "override"


def _scope(o: Override) -> str:
    on = f" on {o.participant_id}" if o.participant_id else ""
    return f"{', '.join(o.actions)} {', '.join(o.fields)} in {o.program_id}{on}"


def override_requested(session: Session, o: Override, document: dict, now: datetime) -> Notice:
    return Notice("override.requested",
                  [u for u in approvers(session, "override", o.program_id, now) if u != o.user_id],
                  f"{o.user_id} asks for an override in {o.program_id}",
                  f"{o.user_id} asks to {_scope(o)} for {o.minutes} minutes. Reason: {o.reason}. "
                  "Approve or deny it on the Approvals page.", document, now, o.id)


def override_decided(o: Override, actor: str, document: dict, now: datetime) -> Notice:
    """To the requester, naming who decided (and, approved, until when it runs)."""
    if o.status == "approved":
        body = (f"{actor} approved your request to {_scope(o)}. It is active now, until "
                f"{_when(o.expires_at)}.")
    else:
        body = f"{actor} denied your request to {_scope(o)}."
    if o.note:
        body += f" Note: {o.note}"
    return Notice(f"override.{o.status}", [o.user_id],
                  f"Your override request in {o.program_id} was {o.status} by {actor}",
                  body, document, now, o.id)


def override_revoked(o: Override, actor: str, document: dict, now: datetime) -> list[Notice]:
    """To the holder when someone else ends their access early (nothing when they did)."""
    if actor == o.user_id:
        return []
    return [Notice("override.revoked", [o.user_id],
                   f"Your {_what(o)} in {o.program_id} was ended early by {actor}",
                   f"{actor} ended your access to {_scope(o)}."
                   + (f" Note: {o.note}" if o.note else ""), document, now, o.id)]


def override_lapsed(o: Override, minutes: int, document: dict, now: datetime) -> Notice:
    return Notice("override.lapsed", [o.user_id],
                  f"Your override request in {o.program_id} lapsed undecided",
                  f"Nobody decided your request to {_scope(o)} within {minutes} minutes, so it "
                  "lapsed. Ask again if you still need it.", document, now, o.id)


def override_expiring(o: Override, document: dict, now: datetime) -> Notice:
    return Notice("override.expiring", [o.user_id],
                  f"Your {_what(o)} in {o.program_id} ends at {_when(o.expires_at)}",
                  f"Your access to {_scope(o)} ends within the hour, at {_when(o.expires_at)}.",
                  document, now, o.id)


def override_expired(o: Override, document: dict, now: datetime) -> Notice:
    return Notice("override.expired", [o.user_id],
                  f"Your {_what(o)} in {o.program_id} has ended",
                  f"Your access to {_scope(o)} ended at {_when(o.expires_at)}; it no longer "
                  "grants access.", document, now, o.id)


def break_glass_used(session: Session, o: Override, document: dict, now: datetime) -> Notice:
    return Notice("break_glass.used",
                  [u for u in reviewers(session, o.program_id, now) if u != o.user_id],
                  f"Break-glass used by {o.user_id} on {o.participant_id}",
                  f"{o.user_id} broke the glass in {o.program_id}. Reason: {o.reason}. Review it "
                  "within the day on the Approvals page.", document, now, o.id)


def escalation_requested(session: Session, e: Escalation, document: dict, now: datetime
                         ) -> Notice:
    recipient = f" to {e.recipient_id}" if e.recipient_id else ""
    return Notice("escalation.requested",
                  [u for u in approvers(session, "escalation", e.program_id, now)
                   if u != e.user_id],
                  f"{e.user_id} asks for sign-off to {e.action} {e.participant_id}'s record",
                  f"{e.user_id} asks to {e.action} {', '.join(e.fields)} of {e.participant_id}"
                  f"{recipient}. Justification: {e.justification}. Approve or deny it on the "
                  "Approvals page.", document, now, e.id)


def escalation_decided(e: Escalation, actor: str, document: dict, now: datetime) -> Notice:
    body = f"{actor} {e.status} your escalation for {', '.join(e.fields)} of {e.participant_id}"
    body += f", valid until {_when(e.expires_at)}." if e.status == "approved" else "."
    if e.note:
        body += f" Note: {e.note}"
    return Notice(f"escalation.{e.status}", [e.user_id],
                  f"Your escalation for {e.participant_id} was {e.status} by {actor}", body,
                  document, now, e.id)


def review_assigned(session: Session, campaign: ReviewCampaign, items: list[ReviewItem],
                    now: datetime, *, event: str = "review.item_assigned",
                    prefix: str = "") -> list[Notice]:
    """One notice per group of reviewers with the same items to decide: each reviewer is told
    only of the items in their programs that are not their own access."""
    by_program = {p: set(reviewers(session, p or "", now)) for p in {i.program_id for i in items}}
    mine: dict[str, list[str]] = defaultdict(list)
    for item in items:
        for reviewer in by_program[item.program_id]:
            if reviewer != item.user_id:
                mine[reviewer].append(item.id)
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for reviewer, ids in sorted(mine.items()):
        groups[tuple(ids)].append(reviewer)
    then = "revoked" if campaign.on_no_decision == "revoke" else "kept"
    told = [Notice(event, people,
                   f"{prefix}Access review {campaign.id}: {_items(len(ids))} for you, due "
                   f"{_when(campaign.due)}",
                   "Keep or revoke each elevated assignment on the Reviews page; undecided "
                   f"items will be {then} at the due date.",
                   {"campaign": campaign.id, "items": list(ids)}, now, campaign.id)
            for ids, people in groups.items()]
    decided_by_someone = {i for ids in groups for i in ids}
    orphans = [i.id for i in items if i.id not in decided_by_someone]
    if orphans and campaign.created_by != "system":
        # Nobody may decide these (the only reviewer there is the person reviewed): the
        # campaign's owner hears of it, rather than the items quietly following the rule.
        told.append(Notice(
            "review.no_reviewer", [campaign.created_by],
            f"{prefix}Access review {campaign.id}: {_items(len(orphans))} nobody may decide",
            f"No reviewer may decide {_items(len(orphans))} (the only reviewers there are the "
            f"people reviewed); at the due date, {_when(campaign.due)}, they will be {then}.",
            {"campaign": campaign.id, "items": orphans}, now, campaign.id))
    return told


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def review_revoked(items: list[ReviewItem], by: str, now: datetime) -> list[Notice]:
    """To each holder whose access a review ended (by a reviewer, or by the campaign's
    ``on_no_decision: revoke`` at its due date): what ended and why."""
    ended: dict[str, list[ReviewItem]] = defaultdict(list)
    for item in items:
        ended[item.user_id].append(item)
    why = ("no reviewer decided by the campaign's due date, and its rule is to revoke"
           if by == "system" else f"{by} revoked it in an access review")
    return [Notice("review.access_revoked", [user],
                   f"Your access was revoked in access review {theirs[0].campaign_id}",
                   f"Ended now: {'; '.join(_reviewed(i) for i in theirs)}. Why: {why}.",
                   {"items": [i.id for i in theirs]}, now, theirs[0].campaign_id)
            for user, theirs in sorted(ended.items())]


def _reviewed(item: ReviewItem) -> str:
    what = item.role_id or item.kind.replace("_", "-")
    return f"{what} in {item.program_id or 'every program'}"
