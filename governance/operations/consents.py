"""Consent lifecycle over the API: create, amend (a new version), revoke, renew, flag renewal.

Every version is a row: an amendment ends the old row and adds one with ``version + 1`` and
``supersedes``, so what was in force at any moment can be read back; a revocation affects only
decisions made after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from governance import audit
from governance.db import API
from governance.ids import new_id
from governance.models import Consent, Participant, Partner, Purpose
from governance.operations.common import active_actor, locked_row, optional_text
from governance.operations.errors import Conflict, Invalid, NotFound
from governance.operations.state import bump_revision
from governance.orgfile.export import consent_document, consent_terms
from governance.orgfile.schema import ConsentSpec
from governance.orgfile.validate import pydantic_errors
from governance.policy import patterns

RENEWAL_TRIGGERS = ("hospitalization", "change_of_provider", "participant_request", "expiring")
TERMS = ("partners", "partner_types", "purposes", "fields", "exclude_labels", "from", "until")


def parse_terms(body: dict, participant: str | None = None) -> ConsentSpec:
    """A consent's terms, checked as the org file checks them (400 naming each problem). The
    API reads them from JSON (its members checked there); a form builds the ``ConsentSpec``
    itself."""
    data = {k: body[k] for k in TERMS if k in body}
    data["participant"] = participant or body.get("participant")
    try:
        return ConsentSpec.model_validate(data)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
        raise Invalid("; ".join(errors), dict(e.split(": ", 1) for e in errors)) from None


def term_changes(body: dict) -> dict[str, object]:
    """The terms an amendment changes, as named in the API's JSON or a form's fields."""
    return {k: body[k] for k in TERMS if k in body}


def check_references(session: Session, spec: ConsentSpec) -> None:
    errors: dict[str, str] = {}
    if session.get(Participant, spec.participant) is None:
        errors["participant"] = f"unknown participant '{spec.participant}'"
    if not spec.partners and not spec.partner_types:
        errors["partners"] = "name the recipients with partners and/or partner_types"
    known = set(session.scalars(select(Partner.id).where(Partner.retired_at.is_(None))))
    for i, partner in enumerate(spec.partners):
        if partner not in known:
            errors[f"partners[{i}]"] = f"unknown partner '{partner}'"
    purposes = set(session.scalars(select(Purpose.id).where(Purpose.retired_at.is_(None))))
    for i, purpose in enumerate(spec.purposes):
        if purpose not in purposes:
            errors[f"purposes[{i}]"] = f"unknown purpose '{purpose}'"
    for i, pattern in enumerate(spec.fields):
        if not patterns.is_pattern(pattern):
            errors[f"fields[{i}]"] = f"not a field id or pattern: '{pattern}'"
    if spec.valid_from and spec.valid_until and spec.valid_until <= spec.valid_from:
        errors["until"] = "must be after from"
    if errors:
        raise Invalid.naming(errors)


def _row(spec: ConsentSpec, **extra) -> Consent:
    return Consent(participant_id=spec.participant, partners=list(spec.partners),
                   partner_types=list(spec.partner_types), purposes=list(spec.purposes),
                   fields=list(spec.fields), exclude_labels=list(spec.exclude_labels),
                   valid_from=spec.valid_from, valid_until=spec.valid_until, status="active",
                   **extra)


def _commit(session: Session, kind: str, consent: Consent, actor: str, now: datetime,
            **details) -> Consent:
    bump_revision(session, [("consents", consent.participant_id)])
    session.flush()
    audit.append(session, kind, {"consent": consent_document(consent, now), **details},
                 actor=actor, participant=consent.participant_id, ref=consent.id, at=now)
    session.commit()
    return consent


def _live(session: Session, consent_id: str) -> Consent:
    """The consent, locked, as long as it is the current version and not revoked."""
    row = locked_row(session, Consent, consent_id)
    if row is None:
        raise NotFound(f"no consent '{consent_id}'")
    if row.ended_at is not None:
        raise Conflict(f"consent '{consent_id}' was superseded or ended; act on its newest "
                       "version", {"status": "superseded"})
    if row.status == "revoked":
        raise Conflict(f"consent '{consent_id}' is revoked", {"status": "revoked"})
    return row


@dataclass
class CreateConsent:
    actor: str
    terms: ConsentSpec
    note: str | None
    now: datetime
    via: str = API

    def execute(self, session: Session) -> Consent:
        actor = active_actor(session, self.actor)
        spec = self.terms
        check_references(session, spec)
        consent = _row(spec, id=new_id("cns"), created_at=self.now, created_by=actor,
                       source=self.via, note=optional_text(self.note, "note"))
        session.add(consent)
        return _commit(session, "consent.created", consent, actor, self.now, via=self.via)


@dataclass
class AmendConsent:
    """A new version with the given terms changed; the old version stays as history."""

    consent_id: str
    actor: str
    changes: dict[str, object]  # the terms that change, by their names in TERMS
    note: str | None
    now: datetime
    kind: str = "consent.amended"
    via: str = API

    def execute(self, session: Session) -> Consent:
        actor = active_actor(session, self.actor)
        old = _live(session, self.consent_id)
        unknown = {str(k): "not a consent term" for k in self.changes if k not in TERMS}
        if unknown:
            raise Invalid.naming(unknown)
        current = {k: v for k, v in consent_terms(old).items() if k in TERMS}
        spec = parse_terms({**current, **self.changes}, participant=old.participant_id)
        check_references(session, spec)
        new = _row(spec, id=new_id("cns"), version=old.version + 1, supersedes=old.id,
                   created_at=self.now, created_by=actor, source=self.via,
                   note=optional_text(self.note, "note"))
        old.end(self.now, actor, self.via, f"{self.kind.split('.')[1]}: superseded by {new.id}")
        session.add(new)
        return _commit(session, self.kind, new, actor, self.now, supersedes=old.id,
                       via=self.via)


def renew_consent(consent_id: str, actor: str, until: object, note: str | None,
                  now: datetime, via: str = API) -> AmendConsent:
    """Renewal is an amendment of the window that also clears a renewal flag."""
    if until is None:
        raise Invalid("until: required to renew", {"until": "required"})
    return AmendConsent(consent_id, actor, {"until": until}, note, now, kind="consent.renewed",
                        via=via)


@dataclass
class RevokeConsent:
    consent_id: str
    actor: str
    reason: str | None
    now: datetime
    via: str = API

    def execute(self, session: Session) -> Consent:
        actor = active_actor(session, self.actor)
        reason = optional_text(self.reason, "reason")
        row = _live(session, self.consent_id)
        row.status, row.revoked_at, row.revoked_by = "revoked", self.now, actor
        row.revoked_via, row.revoke_reason = self.via, reason
        return _commit(session, "consent.revoked", row, actor, self.now, reason=reason,
                       via=self.via)


@dataclass
class FlagRenewal:
    consent_id: str
    actor: str
    trigger: object
    now: datetime

    def execute(self, session: Session) -> Consent:
        actor = active_actor(session, self.actor)
        if self.trigger not in RENEWAL_TRIGGERS:
            raise Invalid(f"trigger: one of {', '.join(RENEWAL_TRIGGERS)}",
                          {"trigger": f"one of {', '.join(RENEWAL_TRIGGERS)}"})
        row = _live(session, self.consent_id)
        row.needs_renewal, row.renewal_flagged_at = str(self.trigger), self.now
        return _commit(session, "consent.renewal_flagged", row, actor, self.now,
                       trigger=self.trigger)
