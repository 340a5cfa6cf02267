"""The compiled policy: everything a decision needs, indexed for one request at a time.

Casbin's ``p`` lines (the role matrix) are expanded against the field catalogue once, so a
decision looks up ``(role, action) -> field ids`` instead of scanning policy lines per field.
``loading.py`` fills it from the store; ``engine.py`` keeps it current. The record types are
plain slotted dataclasses (not frozen: a frozen one costs several times more to build, and a
county-size snapshot builds hundreds of thousands); nothing mutates them after loading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from governance.bounded_cache import BoundedCache
from governance.policy import patterns


@dataclass(slots=True)
class FieldInfo:
    id: str
    sensitivity: str
    labels: frozenset[str]


@dataclass(slots=True)
class PartnerInfo:
    id: str
    name: str
    type: str
    standard: bool
    channels: tuple[str, ...]


@dataclass(slots=True)
class BundleInfo:
    id: str
    purpose: str
    partner_types: frozenset[str]
    releasable: frozenset[str]
    prohibited: frozenset[str]


@dataclass(slots=True)
class Window:
    """A time-bounded row (assignment, involvement, override, escalation)."""

    id: object
    valid_from: datetime | None
    valid_until: datetime | None

    def active(self, now: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until)


@dataclass(slots=True)
class AssignmentInfo(Window):
    role: str = ""
    program: str | None = None


@dataclass(slots=True)
class InvolvementInfo(Window):
    program: str = ""


@dataclass(slots=True)
class OverrideInfo(Window):
    kind: str = "override"
    program: str = ""
    participant: str | None = None
    fields: tuple[str, ...] = ()
    actions: frozenset[str] = frozenset()


@dataclass(slots=True)
class EscalationInfo(Window):
    recipient: str | None = None
    purpose: str = ""
    action: str = "disclose"
    fields: tuple[str, ...] = ()


@dataclass(slots=True)
class ConsentInfo(Window):
    partners: frozenset[str] = frozenset()
    partner_types: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    fields: tuple[str, ...] = ()
    exclude_labels: frozenset[str] = frozenset()

    def for_recipient(self, partner: PartnerInfo) -> bool:
        return partner.id in self.partners or partner.type in self.partner_types


@dataclass(slots=True)
class KeyInfo:
    name: str
    digest: str
    scopes: frozenset[str]


@dataclass
class Snapshot:
    revision: int
    version: str
    fields: dict[str, FieldInfo]
    field_ids: tuple[str, ...]
    programs: frozenset[str]
    purposes: dict[str, str]  # purpose id -> basis
    partners: dict[str, PartnerInfo]
    bundles: dict[str, BundleInfo]
    role_scopes: dict[str, str]
    grants: dict[tuple[str, str], frozenset[str]]  # (role, action) -> field ids
    active_users: frozenset[str]
    assignments: dict[str, list[AssignmentInfo]]
    enrollments: dict[str, frozenset[str]]
    involvements: dict[tuple[str, str], list[InvolvementInfo]]
    consents: dict[str, list[ConsentInfo]]
    overrides: dict[str, list[OverrideInfo]]
    escalations: dict[tuple[str, str], list[EscalationInfo]]
    escalation_ids: frozenset[str]
    api_keys: dict[str, KeyInfo]  # prefix -> live key
    # Bounded in bytes: callers choose the keys.
    _expanded: BoundedCache = field(default_factory=lambda: BoundedCache(8 << 20), repr=False)

    def expand(self, requested: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """Field ids the requested ids/patterns name, and those naming no catalogued field."""
        return self._expanded.get(requested,
                                  lambda: patterns.expand(requested, self.field_ids))
