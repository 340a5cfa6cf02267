"""The simulator's trail agrees with the pipeline for every request we can build on the test
organisation: the same answer, a trail for every field, and for each denied field exactly one
step marked as the one its reason reports (the failure a compliance officer should read)."""
from __future__ import annotations

import itertools

import pytest

from governance.extension import state
from governance.policy.explain import explain
from governance.policy.pipeline import decide
from governance.policy.request import RequestError, parse_decision_request
from governance.reads.access import explanation_facts
from tests.conftest import NOW

SUBJECTS = ("alice", "sam", "lee", "olga", "paul", "ivy", "fred", "dana", "rita", "bo", "ghost")
PARTICIPANTS = ("p-100", "p-200", "p-300", "p-999")
PROGRAMS = ("housing", "behavioral_health")
FIELDS = (["*"], ["identity.*", "clinical.*", "sud.*", "nothing.*"])
DISCLOSURES = (
    {"purpose": "housing_referral", "recipient": "city_housing",
     "bundle": "housing_referral_standard"},
    {"purpose": "housing_referral", "recipient": "acme_landlord"},
    {"purpose": "care_coordination", "recipient": "riverside_clinic", "bundle": "care_handoff"},
    {"purpose": "treatment", "recipient": "riverside_clinic"},
    {"purpose": "operations", "recipient": "county_dhs"},
    {"purpose": "crisis_escalation", "recipient": "county_dhs", "justification": "risk"},
    {"purpose": "payment", "recipient": "nobody_known"},
)


def requests():
    for subject, participant, program, fields in itertools.product(
            SUBJECTS, PARTICIPANTS, PROGRAMS, FIELDS):
        base = {"subject": subject, "participant": participant, "program": program,
                "fields": fields}
        yield {**base, "action": "view"}
        yield {**base, "action": "export"}
        for extra in DISCLOSURES:
            yield {**base, "action": "disclose", **extra}


@pytest.fixture
def world(org_app):
    with org_app.app_context():
        yield state(org_app).session, state(org_app).snapshot()


def test_the_trail_agrees_with_the_pipeline_everywhere(world):
    session, snap = world
    checked = 0
    for body in requests():
        request = parse_decision_request(body)
        try:
            outcome = decide(snap, request, NOW)
        except RequestError:
            continue
        explained = explain(snap, request, NOW, explanation_facts(session, snap,
                                                                  request.subject))
        assert explained.outcome == outcome
        trails = {t.field: t for t in explained.fields}
        assert set(trails) == set(outcome.allowed) | set(outcome.denied), body
        for field_id in outcome.allowed:
            assert trails[field_id].result == "allowed"
            assert not any(s.decisive for s in trails[field_id].steps), (body, field_id)
        for field_id, reason in outcome.denied.items():
            trail = trails[field_id]
            assert trail.result == reason
            decisive = [s for s in trail.steps if s.decisive]
            assert len(decisive) == 1 and not decisive[0].met, (body, field_id, trail)
            if reason == "no_role_grant":
                assert trail.no_rule_matched, (body, field_id)
        checked += 1
    assert checked > 1000
