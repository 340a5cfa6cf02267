"""What an apply of the organisation file plans and reports: its change lines, its result
(changes and conflicts, and the fingerprint of the plan a reviewer saw), and the refusal when
the store moved on since that plan was reviewed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from governance.audit import canonical
from governance.errors import Conflict


@dataclass
class Change:
    section: str
    op: str  # create | update | retire | end | disable | enable | add | remove
    key: str
    detail: dict | None = None
    subject: str | None = None  # the user it concerns, if any
    participant: str | None = None

    def __str__(self) -> str:
        extra = f"  {canonical(self.detail)}" if self.detail else ""
        return f"{self.op:8} {self.section:13} {self.key}{extra}"


@dataclass
class ApplyResult:
    changes: list[Change] = field(default_factory=list)
    # What the file still lists but something else ended: left ended (one line each).
    conflicts: list[str] = field(default_factory=list)
    version: str = ""
    dry_run: bool = False

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[f"{c.section}.{c.op}"] = counts.get(f"{c.section}.{c.op}", 0) + 1
        return counts

    def plan_digest(self) -> str:
        """A fingerprint of every change and conflict line: what a reviewer of the plan saw."""
        lines = [str(c) for c in self.changes] + self.conflicts
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class PlanChanged(Conflict):
    """The store changed since the plan was reviewed: the apply would now do something else.
    Nothing was written; ``result`` is the new plan (as a dry run)."""

    code = "plan_changed"

    def __init__(self, result: ApplyResult):
        super().__init__("the organisation changed since this plan was reviewed; review the "
                         "new plan before applying it")
        self.result = result


def _key(parts: tuple) -> str:
    return " ".join("-" if p is None else (p.isoformat() if isinstance(p, datetime) else str(p))
                    for p in parts)
