"""Record filtering: keep only the allowed fields of a nested record (fail closed)."""
from __future__ import annotations

from collections.abc import Container

from governance.policy.patterns import is_pattern


def record_field_ids(record: dict, catalogue: Container[str], prefix: str = ""
                     ) -> list[str]:
    """The field ids a record carries (``{"identity": {"name": ..}}`` -> identity.name).

    Every leaf is named, even one no catalogue could know (it is then decided as an
    ``unknown_field`` and removed); keys that cannot be part of a field id are skipped here and
    removed by ``filter_record`` all the same.
    """
    ids: list[str] = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if not is_pattern(path) or "*" in path:
            continue
        if isinstance(value, dict) and value and path not in catalogue:
            ids += record_field_ids(value, catalogue, path + ".")
        else:
            ids.append(path)
    return ids


def filter_record(record: dict, allowed: set[str], catalogue: Container[str],
                  prefix: str = "") -> tuple[dict, list[str]]:
    """Copy of ``record`` without anything not allowed; returns it and the removed ids.

    A value at a catalogued field's path is one field (kept or removed whole); other objects
    are groups to walk; anything else is removed, including keys no catalogue knows.
    """
    kept: dict = {}
    removed: list[str] = []
    for key, value in record.items():
        path = f"{prefix}{key}"
        if path in allowed:
            kept[key] = value
        elif isinstance(value, dict) and value and path not in catalogue:
            inner, gone = filter_record(value, allowed, catalogue, path + ".")
            removed += gone
            if inner:
                kept[key] = inner
        else:
            removed.append(path)
    return kept, sorted(removed) if not prefix else removed
