"""The pipeline follows the contract's reason list: one list, and the precedence it sets.

Contract section 3: "Reason codes (one per denied field; where several apply, the first in this
list)". ``vocabulary.REASONS`` is that list; these tests pin it to the contract's text and check
that the pipeline reports, for every combination of conditions we can build, the reason the list
names first. Expected answers are derived from the list, never written down, so a list reordered
without the pipeline following it fails here.

No store: a small snapshot is built by hand, so each decision costs microseconds and every
combination of faults can be tried.
"""
from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta

import pytest

from governance.policy import pipeline
from governance.policy.request import parse_decision_request
from governance.policy.snapshot import (
    AssignmentInfo,
    BundleInfo,
    ConsentInfo,
    FieldInfo,
    PartnerInfo,
    Snapshot,
)
from governance.policy.vocabulary import BUILTIN_PURPOSES, REASONS

NOW = datetime(2026, 11, 23, 12, 0, 0)

# Contract section 3, copied by hand: change both together.
CONTRACT_REASONS = (
    "unknown_field", "subject_inactive", "not_in_program", "no_role_grant",
    "no_case_involvement", "unknown_recipient", "entire_record_not_justified",
    "bundle_prohibited", "not_in_bundle", "no_consent", "consent_expired",
    "consent_restriction", "escalation_required",
)

FIELD = "sud.note"  # the field every case is about (labelled sud: operations needs consent)
UNKNOWN = "sud.nope"

# One fault per reason: applied to the base case (which releases FIELD) it gives that reason
# alone. What each fault changes is read by ``build`` below.
FAULTS = {
    "unknown_field": "ask for a field the catalogue does not have",
    "subject_inactive": "the subject is inactive",
    "not_in_program": "the participant is not enrolled in the program",
    "no_role_grant": "the subject's role grants no disclosure of the field",
    "no_case_involvement": "the subject's role is case-scope and there is no involvement",
    "unknown_recipient": "the recipient is not a known partner",
    "entire_record_not_justified": 'the request asks for "*" (minimum necessary applies)',
    "bundle_prohibited": "the bundle prohibits the field",
    "not_in_bundle": "the bundle does not list the field",
    "no_consent": "the participant has no consent covering the disclosure",
    "consent_expired": "the covering consent's `until` has passed",
    "consent_restriction": "another active consent for the recipient excludes label sud",
    "escalation_required": "the partner is not standard and there is no escalation",
}
# Pairs of faults that cannot hold together: they change the same thing, or the field asked
# about is another one.
FIELD_FAULTS = {"no_role_grant", "no_case_involvement", "entire_record_not_justified",
                "bundle_prohibited", "not_in_bundle", "no_consent", "consent_expired",
                "consent_restriction", "escalation_required"}
EXCLUSIVE = {frozenset(p) for p in [("no_role_grant", "no_case_involvement"),
                                    ("no_consent", "consent_expired")]}
EXCLUSIVE |= {frozenset(("unknown_field", f)) for f in FIELD_FAULTS}
# Rules 5-6 ask about the recipient's bundle, consents and partner, so for an unknown
# recipient they are not asked (the pipeline follows any list that keeps unknown_recipient
# before their reasons, as the contract's does).
NEEDS_RECIPIENT = {"bundle_prohibited", "not_in_bundle", "no_consent", "consent_expired",
                   "consent_restriction", "escalation_required"}


def build(faults: frozenset[str]) -> tuple[Snapshot, dict]:
    """The base case (subject ann discloses FIELD of p1 to city under bundle b, all allowed)
    with ``faults`` applied; returns the snapshot and the request body."""
    day = timedelta(days=1)
    scope = "case" if "no_case_involvement" in faults else "program"
    disclosable = {"contact.phone"} if "no_role_grant" in faults else {FIELD, "contact.phone"}
    consents = [ConsentInfo(
        "c-cover", NOW - 30 * day, NOW - day if "consent_expired" in faults else NOW + 30 * day,
        partners=frozenset({"city"}), purposes=frozenset({"referral"}), fields=("sud.*",))]
    if "no_consent" in faults:
        consents = []
    if "consent_restriction" in faults:  # covers another purpose, so it gives no consent
        consents.append(ConsentInfo("c-limit", None, None, partners=frozenset({"city"}),
                                    purposes=frozenset({"other"}), fields=("contact.*",),
                                    exclude_labels=frozenset({"sud"})))
    releasable = {"contact.phone"} if "not_in_bundle" in faults else {FIELD, "contact.phone"}
    snap = Snapshot(
        revision=1, version="test-version",
        fields={FIELD: FieldInfo(FIELD, "restricted", frozenset({"sud"})),
                "contact.phone": FieldInfo("contact.phone", "normal", frozenset())},
        field_ids=("contact.phone", FIELD),
        programs=frozenset({"housing"}),
        purposes={**{p: p for p in BUILTIN_PURPOSES}, "referral": "operations",
                  "other": "operations"},
        partners={"city": PartnerInfo("city", "City", "housing",
                                      "escalation_required" not in faults, ())},
        bundles={"b": BundleInfo("b", "referral", frozenset({"housing"}), frozenset(releasable),
                                 frozenset({FIELD} if "bundle_prohibited" in faults else ()))},
        role_scopes={"worker": scope},
        grants={("worker", "disclose"): frozenset(disclosable)},
        active_users=frozenset() if "subject_inactive" in faults else frozenset({"ann"}),
        assignments={"ann": [AssignmentInfo(1, None, None, role="worker", program="housing")]},
        enrollments={"p1": frozenset({"other_program"} if "not_in_program" in faults
                                     else {"housing"})},
        involvements={}, consents={"p1": consents}, overrides={}, escalations={},
        escalation_ids=frozenset(), api_keys={},
    )
    body = {"subject": "ann", "action": "disclose", "participant": "p1", "program": "housing",
            "fields": ["*"] if "entire_record_not_justified" in faults
            else [UNKNOWN if "unknown_field" in faults else FIELD],
            "purpose": "referral", "bundle": "b",
            "recipient": "nobody" if "unknown_recipient" in faults else "city"}
    return snap, body


