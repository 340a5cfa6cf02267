"""Browser tests: Debian's Chromium driven by Playwright against a real gunicorn server.

Fixtures (see tests/browser/test_sign_in_and_dashboard.py for a whole test):

- ``console_server``: one server for the whole session, on a fresh SQLite database holding the
  console org (tests/console/conftest.py ``console_org()``: ada admin, cora auditor, sam
  supervisor/reviewer/approver, alice, nick, dana, rita), applied with the real
  ``flask governance apply`` and passwords set with ``governance user set-password``. It is a
  ``ConsoleServer``: ``base_url``, ``env``, ``database_url``, ``cli(*args)``,
  ``api_key(*scopes)``, ``api(method, path, body, key)``.
- ``fresh_console_server``: the same, but a new server and database for one test.
- ``page_server``: the server ``page_as`` signs in to, ``console_server`` unless a test module
  overrides it (``@pytest.fixture def page_server(fresh_console_server): return
  fresh_console_server``) because it changes what other tests would see.
- ``browser``: the session's Chromium (headless, /usr/bin/chromium; never downloaded).
- ``page_as(user)``: a new page (own cookies) signed in as ``user`` through the sign-in form
  with the test password; ``page_as(None)`` is a page not signed in.
- ``check_page(page, name)``: axe-core finds no serious or critical violation, the page broke
  none of its Content-Security-Policy, and a full-page screenshot is saved to
  ``artifacts/screenshots/<name>.png`` (look at it).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.browser.axe import assert_accessible
from tests.console.conftest import console_org
from tests.signin.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
TIMEOUT_MS = 20_000  # a loaded two-core machine: generous, but a real failure still fails



def pytest_collection_modifyitems(items) -> None:  # noqa: ANN001
    """Every test here is a browser test (``-m browser`` picks them, ``-m 'not browser'``
    leaves them out)."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.browser)


@dataclass
class ConsoleServer:
    """A gunicorn process serving the console on loopback, and the way to its database."""

    base_url: str
    env: dict
    database_url: str
    folder: Path
    passwords: set = field(default_factory=set)

    def cli(self, *args: str, stdin: str | None = None, check: bool = True
            ) -> subprocess.CompletedProcess:
        """``flask --app wsgi governance ARGS`` on this server's database."""
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args], cwd=ROOT,
            env=self.env, input=stdin, capture_output=True, text=True, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"governance {' '.join(args)} failed:\n{result.stderr}")
        return result

    def set_password(self, user: str, password: str = PASSWORD) -> None:
        """Through the real CLI, once per user and password (page_as calls it)."""
        if (user, password) not in self.passwords:
            self.cli("user", "set-password", user, "--password-stdin", stdin=password + "\n")
            self.passwords.add((user, password))

    def api_key(self, *scopes: str) -> str:
        """A new API key with ``scopes`` (default ``decide``), made with the real CLI."""
        name = f"browser-{secrets.token_hex(4)}"
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        return self.cli("api-key", "create", name, *args).stdout.strip().splitlines()[-1]

    def api(self, method: str, path: str, body: dict | None, key: str) -> tuple[int, dict]:
        """One JSON call of the service's API: (status, answer)."""
        request = urllib.request.Request(
            self.base_url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_console_server(folder: Path, org: dict | None = None,
                           env_extra: dict[str, str] | None = None
                           ) -> Iterator[ConsoleServer]:
    """A fresh database with the console org (or ``org``), and gunicorn serving it until the
    block ends; ``env_extra`` adds settings (a directory to sync from, say)."""
    folder.mkdir(parents=True, exist_ok=True)
    database_url = f"sqlite:///{folder / 'console.sqlite'}"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("GOVERNANCE_")}
    env.update({"GOVERNANCE_DATABASE_URL": database_url,
                "GOVERNANCE_SECRET_KEY": secrets.token_hex(32),
                "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
    env.update(env_extra or {})
    port = free_port()
    server = ConsoleServer(f"http://127.0.0.1:{port}", env, database_url, folder)
    org_file = folder / "console-org.yaml"
    org_file.write_text(yaml.safe_dump(org or console_org(), sort_keys=False))
    server.cli("apply", str(org_file))
    log_path = folder / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--timeout", "120",
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(server.base_url, process, log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited ({process.returncode}):\n"
                                 f"{log_path.read_text(errors='replace')[-4000:]}")
        try:
            urllib.request.urlopen(base_url + "/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the console server did not answer /healthz within 120 s:\n"
                         f"{log_path.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def console_server(tmp_path_factory) -> Iterator[ConsoleServer]:
    with running_console_server(tmp_path_factory.mktemp("console-server")) as server:
        yield server


@pytest.fixture
def fresh_console_server(tmp_path) -> Iterator[ConsoleServer]:
    with running_console_server(tmp_path / "console-server") as server:
        yield server


@pytest.fixture
def page_server(console_server) -> ConsoleServer:
    """The server page_as uses; override in a module that needs its own database."""
    return console_server


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
                    "(apt-get install -y chromium; .ci/run does). Never `playwright install`.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: .venv/bin/pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-background-networking"])
    except Exception:
        playwright.stop()
        raise
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def page_as(browser, page_server):
    """Factory: ``page_as("ada")`` is a new page (its own cookies) signed in as ada through the
    sign-in form, on the dashboard; ``page_as(None)`` a page on the sign-in form, not signed in.
    Every page records Content-Security-Policy refusals for ``check_page``."""
    contexts = []

    def open_page(user: str | None, password: str = PASSWORD):
        if user is not None:
            page_server.set_password(user, password)
        context = browser.new_context(base_url=page_server.base_url, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.csp_refusals = []  # noqa: B010 - read by check_page
        page.on("console", lambda message: _note_csp(page, message))
        page.goto("/console/sign-in")
        if user is None:
            return page
        page.get_by_label("User").fill(user)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        if "/sign-in" in page.url:
            problem = page.locator(".error").all_inner_texts()
            raise AssertionError(f"signing in as {user} failed: {problem or page.url}")
        return page

    yield open_page
    for context in contexts:
        context.close()


def _note_csp(page, message) -> None:  # noqa: ANN001
    if message.type in ("error", "warning") and "Content Security Policy" in message.text:
        page.csp_refusals.append(message.text)


@pytest.fixture
def check_page():
    """``check_page(page, name)``: axe clean, no CSP refusal, screenshot saved; returns the
    screenshot's path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def check(page, name: str) -> Path:  # noqa: ANN001
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"a screenshot name is letters, digits, '.', '_' or '-': {name!r}")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        refusals = getattr(page, "csp_refusals", [])
        assert not refusals, (f"{name}: the page broke its Content-Security-Policy (inline "
                              f"style or script?):\n" + "\n".join(refusals))
        assert_accessible(page, name)
        return path

    return check


@pytest.fixture(scope="session", autouse=True)
def _axe_installed():
    """Fail at once, and clearly, when node_modules is missing."""
    from tests.browser.axe import axe_source

    try:
        axe_source()
    except AssertionError as exc:
        pytest.fail(str(exc))

