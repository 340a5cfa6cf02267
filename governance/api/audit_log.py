"""GET /api/v1/audit: audit events filtered by subject, participant, kind and time."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from governance.api.http import ApiError, require_key
from governance.audit import payload_of
from governance.clock import iso, to_naive_utc
from governance.extension import state
from governance.models import AuditEvent

bp = Blueprint("governance_audit", __name__, url_prefix="/api/v1")
MAX_LIMIT = 1000


@bp.get("/audit")
@require_key("manage")
def audit_events():
    args = request.args
    query = select(AuditEvent).order_by(AuditEvent.seq)
    for name, column in (("subject", AuditEvent.subject), ("participant", AuditEvent.participant),
                         ("kind", AuditEvent.kind), ("ref", AuditEvent.ref),
                         ("actor", AuditEvent.actor)):
        if args.get(name):
            query = query.where(column == args[name])
    if args.get("since"):
        query = query.where(AuditEvent.at >= _time("since", args["since"]))
    if args.get("until"):
        query = query.where(AuditEvent.at < _time("until", args["until"]))
    after = _int("after", args.get("after", "0"), 0)
    limit = _int("limit", args.get("limit", "100"), 1, MAX_LIMIT)
    rows = state().session.scalars(query.where(AuditEvent.seq > after).limit(limit)).all()
    events = [{"seq": e.seq, "at": iso(e.at), "kind": e.kind, "actor": e.actor,
               "subject": e.subject, "participant": e.participant, "ref": e.ref,
               "payload": payload_of(e), "hash": e.hash} for e in rows]
    return jsonify({"events": events,
                    "next_after": rows[-1].seq if len(rows) == limit else None})


def _time(name: str, value: str) -> datetime:
    try:
        return to_naive_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name}: not an ISO 8601 date-time",
                       {name: "not an ISO 8601 date-time"}) from None


def _int(name: str, value: str, low: int, high: int | None = None) -> int:
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if number < low or (high is not None and number > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ApiError(400, "invalid_request", f"{name}: must be an integer {bound}",
                       {name: f"must be an integer {bound}"})
    return number
