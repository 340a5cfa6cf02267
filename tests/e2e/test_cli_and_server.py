"""From the outside, as a new user would: CLI commands and a real gunicorn server process."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import scratch_postgres

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'e2e.sqlite'}"
        return
    with scratch_postgres("ntk_e2e") as url:
        yield url


def cli(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": url}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed: {result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(database_url):
    port = free_port()
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": database_url}
    cli(database_url, "demo")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    yield base, database_url
    process.terminate()
    process.wait(timeout=10)


def call(base: str, path: str, key: str | None = None, body: object = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard",
            "fields": ["identity.name", "contact.phone", "clinical.diagnosis"]}


def test_demo_key_and_decision_over_http(server):
    base, url = server
    assert call(base, "/healthz")[0] == 200
    created = cli(url, "api-key", "create", "e2e", "--scope", "decide", "--scope", "manage")
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("ntk_") and key not in cli(url, "api-key", "list").stdout

    assert call(base, "/api/v1/decisions", None, REFERRAL)[0] == 401
    status, body = call(base, "/api/v1/decisions", key, REFERRAL)
    assert status == 200
    assert body["decision"] == "partial"
    assert body["allowed"] == ["contact.phone", "identity.name"]
    assert body["denied"] == {"clinical.diagnosis": "no_role_grant"}  # minimum necessary
    assert body["obligations"] == ["log_disclosure", "cover_sheet"]

    status, events = call(base, f"/api/v1/audit?ref={body['decision_id']}", key)
    assert status == 200 and events["events"][0]["payload"]["caller"] == "e2e"
    assert "intact" in cli(url, "audit", "verify").stdout

    cli(url, "api-key", "revoke", "e2e")
    assert call(base, "/api/v1/decisions", key, REFERRAL)[0] == 401


def test_apply_export_and_dry_run_from_the_command_line(database_url, tmp_path):
    org = ROOT / "tests" / "fixtures" / "org.yaml"
    dry = cli(database_url, "apply", str(org), "--dry-run")
    assert "Dry run" in dry.stdout and "create" in dry.stdout
    applied = cli(database_url, "apply", str(org))
    assert "Applied" in applied.stdout
    again = cli(database_url, "apply", str(org))
    assert "No changes" in again.stdout
    exported = tmp_path / "exported.yaml"
    cli(database_url, "export", "-o", str(exported))
    assert "No changes" in cli(database_url, "apply", str(exported)).stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(org.read_text().replace("purpose: care_coordination", "purpose: gossip"))
    refused = cli(database_url, "apply", str(bad), check=False)
    assert refused.returncode != 0 and "bundles[1].purpose: unknown purpose 'gossip'" in (
        refused.stderr)
    missing = cli(database_url, "apply", str(tmp_path / "nope.yaml"), check=False)
    assert missing.returncode != 0 and "nope.yaml" in missing.stderr


def test_concurrent_decisions_keep_the_chain_whole(server):
    from concurrent.futures import ThreadPoolExecutor

    base, url = server
    key = cli(url, "api-key", "create", "load").stdout.strip().splitlines()[-1]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: call(base, "/api/v1/decisions", key, REFERRAL)[0],
                                 range(200)))
    assert statuses == [200] * 200
    verified = cli(url, "audit", "verify").stdout
    assert "intact" in verified
    assert int(verified.split(":")[1].split()[0]) >= 200
