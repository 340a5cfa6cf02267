"""Record filtering: keep only the allowed fields of a nested record (fail closed)."""
from __future__ import annotations


def record_field_ids(record: dict, prefix: str = "") -> list[str]:
    """The dotted ids of a record's leaves (``{"identity": {"name": ..}}`` -> identity.name)."""
    ids: list[str] = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            ids += record_field_ids(value, path + ".")
        elif "." in path:
            ids.append(path)
    return ids


def filter_record(record: dict, allowed: set[str], prefix: str = "") -> tuple[dict, list[str]]:
    """Copy of ``record`` without anything not allowed; returns it and the removed ids.

    A value whose dotted path is an allowed field id is kept whole; anything else that is not
    a group leading to an allowed field is removed, including keys no catalogue knows.
    """
    kept: dict = {}
    removed: list[str] = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if path in allowed:
            kept[key] = value
        elif isinstance(value, dict) and value:
            inner, gone = filter_record(value, allowed, path + ".")
            removed += gone
            if inner:
                kept[key] = inner
        else:
            removed.append(path)
    return kept, sorted(removed) if not prefix else removed
