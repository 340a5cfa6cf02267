"""Parse and check a decision request (plain data in, a DecisionRequest or a RequestError out)."""
from __future__ import annotations

from dataclasses import dataclass

from governance.bounded_cache import BoundedCache
from governance.errors import Invalid, listing
from governance.policy import patterns
from governance.policy.vocabulary import ACTIONS

MAX_FIELDS = 2000
CACHED_FIELD_LISTS_UP_TO = 100
TEXT_MEMBERS = ("purpose", "recipient", "bundle", "justification", "escalation")
MAX_TEXT_LENGTH = 4000  # free text (justification); every other member is an id
KNOWN_MEMBERS = frozenset({"subject", "action", "participant", "program", "fields", *TEXT_MEMBERS})


class RequestError(Invalid):
    """Bad input: ``details`` maps each offending member to what is wrong with it."""

    def __init__(self, details: dict[str, str], message: str | None = None):
        super().__init__(message or listing(details), details)


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    subject: str
    action: str
    participant: str
    program: str
    fields: tuple[str, ...]
    purpose: str | None = None
    recipient: str | None = None
    bundle: str | None = None
    justification: str | None = None
    escalation: str | None = None

    @property
    def entire_record(self) -> bool:
        return patterns.ENTIRE_RECORD in self.fields

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("subject", "action", "participant", "program")}
        out["fields"] = list(self.fields)
        out.update({k: getattr(self, k) for k in TEXT_MEMBERS if getattr(self, k) is not None})
        return out


def parse_decision_request(data: object, *, extra: frozenset[str] = frozenset()
                           ) -> DecisionRequest:
    """Check every member and report all problems at once."""
    if not isinstance(data, dict):
        raise RequestError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    for key in data:
        if key not in KNOWN_MEMBERS and key not in extra:
            errors[str(key)[:patterns.MAX_ID_LENGTH]] = "unknown member"
    required = {k: _text(data, k, errors, required=True)
                for k in ("subject", "action", "participant", "program")}
    optional = {k: _text(data, k, errors, required=False) for k in TEXT_MEMBERS}
    fields = _fields(data.get("fields"), errors)
    action = required["action"]
    if action is not None and action not in ACTIONS:
        errors["action"] = f"unknown action '{action}' (expected one of {', '.join(ACTIONS)})"
    if action == "disclose" and optional["purpose"] is None and "purpose" not in errors:
        errors["purpose"] = "required for disclose"
    if errors:
        raise RequestError(errors)
    return DecisionRequest(fields=fields, **required, **optional)  # type: ignore[arg-type]


def _text(data: dict, key: str, errors: dict[str, str], *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            errors[key] = "required"
        return None
    if not isinstance(value, str) or not value.strip():
        errors[key] = "must be a non-empty string"
        return None
    limit = MAX_TEXT_LENGTH if key == "justification" else patterns.MAX_ID_LENGTH
    if len(value) > limit:
        errors[key] = f"too long (at most {limit} characters)"
        return None
    return value


def _fields(value: object, errors: dict[str, str]) -> tuple[str, ...]:
    if value is None:
        errors["fields"] = "required: a list of field ids or patterns, or \"*\""
        return ()
    if value == patterns.ENTIRE_RECORD:
        return (patterns.ENTIRE_RECORD,)
    if not isinstance(value, list) or not value:
        errors["fields"] = "must be a non-empty list of field ids or patterns, or \"*\""
        return ()
    if len(value) > MAX_FIELDS:
        errors["fields"] = f"too many fields (at most {MAX_FIELDS})"
        return ()
    items = tuple(value)
    try:  # lists of up to CACHED_FIELD_LISTS_UP_TO items are looked up
        checked = (_checked_fields.get(items, lambda: _fields_without_repeats(items))
                   if len(items) <= CACHED_FIELD_LISTS_UP_TO else _fields_without_repeats(items))
    except TypeError:  # an item that is a list or an object cannot be a cache key
        checked = None
    if checked is None:  # name every bad item
        for i, item in enumerate(value):
            if not isinstance(item, str):
                errors[f"fields[{i}]"] = "must be a string (a field id or pattern)"
            elif len(item) > patterns.MAX_ID_LENGTH:
                errors[f"fields[{i}]"] = (f"too long (at most {patterns.MAX_ID_LENGTH} "
                                          "characters)")
            elif not patterns.is_pattern(item):
                errors[f"fields[{i}]"] = f"not a field id or pattern: {item!r}"
        return ()
    return checked if not errors else ()


def _fields_without_repeats(items: tuple) -> tuple[str, ...] | None:
    """``items`` without repeats, or None if one is not a field id or pattern."""
    if all(isinstance(item, str) and patterns.is_pattern(item) for item in items):
        return tuple(dict.fromkeys(items))
    return None


# Callers send the same few field lists again and again; bounded in bytes, as callers
# choose the keys.
_checked_fields = BoundedCache(4 << 20)
