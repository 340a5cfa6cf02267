"""Several gunicorn instances on one PostgreSQL: changes reach every worker within a second,
and a killed worker loses no answered decision's audit row."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tests.conftest import scratch_postgres
from tests.e2e.test_cli_and_server import ROOT, call, cli, free_port

pytestmark = pytest.mark.e2e
ORG = ROOT / "tests" / "fixtures" / "org.yaml"
NICK = {"subject": "nick", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.name"]}


@pytest.fixture
def pg_url():
    with scratch_postgres("ntk_inst") as url:
        yield url


@pytest.fixture
def instances(pg_url):
    """Start gunicorn instances on the database; yields a starter, stops them all after."""
    procs = []

    def launch(*options: str) -> tuple[str, subprocess.Popen]:
        port = free_port()
        env = {**os.environ, "GOVERNANCE_DATABASE_URL": pg_url}
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", *options, "--bind",
                                 f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                return base, proc
            except OSError:
                time.sleep(0.05)
        raise AssertionError("instance did not start")

    yield launch
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=10)


def every_worker_answers(base: str, key: str, want) -> bool:
    """Several fresh connections, so every worker of the instance is asked."""
    return all(want(call(base, "/api/v1/decisions", key, NICK)) for _ in range(8))


def seconds_until(check, limit: float = 5.0) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < limit, "change never arrived"
        time.sleep(0.02)
    return time.monotonic() - began


def test_policy_change_reaches_every_worker_of_every_instance_within_a_second(
        pg_url, instances, tmp_path):
    cli(pg_url, "apply", str(ORG))
    key = cli(pg_url, "api-key", "create", "shared").stdout.strip().splitlines()[-1]
    bases = [instances("--workers", "2")[0] for _ in range(2)]
    for base in bases:
        assert every_worker_answers(base, key, lambda r: r[1]["decision"] == "deny")

    changed = tmp_path / "org.yaml"
    changed.write_text(ORG.read_text().replace(
        "  - {user: dana, participant: p-300,",
        "  - {user: nick, participant: p-100, program: housing, from: 2026-01-01}\n"
        "  - {user: dana, participant: p-300,"))
    cli(pg_url, "apply", str(changed))
    applied = time.monotonic()
    for base in bases:
        seconds_until(lambda b=base: every_worker_answers(
            b, key, lambda r: r[0] == 200 and r[1]["decision"] == "allow"))
    assert time.monotonic() - applied < 1.0

    cli(pg_url, "api-key", "revoke", "shared")
    revoked = time.monotonic()
    for base in bases:
        seconds_until(lambda b=base: every_worker_answers(b, key, lambda r: r[0] == 401))
    assert time.monotonic() - revoked < 1.0


def test_killed_worker_loses_no_answered_decision(pg_url, instances):
    cli(pg_url, "apply", str(ORG))
    key = cli(pg_url, "api-key", "create", "load").stdout.strip().splitlines()[-1]
    base, master = instances("--workers", "2", "--worker-class", "gthread", "--threads", "4")
    answered: list[str] = []

    def hammer(_: int) -> None:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                status, body = call(base, "/api/v1/decisions", key, NICK)
            except (OSError, http.client.HTTPException, json.JSONDecodeError):
                continue  # the killed worker's connection: not answered
            if status == 200:
                answered.append(body["decision_id"])

    with ThreadPoolExecutor(8) as pool:
        running = [pool.submit(hammer, i) for i in range(8)]
        time.sleep(1.0)
        workers = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        os.kill(int(workers[0]), signal.SIGKILL)
        for future in running:
            future.result()
    assert len(answered) > 100
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        stored = {row[0] for row in conn.execute(
            "SELECT ref FROM audit_event WHERE kind = 'decision'")}
    assert set(answered) <= stored
    assert "intact" in cli(pg_url, "audit", "verify").stdout
