"""Audit events as people read them: a one-line summary per event, a decision's request,
answer and basis laid out per field, reason codes in plain words, and CSV rows that a
spreadsheet will not run as formulas."""
from __future__ import annotations

import json
from dataclasses import dataclass

from governance.audit import payload_of
from governance.clock import iso
from governance.models import AuditEvent

REASONS = {
    "unknown_field": "not a field in the catalogue",
    "subject_inactive": "the user is unknown or not active",
    "not_in_program": "the participant is not enrolled in that program",
    "no_role_grant": "no role of the user grants this action on the field",
    "no_case_involvement": "the role grants it only with an active case involvement, and "
                           "there was none",
    "unknown_recipient": "the recipient is not a known partner",
    "entire_record_not_justified": "the entire record was asked for where minimum necessary "
                                   "applies, without an approved escalation",
    "bundle_prohibited": "the bundle prohibits this field",
    "not_in_bundle": "the field is not in the bundle, or the bundle does not go to this "
                     "partner type",
    "no_consent": "no active consent covers this recipient, purpose and field",
    "consent_expired": "the consent that covered it had expired",
    "consent_restriction": "a consent excludes one of the field's labels",
    "escalation_required": "may go only after an approved escalation",
}
REQUEST_MEMBERS = (("subject", "User"), ("action", "Action"), ("participant", "Participant"),
                   ("program", "Program"), ("fields", "Fields asked for"),
                   ("purpose", "Purpose"), ("recipient", "Recipient"), ("bundle", "Bundle"),
                   ("justification", "Justification"), ("escalation", "Escalation"))
CSV_COLUMNS = ("seq", "at", "kind", "actor", "subject", "participant", "ref", "summary",
               "payload", "hash", "prev_hash")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class FieldOutcome:
    field: str
    allowed: bool
    reason: str | None  # the reason code of a denied field
    explanation: str | None
    basis: list[tuple[str, str | None]]  # what released an allowed field, and what that is


def decoded(event: AuditEvent) -> dict:
    """The event's payload, or a note when it cannot be read as JSON (shown, never hidden)."""
    try:
        payload = payload_of(event)
    except ValueError:
        return {"unreadable_payload": event.payload[:2000]}
    return payload if isinstance(payload, dict) else {"value": payload}


def summary(event: AuditEvent, payload: dict | None = None) -> str:
    """One line saying what happened (the table's last column, the CSV's summary)."""
    p = decoded(event) if payload is None else payload
    kind = event.kind
    if kind == "decision":
        request = p.get("request") or {}
        fields = request.get("fields") or []
        counted = "entire record" if fields == "*" or fields == ["*"] else (
            f"{len(fields)} field" + ("" if len(fields) == 1 else "s"))
        to = f" to {request['recipient']}" if request.get("recipient") else ""
        return (f"{p.get('decision', '?')}: {request.get('action', '?')} {counted}{to}"
                + (f" for {request['purpose']}" if request.get("purpose") else ""))
    if kind == "org.change":
        return org_change_text(p)
    if kind == "org.conflict":
        return str(p.get("conflict", ""))
    if kind == "org.applied":
        return (f"{p.get('changes', 0)} change(s), {p.get('conflicts', 0)} conflict(s); policy "
                f"version {p.get('policy_version')}")
    if kind == "audit.viewed":
        filters = p.get("filters") or {}
        what = f"event {p['event']}" if p.get("event") else "events"
        return f"viewed {what}" + (f" ({_filters_text(filters)})" if filters else "")
    if kind == "audit.exported":
        filters = p.get("filters") or {}
        return f"exported CSV up to row {p.get('up_to')}" + (
            f" ({_filters_text(filters)})" if filters else "")
    if kind == "audit.verified":
        return (f"{'intact' if p.get('intact') else 'BROKEN'}: {p.get('rows')} row(s) checked"
                + ("" if p.get("intact") else f", {p.get('problems')} problem(s)"))
    return _generic(p)


VERBS = {"create": "created", "update": "updated", "end": "ended", "retire": "retired",
         "disable": "disabled", "enable": "enabled", "add": "added", "remove": "removed"}


