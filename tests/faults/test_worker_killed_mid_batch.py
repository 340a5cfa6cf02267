"""Faults with real processes on a private PostgreSQL cluster (tests/faults/conftest.py):
a worker killed in the middle of an AuthZEN batch: no 200 for it, and gunicorn
replaces the worker.
"""
from __future__ import annotations

import http.client
import json
import os
import signal

import pytest

from tests.faults.helpers import (
    assert_answered_decisions_audited,
    assert_chain_verifies,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


# -- 3. a worker dies in the middle of a batch ----------------------------------------------------
def authzen_batch(items: int) -> dict:
    return {"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"},
            "evaluations": [{"resource": {
                "type": "participant_record", "id": f"p-{100 + i % 300}",
                "properties": {"program": "housing", "fields": ["*"]}}} for i in range(items)]}


@pytest.mark.timeout(150)
def test_worker_killed_mid_batch_answers_no_200_and_gunicorn_replaces_it(db, server, demo):
    decisions = "SELECT count(*) FROM audit_event WHERE kind = 'decision'"
    before, workers = db.scalar(decisions), server.workers()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/access/v1/evaluations", json.dumps(authzen_batch(1000)),
                       {"Content-Type": "application/json",
                        "Authorization": f"Bearer {demo.key}"})
    client_port = connection.sock.getsockname()[1]
    wait_for(lambda: server.worker_serving(client_port), 10, "a worker accepting the batch")
    victim = server.worker_serving(client_port)
    # In the middle: the first rows of the batch are committed, the answer not yet sent.
    wait_for(lambda: db.scalar(decisions) > before, 20, "the batch's first rows committed",
             pause=0.005)
    os.kill(victim, signal.SIGKILL)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        status = connection.getresponse().status
        pytest.fail(f"the killed worker's batch was answered {status}")
    connection.close()

    wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), 20,
             "gunicorn replacing the killed worker")
    assert set(server.workers()) - set(workers), "no new worker"
    probes = [server.decide(demo.key) for _ in range(8)]
    assert [status for status, _ in probes] == [200] * 8
    assert server.master.poll() is None
    assert_answered_decisions_audited(db, [body for _, body in probes])
    assert_chain_verifies(db)
