"""Reading consents: current ones by participant, renewal and expiry, and a version history;
finding a participant (the Consents page)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from governance.errors import NotFound
from governance.models import Consent, Enrollment, Participant

LIST_LIMIT = 1000


@dataclass(frozen=True)
class ConsentFilter:
    participant: str | None = None
    needs_renewal: bool = False
    expiring_within_days: int | None = None


def current_consents(session: Session, wanted: ConsentFilter, now: datetime) -> list[Consent]:
    """Current versions (not superseded or ended), by participant then id."""
    query = select(Consent).where(Consent.ended_at.is_(None))
    if wanted.participant:
        query = query.where(Consent.participant_id == wanted.participant)
    if wanted.needs_renewal:
        query = query.where(Consent.needs_renewal.is_not(None))
    if wanted.expiring_within_days is not None:
        query = query.where(Consent.status == "active", Consent.valid_until > now,
                            Consent.valid_until <= now + timedelta(
                                days=wanted.expiring_within_days))
    return list(session.scalars(query.order_by(Consent.participant_id, Consent.id)
                                .limit(LIST_LIMIT)))


def consent_with_history(session: Session, consent_id: str) -> tuple[Consent, list[Consent]]:
    """The consent and the versions it superseded, newest first (404 if there is none)."""
    consent = session.get(Consent, consent_id)
    if consent is None:
        raise NotFound(f"no consent '{consent_id}'")
    history, older = [], consent.supersedes
    while older:
        previous = session.get(Consent, older)
        history.append(previous)
        older = previous.supersedes
    return consent, history


# Where a current consent stands: what the console filters on (``consent_document``'s words).
STANDINGS = ("active", "expired", "revoked")


@dataclass(frozen=True)
class Found:
    """One page of a list, and how many there are in all."""

    total: int
    rows: list


@dataclass(frozen=True)
class ParticipantRow:
    id: str
    programs: list[str]
    consents: int  # current versions, whatever their standing
    active: int  # of those, in force now


def find_participants(session: Session, text: str | None, program: str | None, now: datetime,
                      *, offset: int = 0, limit: int = 20) -> Found:
    """Participants whose id contains ``text`` (an exact id first), enrolled in ``program``
    if given, by id; with their programs and how many consents they have."""
    query = select(Participant.id)
    if text:
        query = query.where(func.lower(Participant.id).contains(text.lower(), autoescape=True))
    if program:
        query = query.where(Participant.id.in_(select(Enrollment.participant_id).where(
            Enrollment.program_id == program, Enrollment.ended_at.is_(None))))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    exact = Participant.id == text if text else None
    order = (exact.desc(), Participant.id) if exact is not None else (Participant.id,)
    ids = list(session.scalars(query.order_by(*order).offset(offset).limit(limit)))
    if not ids:
        return Found(total, [])
    programs: dict[str, list[str]] = {}
    for pid, prog in session.execute(select(Enrollment.participant_id, Enrollment.program_id)
                                     .where(Enrollment.participant_id.in_(ids),
                                            Enrollment.ended_at.is_(None))
                                     .order_by(Enrollment.program_id)):
        programs.setdefault(pid, []).append(prog)
    counts = {pid: (int(n), int(active or 0)) for pid, n, active in session.execute(
        select(Consent.participant_id, func.count(), func.sum(case((_in_force(now), 1),
                                                                   else_=0)))
        .where(Consent.participant_id.in_(ids), Consent.ended_at.is_(None))
        .group_by(Consent.participant_id))}
    return Found(total, [ParticipantRow(pid, programs.get(pid, []), *counts.get(pid, (0, 0)))
                         for pid in ids])


def _in_force(now: datetime):  # noqa: ANN202 - a SQL condition
    return and_(Consent.status == "active",
                or_(Consent.valid_until.is_(None), Consent.valid_until > now))


def consents_of(session: Session, participant: str, standing: str | None, now: datetime, *,
                offset: int = 0, limit: int = 20) -> Found:
    """A participant's current consents (newest first), narrowed to one standing."""
    query = select(Consent).where(Consent.participant_id == participant,
                                  Consent.ended_at.is_(None))
    if standing == "active":
        query = query.where(_in_force(now))
    elif standing == "expired":
        query = query.where(Consent.status == "active", Consent.valid_until <= now)
    elif standing == "revoked":
        query = query.where(Consent.status == "revoked")
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = list(session.scalars(query.order_by(Consent.created_at.desc(), Consent.id.desc())
                                .offset(offset).limit(limit)))
    return Found(total, rows)