def org_change_text(payload: dict) -> str:
    """An org file change in words: ``created assignment: sam as supervisor in housing until
    2027-07-01`` for ``create assignments sam supervisor housing - 2027-07-01T00:00:00``."""
    op, section = str(payload.get("op", "")), str(payload.get("section", ""))
    parts = [_moment(part) for part in str(payload.get("key", "")).split(" ")]
    verb = VERBS.get(op, op)
    if section == "assignments" and len(parts) >= 3:
        where = "every program" if parts[2] == "-" else parts[2]
        return f"{verb} assignment: {parts[0]} as {parts[1]} in {where}{_window(parts[3:5])}"
    if section == "involvements" and len(parts) >= 3:
        return (f"{verb} involvement: {parts[0]} on {parts[1]}'s case in {parts[2]}"
                f"{_window(parts[3:5])}")
    if section == "enrollments" and len(parts) >= 2:
        return f"{verb} enrollment: {parts[0]} in {parts[1]}"
    if section == "grants" and len(parts) >= 3:
        return f"{verb} grant: {parts[0]} may {parts[2]} {parts[1]}"
    noun = {"directory": "directory mapping"}.get(section, section.removesuffix("s"))
    detail = payload.get("detail")
    changed = f" ({', '.join(map(str, detail))})" if isinstance(detail, dict) and detail else ""
    return f"{verb} {noun}: {' '.join(parts)}{changed}"


def _moment(part: str) -> str:
    """An ISO date-time in a key as people write it: a midnight is just its date."""
    if len(part) >= 19 and part[4:5] == "-" and part[10:11] == "T":
        return part[:10] if part[11:19] == "00:00:00" else f"{part[:10]} {part[11:16]}"
    return part


def _window(parts: list[str]) -> str:
    start, end = (parts + ["-", "-"])[:2]
    return (f" from {start}" if start != "-" else "") + (f" until {end}" if end != "-" else "")


def decision_outcomes(payload: dict, described: dict[str, str]) -> list[FieldOutcome]:
    """Each field of a decision: allowed with its basis (each permission with what it is,
    from ``described``), or denied with its reason."""
    basis = payload.get("basis") or {}
    rows = [FieldOutcome(f, True, None, None,
                         [(ref, described.get(ref)) for ref in basis.get(f) or []])
            for f in payload.get("allowed") or []]
    rows += [FieldOutcome(f, False, reason, REASONS.get(reason), [])
             for f, reason in (payload.get("denied") or {}).items()]
    return sorted(rows, key=lambda r: r.field)


def request_rows(payload: dict) -> list[tuple[str, str]]:
    """A decision's request as (label, value) rows, members it did not send left out."""
    request = payload.get("request") or {}
    return [(label, _request_value(key, request[key])) for key, label in REQUEST_MEMBERS
            if request.get(key) not in (None, "", [])]


def _request_value(key: str, value: object) -> str:
    if key == "fields":
        return ("entire record (*)" if value in ("*", ["*"]) else
                ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    return str(value)


def payload_rows(payload: dict) -> list[tuple[str, str]]:
    """Any payload as (member, value) rows; nested values as compact JSON."""
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False,
                                                            default=str))
            for k, v in payload.items()]


def pretty(payload: dict) -> str:
    return json.dumps(payload, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def csv_row(event: AuditEvent) -> list[str]:
    payload = decoded(event)
    values = [str(event.seq), iso(event.at) or "", event.kind, event.actor or "",
              event.subject or "", event.participant or "", event.ref or "",
              summary(event, payload), event.payload, event.hash, event.prev_hash]
    return [_cell(v) for v in values]


def _cell(value: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula: such text (a name or a
    justification typed by anyone) is written with a leading apostrophe instead."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _filters_text(filters: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in filters.items())


def _generic(payload: dict) -> str:
    parts = []
    for key, value in payload.items():
        if isinstance(value, bool):
            parts.append(f"{key.replace('_', ' ')}: {'yes' if value else 'no'}")
        elif isinstance(value, str | int | float) and value != "":
            parts.append(f"{key.replace('_', ' ')}: {value}")
        if len(parts) == 4:
            break
    return ", ".join(parts)