def reason_for(faults: frozenset[str]) -> str | None:
    snap, body = build(faults)
    outcome = pipeline.decide(snap, parse_decision_request(body), NOW)
    focus = UNKNOWN if "unknown_field" in faults else FIELD
    return outcome.denied.get(focus)


def combinations(*, size: int | None = None, reorderable: bool = False):
    """Every set of faults that can hold together (of ``size``, or of any size from 2)."""
    sizes = [size] if size else range(2, len(FAULTS) + 1)
    for n in sizes:
        for combo in itertools.combinations(FAULTS, n):
            faults = frozenset(combo)
            if any(pair <= faults for pair in EXCLUSIVE):
                continue
            if reorderable and "unknown_recipient" in faults and faults & NEEDS_RECIPIENT:
                continue
            yield faults


def first_listed(faults: frozenset[str], order: tuple[str, ...] = REASONS) -> str:
    return min(faults, key=order.index)


def test_reasons_are_the_contracts_list_in_its_order():
    assert REASONS == CONTRACT_REASONS
    assert pipeline.RANK == {reason: i for i, reason in enumerate(CONTRACT_REASONS)}


def test_every_reason_has_a_fault_here():
    assert set(FAULTS) == set(REASONS)


def test_base_case_is_released():
    snap, body = build(frozenset())
    outcome = pipeline.decide(snap, parse_decision_request(body), NOW)
    assert outcome.allowed == [FIELD] and outcome.denied == {}
    assert outcome.basis == {FIELD: ["assignment:1", "consent:c-cover"]}


@pytest.mark.parametrize("reason", REASONS)
def test_each_fault_alone_gives_its_reason(reason):
    assert reason_for(frozenset({reason})) == reason


@pytest.mark.parametrize("faults", list(combinations(size=2)),
                         ids=lambda f: "+".join(sorted(f, key=REASONS.index)))
def test_two_reasons_apply_the_first_listed_is_reported(faults):
    assert reason_for(faults) == first_listed(faults)


def test_each_adjacent_pair_of_the_list_is_tried_unless_exclusive():
    tried = set(combinations(size=2))
    for earlier, later in itertools.pairwise(REASONS):
        pair = frozenset((earlier, later))
        assert pair in tried or pair in EXCLUSIVE, pair


def test_any_number_of_reasons_apply_the_first_listed_is_reported():
    wrong = [sorted(f) for f in combinations() if reason_for(f) != first_listed(f)]
    assert wrong == []


def reorder(monkeypatch, order: tuple[str, ...]) -> None:
    """Give the pipeline another precedence list, as if REASONS had been rewritten."""
    rank = {reason: i for i, reason in enumerate(order)}
    monkeypatch.setattr(pipeline, "RANK", rank)
    rules = pipeline.with_floors(rank)
    monkeypatch.setattr(pipeline, "FIELD_RULES", rules)
    monkeypatch.setattr(pipeline, "FIELD_RULES_FLOOR", rules[0][1])


ORDERS = [tuple(reversed(REASONS))] + [
    tuple(random.Random(seed).sample(REASONS, len(REASONS))) for seed in range(8)]


@pytest.mark.parametrize("order", ORDERS, ids=lambda o: o[0])
def test_precedence_comes_from_the_list_not_from_the_code(monkeypatch, order):
    """Reordered, the list still decides: the pipeline holds no order of its own."""
    reorder(monkeypatch, order)
    for reason in REASONS:  # a lone reason does not depend on the order
        assert reason_for(frozenset({reason})) == reason
    wrong = [sorted(f) for f in combinations(reorderable=True)
             if reason_for(f) != first_listed(f, order)]
    assert wrong == []
