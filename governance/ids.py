"""Sortable, unguessable ids for decisions and workflow objects (``dec_01J...``)."""
from __future__ import annotations

import os
import time

from ulid import ULID


def new_id(prefix: str) -> str:
    """A ULID: the millisecond, then 80 random bits. ``ULID()`` itself holds a process-wide lock
    across its ``os.urandom`` call to keep ids of one millisecond in order; threads deciding at
    once queued on it (7% of a loaded worker's time). Ids only need to be unique and roughly
    time-ordered; the audit trail's order is its sequence number."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{ULID.from_bytes(millis.to_bytes(6, 'big') + os.urandom(10))}"
