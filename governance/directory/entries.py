"""What an entry's raw attributes say about the account, read one way by the sync and by
sign-in: its stable id and whether the directory disabled it."""
from __future__ import annotations

import uuid

AD_ACCOUNT_DISABLED = 0x2  # userAccountControl: ACCOUNTDISABLE


def first(attributes: dict, name: str) -> bytes | None:
    """The first raw value of ``name`` (attribute names are case-insensitive)."""
    for key, values in attributes.items():
        if key.split(";", 1)[0].lower() == name.lower() and values:
            return values[0]
    return None


def stable_id(attributes: dict) -> str | None:
    """``entryUUID``, or ``objectGUID`` (16 little-endian bytes), as lower-case UUID text."""
    raw = first(attributes, "entryUUID")
    if raw is not None:
        return uuid_text(raw.decode("ascii", "replace"))
    guid = first(attributes, "objectGUID")
    if guid is not None and len(guid) == 16:
        return str(uuid.UUID(bytes_le=guid))
    return None


def uuid_text(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip().strip("{}")))
    except ValueError:
        return None


def disabled(attributes: dict) -> bool:
    """Locked (OpenLDAP ``pwdAccountLockedTime``) or disabled (Active Directory
    ``userAccountControl`` bit 2); an unreadable flag is not taken for "enabled"."""
    if first(attributes, "pwdAccountLockedTime") is not None:
        return True
    control = first(attributes, "userAccountControl")
    try:
        return control is not None and bool(int(control) & AD_ACCOUNT_DISABLED)
    except ValueError:
        return True
