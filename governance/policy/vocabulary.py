"""The contract's fixed words: actions, reason codes (in precedence order), obligations."""
from __future__ import annotations

ACTIONS = ("view", "export", "disclose")

# Contract section 3's reason codes, in its order. Where several apply to one field, the pipeline
# reports the one listed first: its precedence (pipeline.RANK) is read from here and nowhere else.
REASONS = (
    "unknown_field",
    "subject_inactive",
    "not_in_program",
    "no_role_grant",
    "no_case_involvement",
    "unknown_recipient",
    "entire_record_not_justified",
    "bundle_prohibited",
    "not_in_bundle",
    "no_consent",
    "consent_expired",
    "consent_restriction",
    "escalation_required",
)

OBLIGATIONS = ("log_disclosure", "cover_sheet", "redisclosure_notice", "post_hoc_review",
               "record_rationale")

BUILTIN_PURPOSES = ("treatment", "payment", "operations", "individual_request", "authorization",
                    "required_by_law", "emergency")

SENSITIVITIES = ("normal", "restricted", "very_restricted")
SCOPES = ("case", "program", "organization")
APPROVALS = ("override", "escalation")

# Labels whose disclosure needs consent even for treatment, payment and operations.
CONSENT_LABELS = frozenset({"sud", "psychotherapy_notes"})
# Purposes whose requests must carry a justification (rule 7).
NEEDS_JUSTIFICATION = frozenset({"emergency", "required_by_law"})


def minimum_necessary_applies(basis: str | None, action: str, partner_type: str | None) -> bool:
    """The purpose table's "minimum necessary" column (no purpose: it applies)."""
    if basis in ("individual_request", "authorization", "required_by_law"):
        return False
    if basis == "treatment" and action == "disclose" and partner_type == "provider":
        return False
    return True


def consent_needed(basis: str | None, labels: frozenset[str]) -> bool:
    """The purpose table's consent column, for a disclosure of a field with ``labels``."""
    if basis == "authorization":
        return True
    if basis in ("treatment", "payment", "operations"):
        return bool(labels & CONSENT_LABELS)
    return False
