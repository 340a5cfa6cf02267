"""Faults with real processes on a private PostgreSQL cluster (tests/faults/conftest.py):
the store stopped, or crashed, under load: 503s, never a 500, and decisions back
without a restart.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from tests.faults.helpers import (
    Load,
    assert_whole,
    listeners,
    send,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


# -- 1. the store goes away -----------------------------------------------------------------------
# Both tests below catch decisions in flight when the store dies. Such a request may have begun
# a transaction on its session (it reads the revision through it while the listener is down);
# a ROLLBACK on the dead connection in the context's teardown used to raise out of the WSGI app
# (a 500): governance.db.release_session now ends that transaction first.


@pytest.mark.timeout(150)
def test_store_outage_answers_503_and_decisions_recover_without_a_restart(
        cluster, db, server, demo):
    outage = 5.0
    with Load(server, demo.key) as load:
        wait_for(lambda: load.answered() >= 20, 20, "decisions answered before the outage")
        cluster.stop("immediate")
        down = time.monotonic()
        time.sleep(1.0)
        health_during = send(server.base, "/healthz")[0]
        time.sleep(max(0.0, down + outage - time.monotonic()))
        restarting = time.monotonic()
        cluster.start()  # returns once crash recovery is over and connections are accepted
        back = time.monotonic()
        recovered = wait_for(lambda: server.decide(demo.key)[0] == 200, 10,
                             "a decision answered 200 after the restart")
        time.sleep(2.0)
    replies = load.replies

    assert health_during == 503
    statuses = Counter(reply.status for reply in replies)
    odd = [(round(r.started - down, 2), r.status, r.body) for r in replies
           if r.status not in (200, 503)]
    assert not odd, (f"statuses under the outage: {statuses}; (s after the stop, status, body): "
                     f"{odd[:5]}\n{server.log_excerpt()}")
    during = [r for r in replies if r.started > down and r.ended < restarting]
    assert len(during) > 10 and {r.status for r in during} == {503}
    assert all(r.body["error"]["code"] == "store_unavailable" for r in during)
    assert recovered < 5.0, f"decisions came back only {recovered:.1f} s after the restart"
    settled = [r for r in replies if r.started > back + recovered + 0.5]
    assert settled and {r.status for r in settled} == {200}
    assert send(server.base, "/healthz")[0] == 200
    assert server.master.poll() is None
    assert_whole(db, replies)


@pytest.mark.timeout(150)
def test_store_crash_while_decisions_read_through_their_sessions_answers_503_never_500(
        cluster, db, server, demo):
    """The same outage, made likely to catch requests in the middle of a session transaction:
    with the change listeners' connections just killed, every decision reads the revision
    through its request's session until they reconnect (a second later), and the store crashes
    meanwhile; three times, with more callers than the server has threads."""
    crashes: list[float] = []
    with Load(server, demo.key, threads=12, pause=0.0) as load:
        for _ in range(3):
            wait_for(lambda: server.decide(demo.key)[0] == 200 and len(listeners(db)) == 2, 20,
                     "decisions answered and a listener in each worker")
            db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE pid = ANY(%s)", (list(listeners(db)),))
            time.sleep(0.2)
            cluster.stop("immediate")
            crashes.append(time.monotonic())
            time.sleep(0.5)
            cluster.start()
        wait_for(lambda: server.decide(demo.key)[0] == 200, 10, "a decision after the restart")
        time.sleep(0.5)
    replies = load.replies
    odd = [(round(r.started - crashes[0], 2), r.status, r.body) for r in replies
           if r.status not in (200, 503)]
    assert not odd, (f"{Counter(r.status for r in replies)}; (s after the first crash, status, "
                     f"body): {odd[:5]}\n{server.log_excerpt()}")
    assert server.master.poll() is None
    assert_whole(db, replies)
