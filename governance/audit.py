"""Append to and verify the hash-chained audit trail.

Each row's hash covers the previous row's hash and the row's own canonical content. Writers
advance the single ``audit_head`` row first (UPDATE ... RETURNING), which takes the write lock on
both SQLite and PostgreSQL, so concurrent workers append one after another, never forking the
chain. The row commits with the change (or decision) it records, or not at all.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from governance.clock import utcnow
from governance.models import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def row_hash(prev_hash: str, seq: int, at: datetime, kind: str, actor: str | None,
             subject: str | None, participant: str | None, ref: str | None, payload: str) -> str:
    body = canonical([seq, at.isoformat(timespec="microseconds"), kind, actor, subject,
                      participant, ref, payload])
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append(session: Session, kind: str, payload: dict, *, actor: str | None = None,
           subject: str | None = None, participant: str | None = None, ref: str | None = None,
           at: datetime | None = None) -> AuditEvent:
    """Add one event to the chain inside the caller's transaction (the caller commits)."""
    at = at or utcnow()
    seq, prev = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)).one()
    text = canonical(payload)
    digest = row_hash(prev, seq, at, kind, actor, subject, participant, ref, text)
    event = AuditEvent(seq=seq, at=at, kind=kind, actor=actor, subject=subject,
                       participant=participant, ref=ref, payload=text, prev_hash=prev,
                       hash=digest)
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return event


@dataclass
class Problem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"row {self.seq}: {self.what}"


def verify(session: Session, batch: int = 5000) -> tuple[int, list[Problem]]:
    """Walk the chain in order; returns the rows checked and every problem found."""
    problems: list[Problem] = []
    expected_seq, prev, count, last = 1, GENESIS, 0, 0
    after = 0
    while True:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.seq > after)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            break
        for row in rows:
            count += 1
            if row.seq != expected_seq:
                problems.append(Problem(expected_seq, f"missing (deleted): next row present is "
                                                      f"{row.seq}"))
            if row.prev_hash != prev:
                problems.append(Problem(row.seq, "does not follow the previous row "
                                                 "(deleted or reordered rows before it)"))
            digest = row_hash(row.prev_hash, row.seq, row.at, row.kind, row.actor, row.subject,
                              row.participant, row.ref, row.payload)
            if digest != row.hash:
                problems.append(Problem(row.seq, "content was edited (hash mismatch)"))
            prev, expected_seq, last = row.hash, row.seq + 1, row.seq
        after = rows[-1].seq
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last or head.hash != prev):
        problems.append(Problem(last + 1, f"chain ends at row {last} but {head.seq} rows were "
                                          "written (rows deleted from the end)"))
    return count, problems


def payload_of(event: AuditEvent) -> dict:
    return json.loads(event.payload)
