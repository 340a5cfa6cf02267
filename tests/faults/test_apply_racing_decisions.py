"""Faults with real processes on a private PostgreSQL cluster (tests/faults/conftest.py):
an apply racing decisions: each answer is one whole policy, with its version.
"""
from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from tests.e2e.test_cli_and_server import REFERRAL, cli
from tests.faults.helpers import (
    Load,
    answer,
    assert_whole,
    every_worker_answers,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


# Alice is case manager on p-100's housing case; the narrow file takes away her contact.* grants.
VIEW = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.*", "contact.*", "risk.*"]}
RACE_REQUESTS = [REFERRAL, VIEW]


# -- 4. an apply while decisions run --------------------------------------------------------------
@pytest.mark.timeout(150)
def test_decisions_racing_an_apply_each_answer_one_whole_policy_with_its_version(
        db, server, demo):
    old = [answer(server.decide(demo.key, request)[1]) for request in RACE_REQUESTS]
    new: list[dict] = []
    with Load(server, demo.key, RACE_REQUESTS) as load:
        wait_for(lambda: load.answered() >= 20, 20, "decisions before the apply")
        applied = cli(db.url(), "apply", str(demo.narrow_file))
        new_version = re.search(r"policy version (\w+)", applied.stdout).group(1)
        wait_for(lambda: every_worker_answers(
            server, demo.key, lambda r: r["policy_version"] == new_version), 5,
            "the new policy in every worker")
        new = [answer(server.decide(demo.key, request)[1]) for request in RACE_REQUESTS]
        cli(db.url(), "apply", str(demo.base_file))  # and back, while decisions still run
        wait_for(lambda: every_worker_answers(
            server, demo.key, lambda r: r["policy_version"] == old[0]["policy_version"]), 5,
            "the old policy back in every worker")
        time.sleep(0.5)
    replies = load.replies

    # The new policy is the old one without case_manager's contact.* grants: nothing else moved.
    assert new_version != old[0]["policy_version"]
    contact = [f for f in old[1]["allowed"] if f.startswith("contact.")]
    assert contact and new[1]["allowed"] == [f for f in old[1]["allowed"] if f not in contact]
    assert new[1]["denied"] == {**old[1]["denied"], **dict.fromkeys(contact, "no_role_grant")}
    assert new[0]["denied"] == {**old[0]["denied"], "contact.phone": "no_role_grant"}

    expected = {(i, policy[i]["policy_version"]): policy[i]
                for policy in (old, new) for i in range(len(RACE_REQUESTS))}
    assert Counter(r.status for r in replies) == Counter({200: len(replies)})
    wrong = [(r.request, answer(r.body)) for r in replies
             if expected.get((r.request, r.body["policy_version"])) != answer(r.body)]
    assert not wrong, f"{len(wrong)} answer(s) neither wholly old nor wholly new: {wrong[:3]}"
    versions = Counter(r.body["policy_version"] for r in replies)
    assert versions[new_version] > 0 and versions[old[0]["policy_version"]] > 0
    assert_whole(db, replies)
