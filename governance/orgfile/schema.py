"""The organisation file's shape (contract section 2), checked by pydantic.

Cross-references (a user's role exists, a pattern names catalogued fields) are checked
afterwards in ``validate.py``, where every problem is reported with its path.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from governance.clock import end_of, start_of

Sensitivity = Literal["normal", "restricted", "very_restricted"]
Scope = Literal["case", "program", "organization"]
Basis = Literal["treatment", "payment", "operations", "individual_request", "authorization",
                "required_by_law", "emergency"]
Action = Literal["view", "export", "disclose"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$"  # every id the file declares
ID_MAX_CHARS = 64
Ident = Annotated[str, Field(min_length=1, max_length=ID_MAX_CHARS, pattern=ID_PATTERN)]
Text = Annotated[str, Field(max_length=2000)]


def _iso(value: object) -> object:
    """Accept YAML dates/datetimes or ISO 8601 strings (``2026-11-23``, ``...T10:00:00Z``)."""
    if isinstance(value, datetime | date) or not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or date-time: {value!r}") from None


When = Annotated[date | datetime, BeforeValidator(_iso)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Windowed(Strict):
    from_: When | None = Field(default=None, alias="from")
    until: When | None = None

    @property
    def valid_from(self) -> datetime | None:
        return None if self.from_ is None else start_of(self.from_)

    @property
    def valid_until(self) -> datetime | None:
        return None if self.until is None else end_of(self.until)


class ProgramSpec(Strict):
    id: Ident
    name: Text


class FieldSpec(Strict):
    id: str
    sensitivity: Sensitivity
    labels: list[Ident] = []
    description: Text | None = None


class PurposeSpec(Strict):
    id: Ident
    basis: Basis
    description: Text | None = None


class Grants(Strict):
    view: list[str] = []
    export: list[str] = []
    disclose: list[str] = []


class EligibleOverride(Strict):
    fields: list[str]
    actions: list[Action]
    max_minutes: int | None = Field(default=None, gt=0)


class RoleSpec(Strict):
    id: Ident
    name: Text | None = None
    description: Text | None = None
    scope: Scope
    elevated: bool = False
    review_every_days: int | None = Field(default=None, gt=0)
    approves: list[Literal["override", "escalation"]] = []
    console: list[Literal["admin", "auditor", "reviewer"]] = []
    max_override_minutes: int | None = Field(default=None, gt=0)
    eligible_overrides: list[EligibleOverride] = []
    grants: Grants = Grants()


class AssignmentSpec(Windowed):
    role: Ident
    program: Ident | None = None


class UserSpec(Strict):
    id: Ident
    name: Text | None = None
    email: Text | None = None
    active: bool = True
    roles: list[AssignmentSpec] = []


class ParticipantSpec(Strict):
    id: Ident
    programs: list[Ident] = []


class InvolvementSpec(Windowed):
    user: Ident
    participant: Ident
    program: Ident


class PartnerSpec(Strict):
    id: Ident
    name: Text
    type: Ident
    standard: bool = True
    channels: list[Ident] = []
    address: Text | None = None


class BundleSpec(Strict):
    id: Ident
    purpose: Ident
    partner_types: list[Ident] = Field(min_length=1)
    required: list[str] = []
    optional: list[str] = []
    prohibited: list[str] = []
    description: Text | None = None


class ConsentSpec(Windowed):
    id: Ident | None = None
    participant: Ident
    partners: list[Ident] = []
    partner_types: list[Ident] = []
    purposes: list[Ident] = Field(min_length=1)
    fields: list[str] = Field(min_length=1)
    exclude_labels: list[Ident] = []
    status: Literal["active", "revoked"] = "active"


class GroupRoleSpec(Strict):
    group: Annotated[str, Field(min_length=3, max_length=500)]
    role: Ident
    program: Ident | None = None
    authoritative: bool = False


class DirectorySpec(Strict):
    group_roles: list[GroupRoleSpec] = []


class OrgSpec(Strict):
    programs: list[ProgramSpec] = []
    fields: list[FieldSpec] = []
    purposes: list[PurposeSpec] = []
    roles: list[RoleSpec] = []
    users: list[UserSpec] = []
    participants: list[ParticipantSpec] = []
    involvements: list[InvolvementSpec] = []
    partners: list[PartnerSpec] = []
    bundles: list[BundleSpec] = []
    consents: list[ConsentSpec] = []
    directory: DirectorySpec = DirectorySpec()
