"""GOVERNANCE_SECRET_KEY: required to serve (one key for every worker and restart), never
needed by tests, debug mode or the command line."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from governance import create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """The environment of a service being started: a database, and no key, debug or CLI."""
    for name in ("GOVERNANCE_SECRET_KEY", "FLASK_DEBUG", "FLASK_RUN_FROM_CLI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOVERNANCE_DATABASE_URL", f"sqlite:///{tmp_path / 'key.sqlite'}")
    return dict(os.environ)


def test_a_service_without_the_key_refuses_to_start_saying_how_to_make_one(environment):
    with pytest.raises(RuntimeError) as refused:
        create_app()
    message = str(refused.value)
    assert message.startswith("GOVERNANCE_SECRET_KEY is not set")
    assert 'python -c "import secrets; print(secrets.token_hex(32))"' in message


def test_gunicorn_stops_at_start_with_that_message(environment):
    served = subprocess.run([sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0",
                             "wsgi:app"], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=120)
    assert served.returncode != 0
    assert "GOVERNANCE_SECRET_KEY is not set" in served.stderr
    assert "secrets.token_hex(32)" in served.stderr


def test_every_worker_and_restart_signs_with_the_one_key(environment, monkeypatch):
    monkeypatch.setenv("GOVERNANCE_SECRET_KEY", "one key for all workers")
    first, second = create_app(), create_app()
    assert first.secret_key == second.secret_key == "one key for all workers"
    cookie = first.session_interface.get_signing_serializer(first).dumps({"seen": 1})
    assert second.session_interface.get_signing_serializer(second).loads(cookie) == {"seen": 1}


def test_debug_mode_and_tests_make_a_key_for_the_process(environment, monkeypatch):
    assert create_app({"TESTING": True}).secret_key
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert create_app().secret_key


def test_the_command_line_needs_no_key(environment):
    listed = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance",
                             "api-key", "list"], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
