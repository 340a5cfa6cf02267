"""Time helpers. All stored times are naive UTC so SQLite and PostgreSQL round-trip identically."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def start_of(value: date | datetime) -> datetime:
    """A ``from`` bound: a bare date starts at 00:00 UTC that day."""
    if isinstance(value, datetime):
        return to_naive_utc(value)
    return datetime.combine(value, time.min)


def end_of(value: date | datetime) -> datetime:
    """An ``until`` bound (exclusive): a bare date covers the whole of that day."""
    if isinstance(value, datetime):
        return to_naive_utc(value)
    return datetime.combine(value + timedelta(days=1), time.min)


def within(now: datetime, valid_from: datetime | None, valid_until: datetime | None) -> bool:
    """Half-open window [from, until): valid at its last second, gone at ``until``."""
    return (valid_from is None or valid_from <= now) and (valid_until is None or now < valid_until)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="seconds") + "Z"
