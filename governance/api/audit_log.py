"""GET /api/v1/audit: audit events filtered by subject, participant, kind and time."""
from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, jsonify, request

from governance.api.http import ApiError, require_key
from governance.audit import payload_of
from governance.clock import iso, to_naive_utc
from governance.extension import state
from governance.reads.audit import AuditFilter, audit_page

bp = Blueprint("governance_audit", __name__, url_prefix="/api/v1")
MAX_LIMIT = 1000
MAX_SEQ = 2**63 - 1  # a 64-bit SQL integer: the largest audit seq a store can hold
_DIGITS = re.compile(r"-?[0-9]{1,20}")


@bp.get("/audit")
@require_key("manage")
def audit_events():
    args = request.args
    wanted = AuditFilter(
        **{name: args.get(name) or None for name in ("subject", "participant", "kind", "ref",
                                                      "actor")},
        since=date_time("since", args["since"]) if args.get("since") else None,
        until=date_time("until", args["until"]) if args.get("until") else None)
    after = bounded_int("after", args.get("after", "0"), 0, MAX_SEQ)
    limit = bounded_int("limit", args.get("limit", "100"), 1, MAX_LIMIT)
    rows = audit_page(state().session, wanted, after, limit)
    events = [{"seq": e.seq, "at": iso(e.at), "kind": e.kind, "actor": e.actor,
               "subject": e.subject, "participant": e.participant, "ref": e.ref,
               "payload": payload_of(e), "hash": e.hash} for e in rows]
    return jsonify({"events": events,
                    "next_after": rows[-1].seq if len(rows) == limit else None})


def date_time(name: str, value: str) -> datetime:
    """An ISO 8601 date-time from a query string, as naive UTC, or a 400 naming ``name``
    (a zone offset that carries it outside the years 1-9999 is refused too)."""
    try:
        return to_naive_utc(datetime.fromisoformat(value))
    except (ValueError, OverflowError):
        raise ApiError(400, "invalid_request", f"{name}: not an ISO 8601 date-time",
                       {name: "not an ISO 8601 date-time"}) from None


def bounded_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` (a query string's text, or a JSON body member) as an integer from ``low`` to
    ``high``, or a 400 naming ``name``. Text must be decimal digits (no ``+``, ``_``, spaces
    or other scripts' digits); a body member must be a JSON integer (not a boolean, a
    fraction or a string)."""
    number: int | None = None
    if isinstance(value, str):
        if _DIGITS.fullmatch(value):
            number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    if number is None or not low <= number <= high:
        problem = f"must be an integer from {low} to {high}"
        raise ApiError(400, "invalid_request", f"{name}: {problem}", {name: problem})
    return number
