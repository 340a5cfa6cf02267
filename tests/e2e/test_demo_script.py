"""`bash scripts/demo.sh` as a new user runs it: in a copy of the checkout (its own `instance/`,
so the default database is its own), on a free port. It creates an administrator whose random
password is printed once, prints the console's address and an API key, serves the console, and
leaves the default database to the command line; a busy port is refused before anything."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_cli_and_server import ROOT, free_port
from tests.e2e.test_console_server import Browser

pytestmark = pytest.mark.e2e
COPIED = ("governance", "templates", "rbac_models", "migrations", "scripts", "wsgi.py",
          "gunicorn.conf.py", "pyproject.toml")
STARTUP_SECONDS = 300  # setup, the demo organisation and gunicorn, on a loaded machine


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The code beside the same .venv, with no instance/ yet (as after a fresh clone). The
    venv is brought up to date from this checkout first, so the copy's own setup finds
    nothing to install (it must never install the copy into the shared venv)."""
    subprocess.run(["bash", "scripts/setup.sh"], cwd=ROOT, check=True, timeout=600)
    folder = tmp_path / "need-to-know"
    folder.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, folder / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, folder / name)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    return folder


def fresh_environment(port: int) -> dict:
    """A shell's environment: no governance settings, no key, nothing of pytest's flask."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GOVERNANCE_", "FLASK_"))}
    return {**env, "PORT": str(port)}


class Demo:
    """`bash scripts/demo.sh` in its own process group, its output gathered as it comes."""

    def __init__(self, folder: Path, env: dict):
        self.folder, self.env, self.lines = folder, env, []
        self.process = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=folder, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_until_serving(self, base: str) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"demo.sh ended:\n{self.output}"
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"the demo did not serve in {STARTUP_SECONDS} s:\n{self.output}")

    def stop(self) -> str:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the group this test started
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.reader.join(10)
        return self.output

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """A command as the README gives it, in the checkout, with no database setting."""
        return subprocess.run([".venv/bin/flask", "--app", "wsgi", "governance", *args],
                              cwd=self.folder, env=self.env, capture_output=True, text=True,
                              timeout=300)


def printed(output: str, label: str) -> str:
    found = re.search(rf"^\s*{label}\s+(\S+)\s*$", output, re.MULTILINE)
    assert found, f"no '{label}' line in:\n{output}"
    return found.group(1)


def signs_in(base: str, user: str, password: str) -> bool:
    browser = Browser(base)
    token = browser.token("/console/sign-in")
    status, headers, _ = browser.request("/console/sign-in", {
        "user": user, "password": password, "csrf_token": token})
    return status == 302 and headers["Location"] == "/console/"


def test_first_run_prints_an_administrator_once_and_serves_the_console(checkout):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    demo = Demo(checkout, fresh_environment(port))
    try:
        demo.wait_until_serving(base)
        time.sleep(1)  # let the workers' start-up lines arrive too
        password = printed(demo.output, "Password:")
        key = printed(demo.output, r"API key \(shown once\):")
        assert printed(demo.output, "Console:") == f"{base}/console/"
        assert printed(demo.output, "User:") == "admin"
        assert len(password) >= 15

        assert signs_in(base, "admin", password)
        root = Browser(base).request("/")
        assert root[0] == 302 and root[1]["Location"] == "/console/"
        decision = urllib.request.urlopen(urllib.request.Request(
            base + "/api/v1/decisions", method="POST", headers={
                "Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            data=b'{"subject": "alice", "action": "view", "participant": "p-100", '
                 b'"program": "housing", "fields": ["identity.name"]}'), timeout=10)
        assert decision.status == 200

        # The README's commands, without settings, work on the demo's database.
        listed = demo.cli("api-key", "list")
        assert listed.returncode == 0 and "demo-" in listed.stdout, listed.stderr
        exported = demo.cli("export")
        assert exported.returncode == 0 and "housing" in exported.stdout
        assert (checkout / "instance" / "governance.sqlite").is_file()
        key_file = checkout / "instance" / "secret_key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    finally:
        output = demo.stop()
    assert output.count(password) == 1, output


def test_a_second_run_gives_the_administrator_a_new_password(checkout):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    passwords = []
    for _ in range(2):
        demo = Demo(checkout, fresh_environment(port))
        try:
            demo.wait_until_serving(base)
            passwords.append(printed(demo.output, "Password:"))
            assert signs_in(base, "admin", passwords[-1])
        finally:
            demo.stop()
    assert passwords[0] != passwords[1]


def test_a_busy_port_is_refused_before_anything_is_loaded(checkout):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        refused = subprocess.run(["bash", "scripts/demo.sh"], cwd=checkout,
                                 env=fresh_environment(port), capture_output=True, text=True,
                                 timeout=60)
    assert refused.returncode == 1
    assert f"Port {port} is already in use" in refused.stderr
    assert f"PORT={port + 1} bash scripts/demo.sh" in refused.stderr
    assert refused.stdout == ""
    assert not (checkout / "instance").exists()  # nothing set up, loaded or written
