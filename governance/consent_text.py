"""What a consent means, in words a participant can read, and what it would release."""
from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import Bundle, Consent, Field, Partner, Purpose
from governance.policy.patterns import ENTIRE_RECORD, expand, matches_any

LABEL_WORDS = {"sud": "substance use treatment records", "psychotherapy_notes":
               "psychotherapy notes", "hiv": "HIV-related information", "dv":
               "domestic violence and safety information", "minor": "information about minors",
               "third_party": "information about other people"}


def plain_summary(session: Session, c: Consent) -> str:
    """"What will be shared, with whom, why, until when", in one short paragraph."""
    what = _what(session, c.fields)
    whom = _whom(session, c)
    purposes = {p.id: p for p in session.scalars(select(Purpose))}
    why = ", ".join((purposes[p].description or p.replace("_", " ")) if p in purposes
                    else p.replace("_", " ") for p in c.purposes)
    start = c.valid_from.strftime("%B %d, %Y") if c.valid_from else "the day you signed"
    # A whole-day window is stored as the next midnight; say the last day it covers.
    last = c.valid_until and (c.valid_until - timedelta(days=1) if c.valid_until.time() == time.min
                              else c.valid_until)
    until = f"through {last.strftime('%B %d, %Y')}" if last else "until you withdraw it"
    text = (f"You agreed that we may share {what} with {whom}, for {why}. "
            f"This permission runs from {start} {until}.")
    if c.exclude_labels:
        excluded = ", ".join(LABEL_WORDS.get(x, x.replace("_", " ")) for x in c.exclude_labels)
        text += f" We will never share {excluded} under this permission."
    if c.status == "revoked":
        text += " You withdrew this permission; nothing more is shared under it."
    text += " You can withdraw or change it at any time by telling your worker."
    return text


def _what(session: Session, patterns: list[str]) -> str:
    if ENTIRE_RECORD in patterns:
        return "your whole record"
    described = {f.id: f.description for f in session.scalars(select(Field))}
    parts = []
    for pattern in patterns:
        if pattern.endswith(".*"):
            parts.append(f"your {pattern[:-2].replace('_', ' ')} information")
        else:
            parts.append(described.get(pattern) or pattern.replace(".", " ").replace("_", " "))
    return _and(parts)


def _and(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _whom(session: Session, c: Consent) -> str:
    names = [p.name for p in session.scalars(select(Partner).where(Partner.id.in_(c.partners)))]
    names += [f"any {t.replace('_', ' ')} partner" for t in c.partner_types]
    return _and(names) if names else "nobody"


def preview(session: Session, c: Consent, bundle_id: str, recipient_id: str | None) -> dict:
    """Per field of a bundle: would this consent release it to the recipient, and if not why."""
    bundle = session.get(Bundle, bundle_id)
    if bundle is None:
        return {}
    catalogue = _catalogue(session)
    recipient = session.get(Partner, recipient_id) if recipient_id else None
    covers_recipient = recipient is not None and (
        recipient.id in c.partners or recipient.type in c.partner_types)
    released, withheld = _release(bundle, c, catalogue, covers_recipient)
    return {"bundle": bundle.id, "purpose": bundle.purpose_id,
            "recipient": recipient.id if recipient else None,
            "released": released, "withheld": withheld}


def bundle_previews(session: Session, consents: list[Consent]) -> dict[str, list[dict]]:
    """Per consent: each bundle of a purpose it covers, the recipients it names that the bundle
    may go to, and which of the bundle's fields it would release to them (and why not)."""
    purposes = sorted({p for c in consents for p in c.purposes})
    bundles = list(session.scalars(select(Bundle).where(
        Bundle.retired_at.is_(None), Bundle.purpose_id.in_(purposes)).order_by(Bundle.id)))
    if not bundles:
        return {c.id: [] for c in consents}
    catalogue = _catalogue(session)
    partners = {p.id: p for p in session.scalars(select(Partner).where(
        Partner.id.in_(sorted({p for c in consents for p in c.partners}))))}
    previews: dict[str, list[dict]] = {}
    for c in consents:
        previews[c.id] = []
        for bundle in bundles:
            if bundle.purpose_id not in c.purposes:
                continue
            types = set(bundle.partner_types or [])
            recipients = [partners[p].name for p in c.partners
                          if p in partners and partners[p].type in types]
            recipients += [f"any {t.replace('_', ' ')} partner" for t in c.partner_types
                           if t in types]
            if recipients:
                released, withheld = _release(bundle, c, catalogue, True)
                previews[c.id].append({"bundle": bundle.id, "purpose": bundle.purpose_id,
                                       "recipients": recipients, "released": released,
                                       "withheld": withheld})
    return previews


def _catalogue(session: Session) -> dict[str, Field]:
    return {f.id: f for f in session.scalars(select(Field).where(Field.retired_at.is_(None)))}


def _release(bundle: Bundle, c: Consent, catalogue: dict[str, Field], covers_recipient: bool
             ) -> tuple[list[str], dict[str, str]]:
    ids = tuple(sorted(catalogue))
    releasable, _ = expand(list(bundle.required or []) + list(bundle.optional or []), ids)
    prohibited, _ = expand(list(bundle.prohibited or []), ids)
    released, withheld = [], {}
    for field_id in releasable:
        labels = set(catalogue[field_id].labels or [])
        if field_id in prohibited:
            withheld[field_id] = "bundle_prohibited"
        elif not covers_recipient:
            withheld[field_id] = "recipient_not_covered"
        elif bundle.purpose_id not in c.purposes:
            withheld[field_id] = "purpose_not_covered"
        elif not matches_any(field_id, c.fields):
            withheld[field_id] = "no_consent"
        elif labels & set(c.exclude_labels or []):
            withheld[field_id] = "consent_restriction"
        else:
            released.append(field_id)
    return released, withheld
