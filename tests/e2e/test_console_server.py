"""The console through a real gunicorn server: create the first admin with the real `flask`
CLI, sign in with an HTTP client that keeps cookies, check the cookie, sign out, set a new
password from the CLI (read from stdin, not a terminal) and sign in with it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.cookiejar import CookieJar

import pytest
import redis

from tests.e2e.test_cli_and_server import ROOT, database_url, free_port  # noqa: F401

pytestmark = pytest.mark.e2e
PASSWORD = "first admin's long passphrase"
REDIS_URL = "redis://127.0.0.1:6379/0"


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
        return None  # a 302 comes back as an answer, so its Location can be checked


class Browser:
    """Just enough of a browser: cookies kept, forms posted, redirects not followed."""

    def __init__(self, base: str):
        self.base, self.cookies = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(
            self.cookies), NoRedirects())

    def request(self, path: str, form: dict | None = None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            response = self.opener.open(self.base + path, data=data, timeout=10)
        except urllib.error.HTTPError as error:
            response = error
        return response.status, response.headers, response.read().decode()

    def token(self, path: str) -> str:
        _, _, page = self.request(path)
        return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def flask_cli(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
                          cwd=ROOT, env=env, input=stdin, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture
def console_server(database_url):  # noqa: F811 - the shared fixture
    prefix = f"ntk-e2e-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": database_url,
           "GOVERNANCE_RATELIMIT_STORAGE_URL": REDIS_URL,
           "GOVERNANCE_RATELIMIT_KEY_PREFIX": prefix}
    created = flask_cli(env, "user", "create-admin", "ada", "--name", "Ada Admin",
                        "--password-stdin", stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    port = free_port()
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
    yield base, env
    process.terminate()
    process.wait(timeout=10)
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"*{prefix}*"))
    if keys:
        connection.delete(*keys)


def test_sign_in_keep_the_session_and_sign_out_over_http(console_server):
    base, env = console_server
    browser = Browser(base)
    status, headers, _ = browser.request("/")
    assert status == 302 and headers["Location"].endswith("/console/")
    status, _, _ = browser.request("/console/sign-in", {"user": "ada", "password": PASSWORD})
    assert status == 400  # no CSRF token: refused, nothing done

    token = browser.token("/console/sign-in")
    status, _, page = browser.request("/console/sign-in", {
        "user": "ada", "password": "not the passphrase", "csrf_token": token})
    assert status == 200 and "Sign-in failed" in page

    status, headers, _ = browser.request("/console/sign-in", {
        "user": "ada", "password": PASSWORD, "csrf_token": browser.token("/console/sign-in")})
    assert status == 302 and headers["Location"] == "/console/"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie

    for _ in range(4):  # every worker knows the session
        status, _, page = browser.request("/console/")
        assert status == 200 and "Ada Admin" in page and "Administer" in page

    status, headers, _ = browser.request("/console/sign-out",
                                         {"csrf_token": browser.token("/console/")})
    assert status == 302 and headers["Location"] == "/console/sign-in"
    status, headers, _ = browser.request("/console/")
    assert status == 302 and "/console/sign-in" in headers["Location"]

    new = "the second passphrase, longer"
    changed = flask_cli(env, "user", "set-password", "ada", stdin=new + "\n")
    assert changed.returncode == 0 and new not in changed.stdout + changed.stderr
    status, headers, _ = browser.request("/console/sign-in", {
        "user": "ada", "password": new, "csrf_token": browser.token("/console/sign-in")})
    assert status == 302

    verified = flask_cli(env, "audit", "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout
