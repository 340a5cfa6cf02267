"""Faults with real processes on a private PostgreSQL cluster (tests/faults/conftest.py):
the change listener's connection killed: a policy change still reaches every
worker's decisions, and the listeners reconnect.
"""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_cli_and_server import cli
from tests.faults.helpers import (
    assert_answered_decisions_audited,
    assert_chain_verifies,
    every_worker_answers,
    listeners,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


# -- 2. the change listener loses its connection --------------------------------------------------
@pytest.mark.timeout(150)
def test_policy_change_reaches_decisions_after_the_listener_connection_is_killed(
        db, server, demo):
    probes: list[dict] = []

    def narrowed(reply: dict) -> bool:
        return reply["denied"].get("contact.phone") == "no_role_grant"

    wait_for(lambda: every_worker_answers(server, demo.key, lambda r: True, seen=probes)
             and len(listeners(db)) == 2, 20, "a change listener in each of the 2 workers")
    killed = listeners(db)
    # The listener's backend is what dies: the workers keep their other connections.
    assert db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid = ANY(%s)", (list(killed),)) == [(True,), (True,)]
    assert every_worker_answers(server, demo.key, lambda r: not narrowed(r), seen=probes)

    applied = cli(db.url(), "apply", str(demo.narrow_file))
    new_version = re.search(r"policy version (\w+)", applied.stdout).group(1)
    wait_for(lambda: every_worker_answers(server, demo.key, narrowed, seen=probes), 5,
             "the narrowed policy in every worker's decisions")
    assert all(r["policy_version"] == new_version for r in probes[-8:])
    wait_for(lambda: len(listeners(db) - killed) == 2, 10, "both listeners reconnected")
    assert_answered_decisions_audited(db, probes)
    assert_chain_verifies(db)
