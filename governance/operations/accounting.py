"""Accounting of disclosures (45 CFR 164.528) and the monthly sampling audit."""
from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import CONSOLE
from governance.errors import Invalid
from governance.models import Consent, Disclosure, Field, Participant, Partner, Purpose
from governance.operations.common import load_decision
from governance.operations.errors import NotFound

DEFAULT_WINDOW = timedelta(days=6 * 365 + 1)


def accounting(session: Session, participant_id: str, now: datetime, *,
               accountable_only: bool = False, since: datetime | None = None,
               until: datetime | None = None) -> list[dict]:
    """Every disclosure of the participant's information in the window, newest first."""
    if session.get(Participant, participant_id) is None:
        raise NotFound(f"no participant '{participant_id}'")
    query = select(Disclosure).where(Disclosure.participant_id == participant_id,
                                     Disclosure.at >= (since or now - DEFAULT_WINDOW),
                                     Disclosure.at < (until or now + timedelta(seconds=1)))
    if accountable_only:
        query = query.where(Disclosure.accountable.is_(True))
    rows = session.scalars(query.order_by(Disclosure.at.desc(), Disclosure.id)).all()
    partners = {p.id: p for p in session.scalars(select(Partner))}
    purposes = {p.id: p for p in session.scalars(select(Purpose))}
    fields = {f.id: f for f in session.scalars(select(Field))}
    return [_entry(d, partners.get(d.recipient_id), purposes.get(d.purpose_id), fields)
            for d in rows]


def _entry(d: Disclosure, partner: Partner | None, purpose: Purpose | None,
           fields: dict[str, Field]) -> dict:
    described = [fields[f].description or f if f in fields else f for f in d.fields]
    permission = d.permission or {}
    return {
        "disclosure_id": d.id, "date": d.at.isoformat(timespec="seconds") + "Z",
        "recipient": partner.name if partner else d.recipient_id,
        "recipient_address": partner.address if partner else None,
        "information": "; ".join(described),
        "fields": d.fields,
        "purpose": (purpose.description if purpose and purpose.description
                    else d.purpose_id.replace("_", " ")),
        "purpose_id": d.purpose_id,
        "permission": permission_text(permission),
        "sent_by": d.actor,
        "accountable": d.accountable,
    }


def permission_text(permission: dict) -> str:
    parts = [f"consent {c}" for c in permission.get("consents", [])]
    parts += [f"escalation {e}" for e in permission.get("escalations", [])]
    if permission.get("legal_basis"):
        parts.append(f"legal basis: {permission['legal_basis']}")
    return "; ".join(parts)


CSV_COLUMNS = ("date", "recipient", "recipient_address", "information", "purpose", "permission",
               "sent_by", "accountable", "disclosure_id")
# A spreadsheet runs a cell starting with one of these as a formula; partner names, addresses
# and descriptions are typed by people, so such a cell is written with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def accounting_csv(entries: list[dict]) -> str:
    """The accounting as CSV (``CSV_COLUMNS``), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow([_cell(entry.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def month_bounds(month: str | None, now: datetime) -> tuple[datetime, datetime]:
    """``YYYY-MM`` (default: last month) as [first day, first day of the next month)."""
    if month is None:
        first_this = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        start = (first_this - timedelta(days=1)).replace(day=1)
    else:
        start = datetime.strptime(month, "%Y-%m")
        if start.year >= 9999:  # the month after it, where the range ends, is no date
            raise Invalid.naming({"month": "a month before 9999-12"})
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def sampling_audit(session: Session, month: str | None, size: int, now: datetime,
                   seed: int | None = None) -> dict:
    """Check a random sample of a month's disclosures against decision, consent and bundle."""
    start, end = month_bounds(month, now)
    # The draw is over the month's ids (the same draw as over its rows); only the sample's
    # rows are read, so a busy month costs one narrow query.
    population = session.scalars(select(Disclosure.id).where(
        Disclosure.at >= start, Disclosure.at < end).order_by(Disclosure.id)).all()
    drawn = random.Random(seed).sample(population, min(size, len(population)))
    rows = {d.id: d for d in session.scalars(select(Disclosure).where(
        Disclosure.id.in_(drawn)))} if drawn else {}
    sample = [rows[i] for i in drawn]
    report = [{"disclosure_id": d.id, "exceptions": exceptions_of(session, d)} for d in sample]
    return {"month": start.strftime("%Y-%m"), "population": len(population),
            "sampled": len(sample),
            "exceptions": [r for r in report if r["exceptions"]],
            "checked": [r["disclosure_id"] for r in report]}


def exceptions_of(session: Session, d: Disclosure) -> list[str]:
    found = []
    try:
        decision = load_decision(session, d.decision_id)
    except NotFound:
        return ["its decision is missing from the audit trail"]
    outside = set(d.fields) - set(decision["allowed"])
    if outside:
        found.append(f"sent fields the decision did not allow: {sorted(outside)}")
    for consent_id in (d.permission or {}).get("consents", []):
        consent = session.get(Consent, consent_id)
        if consent is None:
            found.append(f"cited consent {consent_id} does not exist")
        elif consent.revoked_at is not None and consent.revoked_at <= d.at:
            found.append(f"cited consent {consent_id} was revoked before the disclosure")
    if d.bundle_id and "cover_sheet" not in (d.obligations or []):
        found.append("a bundle disclosure without a cover sheet obligation")
    if d.basis in ("emergency", "required_by_law") and not (d.justification or "").strip():
        found.append(f"{d.basis} disclosure without a recorded rationale")
    if d.review_status == "pending":
        found.append("emergency disclosure whose after-the-fact review is not completed")
    return found


@dataclass
class RecordAccountingExport:
    """An accounting handed out (a participant's request under 45 CFR 164.528 is documented):
    one audit row naming whose, which filters and how many entries."""

    actor: str
    participant_id: str
    filters: dict
    entries: int
    now: datetime
    via: str = CONSOLE

    def execute(self, session: Session) -> None:
        audit.append(session, "accounting.exported", {
            "participant": self.participant_id, "filters": self.filters,
            "entries": self.entries, "via": self.via}, actor=self.actor,
            participant=self.participant_id, at=self.now)
        session.commit()
