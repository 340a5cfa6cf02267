"""The trail of a simulated decision (``explain.py``): its steps, each field's trail and the
facts a trail needs beyond the snapshot. Plain data, as the API answers it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from governance.policy.pipeline import Outcome

# Step kinds, in the order a trail reads.
SUBJECT, ENROLMENT, PURPOSE, RECIPIENT, BUNDLE, ENTIRE_RECORD = (
    "subject", "enrolment", "purpose", "recipient", "bundle", "entire_record")
CATALOGUE, GRANT, ASSIGNMENT, INVOLVEMENT, OVERRIDE, BREAK_GLASS, NO_RULE = (
    "catalogue", "grant", "assignment", "involvement", "override", "break_glass", "no_rule")
CONSENT, RESTRICTION, ESCALATION = "consent", "restriction", "escalation"
# The step whose failure a reason code reports: of the field's own steps, or of the request's.
REASON_STEP = {"unknown_field": CATALOGUE, "no_role_grant": NO_RULE,
               "no_case_involvement": INVOLVEMENT, "bundle_prohibited": BUNDLE,
               "not_in_bundle": BUNDLE, "no_consent": CONSENT, "consent_expired": CONSENT,
               "consent_restriction": RESTRICTION, "escalation_required": ESCALATION}
REQUEST_REASON_STEP = {"subject_inactive": SUBJECT, "not_in_program": ENROLMENT,
                       "unknown_recipient": RECIPIENT,
                       "entire_record_not_justified": ENTIRE_RECORD}


@dataclass(frozen=True)
class Origin:
    """Where an assignment came from: ``source`` (file, directory, console...) and, for the
    directory, the group that gives it."""

    source: str
    group: str | None = None


@dataclass
class Facts:
    """What the trail needs beyond the snapshot, read from the store by the caller."""

    grant_patterns: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    origins: dict[object, Origin] = field(default_factory=dict)  # assignment id -> origin


@dataclass(frozen=True)
class Step:
    kind: str
    met: bool
    text: str
    ref: str | None = None
    decisive: bool = False  # the failure the field's reason code reports

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "met": self.met, "text": self.text}
        if self.ref is not None:
            out["ref"] = self.ref
        if self.decisive:
            out["decisive"] = True
        return out


@dataclass
class FieldTrail:
    field: str
    result: str  # "allowed" or the reason code
    no_rule_matched: bool
    steps: list[Step]

    def as_dict(self) -> dict:
        return {"result": self.result, "no_rule_matched": self.no_rule_matched,
                "steps": [s.as_dict() for s in self.steps]}


@dataclass
class Explanation:
    outcome: Outcome
    request_steps: list[Step]
    fields: list[FieldTrail]

    @property
    def no_rule_matched(self) -> list[str]:
        return [t.field for t in self.fields if t.no_rule_matched]

    def trail_dict(self) -> dict:
        return {"request": [s.as_dict() for s in self.request_steps],
                "fields": {t.field: t.as_dict() for t in self.fields},
                "no_rule_matched": self.no_rule_matched}


def origin_text(origin: Origin | None) -> str:
    """How an assignment came to be, as a trail reads it."""
    if origin is None:
        return ""
    if origin.group:
        return f"; through directory group {origin.group}"
    return {"file": "; from the organisation file", "directory": "; from the directory",
            "console": "; given in the console", "api": "; given through the API",
            "workflow": "; from a workflow", "cli": "; given on the command line"
            }.get(origin.source, f"; source {origin.source}")


def shown_until(value: datetime | None) -> str:
    """An exclusive ``until`` as people wrote it: a bound at midnight is the day before
    (``until: 2027-01-01`` is stored as 2027-01-02 00:00)."""
    if value is None:
        return ""
    if value.hour == value.minute == value.second == value.microsecond == 0:
        return (value - timedelta(days=1)).date().isoformat()
    return value.isoformat(timespec="minutes")


def directory_group(source: str, reason: str | None) -> str | None:
    """The group a directory-made assignment came through (its reason: ``member of DN``)."""
    if source != "directory" or not reason:
        return None
    return reason[len("member of "):] if reason.startswith("member of ") else None
