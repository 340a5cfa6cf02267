"""Single sign-on end to end: a real gunicorn server (two workers), the real provider, and an
HTTP client that keeps each site's cookies and follows the redirects between them."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
from sqlalchemy import select

from governance import create_app
from governance.extension import state
from governance.models import AuditEvent
from tests.e2e.test_cli_and_server import ROOT, database_url, free_port  # noqa: F401
from tests.e2e.test_console_server import flask_cli
from tests.oidc.conftest import CALLBACK_PATH, HTTP_TIMEOUT, Person, running_provider

pytestmark = pytest.mark.e2e
ADA = {"ada": {"email": "ada@example.org", "email_verified": True, "name": "Ada"}}


@pytest.fixture
def sso_server(database_url, tmp_path):  # noqa: F811 - the shared fixture
    port = free_port()
    base = f"http://localhost:{port}"  # not the provider's host: each keeps its own cookies
    with running_provider(tmp_path, [base + CALLBACK_PATH], ADA) as provider:
        env = {**os.environ, "GOVERNANCE_DATABASE_URL": database_url,
               "GOVERNANCE_BASE_URL": base, **provider.config()}
        created = flask_cli(env, "user", "create-admin", "ada", "--name", "Ada Admin",
                            "--password-stdin", stdin="a passphrase nobody types here\n")
        assert created.returncode == 0, created.stderr
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "gunicorn did not start in 60 s"
                    time.sleep(0.2)
            yield base, env
        finally:
            process.terminate()
            process.wait(timeout=30)


def test_single_sign_on_then_sign_out_through_the_real_server(sso_server):
    base, env = sso_server
    person = Person(base + CALLBACK_PATH)
    page = person.http.get(base + "/console/sign-in", timeout=HTTP_TIMEOUT).text
    link = re.search(r'href="([^"]+)">Sign in with single sign-on<', page).group(1)
    start = person.http.get(base + link.replace("&amp;", "&"), allow_redirects=False,
                            timeout=HTTP_TIMEOUT)
    assert start.status_code == 302
    back = person.sign_in(start.headers["Location"], "ada")
    answer = person.http.get(back, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    for _ in range(4):  # every worker knows the session
        home = person.http.get(base + "/console/", allow_redirects=False, timeout=HTTP_TIMEOUT)
        assert home.status_code == 200 and "Ada Admin" in home.text and "Administer" in home.text

    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', home.text)
    out = person.http.post(base + "/console/sign-out", data={"csrf_token": token.group(1)},
                           allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert out.status_code == 302
    again = person.http.get(base + "/console/", allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert again.status_code == 302 and "/console/sign-in" in again.headers["Location"]

    trail = flask_cli(env, "audit", "verify")
    assert trail.returncode == 0 and "intact" in trail.stdout
    assert sign_in_events(env["GOVERNANCE_DATABASE_URL"]) == [
        ("signin.succeeded", "ada", "oidc"), ("signout", "ada", None)]


def sign_in_events(url: str) -> list[tuple[str, str, str | None]]:
    """(kind, subject, method) of the sign-in and sign-out rows, read from the database."""
    app = create_app({"GOVERNANCE_DATABASE_URL": url})
    with app.app_context():
        rows = state(app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind.like("sign%")).order_by(AuditEvent.seq)).all()
        found = [(r.kind, r.subject, json.loads(r.payload).get("method")) for r in rows]
        state(app).db.engine.dispose()
    return found
