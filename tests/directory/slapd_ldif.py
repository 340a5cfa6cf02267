"""LDIF text for the private slapd (tests/directory/slapd.py): lines and entries to write, the
``{SSHA}`` password hashes slapd verifies, and the parsing ``Slapd.bulk_load`` does."""
from __future__ import annotations

import base64
import hashlib
import os

# -- LDIF ------------------------------------------------------------------------------------
Value = str | bytes | int
Values = Value | list[Value] | tuple[Value, ...] | None


def _as_list(values: Values) -> list[Value]:
    if values is None:
        return []
    if isinstance(values, list | tuple):
        return list(values)
    return [values]


def _safe(text: str) -> bool:
    return (text.isascii() and text.isprintable() and not text.startswith((" ", ":", "<"))
            and not text.endswith(" "))


def ldif_line(attr: str, value: Value) -> str:
    """``attr: value``, or ``attr:: base64`` when the value is bytes or not plain ASCII."""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _safe(value):
        return f"{attr}: {value}" if value else f"{attr}:"
    raw = value if isinstance(value, bytes) else value.encode()
    return f"{attr}:: {base64.b64encode(raw).decode()}"


def ldif_entry(dn: str, attrs: dict[str, Values]) -> str:
    """One entry (for ldapadd or slapadd), values in the order given."""
    lines = [ldif_line("dn", dn)]
    for attr, values in attrs.items():
        lines.extend(ldif_line(attr, v) for v in _as_list(values))
    return "\n".join(lines) + "\n"


def ssha(password: str) -> str:
    """An RFC 2307 ``{SSHA}`` hash, which slapd verifies on bind."""
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _parse_ldif(text: str) -> list[list[tuple[str, str]]]:
    """Entries as lists of (attr, raw-text) pairs; continuation lines unfolded; base64 values
    keep their ``:`` prefix (``("objectGUID", ": AbC=")``) so they are written back as is."""
    entries: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    for line in lines + [""]:
        if not line.strip():
            if current:
                entries.append(current)
                current = []
            continue
        if line.startswith("#"):
            continue
        attr, _, rest = line.partition(":")
        current.append((attr.strip(), rest[1:] if rest.startswith(" ") else rest))
    return entries


def _plain(raw: str) -> str:
    """The text of an LDIF value as :func:`_parse_ldif` keeps it."""
    if raw.startswith(":"):
        return base64.b64decode(raw[1:].strip()).decode()
    return raw


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip() for part in dn.lower().split(","))

