"""The compiled snapshot answers rules 2-3 exactly as Casbin's own enforcer does.

Casbin (rbac_models/field_rbac.conf, loaded through the session adapter with the assignments and
involvements active at the moment) is the reference; the pipeline's indexes must agree with it
for every user x participant x program x field x action of the reference organisation.
"""
from __future__ import annotations

import itertools

from governance.extension import state
from governance.policy.enforcer import new_enforcer
from governance.policy.pipeline import decide
from governance.policy.request import DecisionRequest
from tests.conftest import NOW

GATES = {"subject_inactive", "not_in_program", "no_role_grant", "no_case_involvement"}


def test_compiled_grants_match_casbin_enforcer(org_app):
    with org_app.app_context():
        session = state(org_app).session
        snapshot = state(org_app).engine.snapshot(session)
        enforcer = new_enforcer(session, membership=True, now=NOW)
        checked = disagreements = 0
        for user, participant, program, action in itertools.product(
                sorted(snapshot.active_users), ["p-100", "p-200", "p-300"],
                sorted(snapshot.programs), ["view", "export", "disclose"]):
            if program not in snapshot.enrollments.get(participant, ()):
                continue
            request = DecisionRequest(subject=user, action=action, participant=participant,
                                      program=program, fields=snapshot.field_ids,
                                      purpose="individual_request", recipient="city_housing")
            outcome = decide(snapshot, request, NOW)
            for field in snapshot.field_ids:
                ours = outcome.denied.get(field) not in GATES
                theirs = enforcer.enforce(user, program, participant, field, action)
                checked += 1
                disagreements += ours != theirs
    assert checked > 1000
    assert disagreements == 0


def test_role_matrix_edits_go_through_casbin_and_the_session(org_app):
    with org_app.app_context():
        session = state(org_app).session
        enforcer = new_enforcer(session)
        assert enforcer.add_policy("billing", "contact.phone", "view", "program")
        session.commit()
        assert ["billing", "contact.phone", "view", "program"] in new_enforcer(
            session).get_policy()
