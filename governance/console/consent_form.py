"""The consent form of the Consents page: its choices (partners, purposes, labels), the terms
read from a posted form, and each problem an operation names placed beside its form field."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from governance.consent_text import LABEL_WORDS
from governance.console.pages.simulator import split_fields
from governance.errors import GovernanceError
from governance.models import Field, Partner, Purpose

LISTS = ("partners", "partner_types", "purposes", "exclude_labels")
LABELS = {"participant": "Participant", "partners": "Partners", "partner_types": "Partner types",
          "purposes": "Purposes", "fields": "Fields", "exclude_labels": "Never share",
          "from": "From", "until": "Until", "note": "Note", "reason": "Reason"}
# Pydantic's words for an empty list, said as what to do about it.
EMPTY_LIST = {"purposes": "choose at least one purpose",
              "fields": "name at least one field or pattern (identity.*, contact.phone)"}
MAX_TEXT = 2000


@dataclass(frozen=True)
class Choices:
    """What the form offers: active partners, the partner types in use, purposes and labels."""

    partners: list[Partner]
    partner_types: list[str]
    purposes: list[Purpose]
    labels: list[tuple[str, str]]  # label, its words


def form_choices(session: Session) -> Choices:
    partners = list(session.scalars(select(Partner).where(Partner.retired_at.is_(None))
                                    .order_by(Partner.name, Partner.id)))
    purposes = list(session.scalars(select(Purpose).where(Purpose.retired_at.is_(None))
                                    .order_by(Purpose.builtin, Purpose.id)))
    in_catalogue = {label for labels in session.scalars(select(Field.labels).where(
        Field.retired_at.is_(None))) for label in (labels or [])}
    labels = sorted(in_catalogue | set(LABEL_WORDS))
    return Choices(partners, sorted({p.type for p in partners}), purposes,
                   [(label, LABEL_WORDS.get(label, label.replace("_", " "))) for label in labels])


def read_terms(form: MultiDict) -> dict[str, object]:
    """The consent's terms as the operations name them, from the posted form."""
    terms: dict[str, object] = {name: [v.strip() for v in form.getlist(name) if v.strip()]
                                for name in LISTS}
    terms["fields"] = split_fields(form.get("fields", "")[:MAX_TEXT])
    for name in ("from", "until"):
        terms[name] = (form.get(name) or "").strip() or None
    return terms


def form_values(terms: dict[str, object], form: MultiDict | None = None) -> dict[str, object]:
    """What the form shows: the terms, fields as one line of text, the typed note."""
    values = dict(terms)
    values["fields"] = " ".join(terms.get("fields") or [])
    for name in ("from", "until"):
        values[name] = terms.get(name) or ""
    for name in LISTS:
        values[name] = list(terms.get(name) or [])
    values["note"] = (form.get("note", "") if form else "")[:MAX_TEXT]
    values["participant"] = (form.get("participant", "") if form else "").strip()[:200]
    return values


def field_errors(exc: GovernanceError) -> dict[str, str]:
    """An operation's problems (``purposes[1]``, ``until``) beside the form field they are
    about, in words; a refusal about no field (a consent revoked meanwhile) under ``form``."""
    errors: dict[str, str] = {}
    for member, problem in exc.details.items():
        base = member.split("[", 1)[0].split(".", 1)[0]
        if base not in LABELS:
            errors["form"] = exc.message
            continue
        if base in EMPTY_LIST and ("at least 1" in problem or problem == "required"):
            problem = EMPTY_LIST[base]
        elif base in ("from", "until") and "date" in problem.lower():
            problem = "a date such as 2027-01-31"
        elif member == "partners":
            problem = "choose at least one partner or partner type"
        errors[base] = f"{errors[base]}; {problem}" if base in errors else problem
    return errors or {"form": exc.message}


def day_after_today(value: str | None, today: date) -> str | None:
    """The problem with a renewal's new last day, if any (it must be a date after today)."""
    if not value:
        return "required: the last day the renewed consent covers"
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return "a date such as 2027-01-31"
    return None if day > today else "must be after today"
