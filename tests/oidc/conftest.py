"""A real OpenID Connect provider for the tests: the npm package oidc-provider (pinned in
tests/oidc/provider/package-lock.json), run with the machine's Node.js on a free loopback port,
and a person at its pages: an HTTP client that fills in its login and consent forms."""
from __future__ import annotations

import json
import re
import select
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests

from tests.signin.conftest import make_console  # noqa: F401 - the fixture, shared

PROVIDER_DIR = Path(__file__).parent / "provider"
CLIENT_ID, CLIENT_SECRET = "need-to-know-console", "a test client secret, long enough"
CALLBACK_PATH = "/console/sign-in/oidc/callback"
TEST_BASE_URL = "http://127.0.0.1:5000"  # the test client's app: never contacted
STARTUP_SECONDS = 60  # a loaded 2-core machine starts Node slowly
HTTP_TIMEOUT = 30

# The provider's people (its subject => claims). Groups and roles are claims nothing may trust.
ACCOUNTS = {
    "alice": {"email": "alice@provider.example", "email_verified": True, "name": "Alice N.",
              "groups": ["governance-admins"], "roles": ["governance_admin"]},
    "f3a9c2-sam": {"email": "Sam.Ortiz@Example.org", "email_verified": True},
    "77d1-sam-unverified": {"email": "sam.ortiz@example.org", "email_verified": False},
    "zed": {"email": "zed@elsewhere.example", "email_verified": True},
    "lee": {"email": "lee@example.org", "email_verified": True},
    "ann": {"email": "ann@example.org", "email_verified": True},  # a directory user
}


@dataclass
class Provider:
    issuer: str

    @property
    def metadata_url(self) -> str:
        return self.issuer + "/.well-known/openid-configuration"

    def config(self) -> dict:
        """The app settings that sign in with this provider."""
        return {"GOVERNANCE_OIDC_METADATA_URL": self.metadata_url,
                "GOVERNANCE_OIDC_CLIENT_ID": CLIENT_ID,
                "GOVERNANCE_OIDC_CLIENT_SECRET": CLIENT_SECRET}


@contextmanager
def running_provider(tmp_path: Path, redirect_uris: list[str],
                     accounts: dict | None = None) -> Iterator[Provider]:
    """Start the provider with our client and ``accounts`` (default ACCOUNTS); stop it after."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is needed for the OpenID Connect tests: install it (`node`).")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(f"{PROVIDER_DIR / 'node_modules'} is missing: run `npm ci` in {PROVIDER_DIR} "
                    "(.ci/run does) before the OpenID Connect tests.")
    config = tmp_path / "oidc-provider.json"
    config.write_text(json.dumps({"accounts": accounts or ACCOUNTS, "client": {
        "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": redirect_uris}}))
    log = (tmp_path / "oidc-provider.log").open("w")
    process = subprocess.Popen([node, "provider.mjs", str(config)], cwd=PROVIDER_DIR,
                               stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], STARTUP_SECONDS)
        line = process.stdout.readline() if ready else ""
        if not line:
            log.flush()
            pytest.fail(f"oidc-provider did not start within {STARTUP_SECONDS} s: "
                        f"{(tmp_path / 'oidc-provider.log').read_text()[-2000:]}")
        yield Provider(json.loads(line)["issuer"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def provider(tmp_path_factory) -> Iterator[Provider]:
    """One provider for the test-client tests (their callback is on TEST_BASE_URL)."""
    with running_provider(tmp_path_factory.mktemp("oidc"), [TEST_BASE_URL + CALLBACK_PATH]) as p:
        yield p


class Person:
    """Someone at the provider's pages in their own browser (cookies kept, redirects followed
    by hand until the provider sends them back to us)."""

    def __init__(self, callback_prefix: str):
        self.http = requests.Session()
        self.callback_prefix = callback_prefix

    def sign_in(self, authorize_url: str, login: str) -> str:
        """Log in as ``login`` and consent; the URL the provider sends the browser back to."""
        return self._until_callback(authorize_url, login)

    def cancel(self, authorize_url: str) -> str:
        """Take the provider's abort link on its login page (it answers access_denied)."""
        response = self.http.get(authorize_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
        interaction = urljoin(authorize_url, response.headers["Location"])
        return self._until_callback(interaction.rstrip("/") + "/abort", None)

    def _until_callback(self, url: str, login: str | None) -> str:
        for _ in range(12):
            if url.startswith(self.callback_prefix):
                return url
            response = self.http.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT)
            if response.is_redirect:
                url = urljoin(url, response.headers["Location"])
                continue
            assert response.status_code == 200, response.text[:2000]
            response = self._submit(url, response.text, login)
            assert response.is_redirect, response.text[:2000]
            url = urljoin(url, response.headers["Location"])
        raise AssertionError(f"the provider never sent the browser back (last at {url})")

    def _submit(self, url: str, page: str, login: str | None) -> requests.Response:
        """Fill in the page's form: the login form (any password), or the consent form."""
        action = re.search(r'<form[^>]*action="([^"]+)"', page).group(1)
        prompt = re.search(r'name="prompt" value="([a-z]+)"', page).group(1)
        form = {"prompt": prompt}
        if prompt == "login":
            form.update(login=login, password="the provider's dev pages ignore it")
        return self.http.post(urljoin(url, action), data=form, allow_redirects=False,
                              timeout=HTTP_TIMEOUT)


def local_path(url: str) -> str:
    """The path and query of a URL of ours, for the Flask test client."""
    parts = urlsplit(url)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def with_query(url: str, **changes: str) -> str:
    """``url`` with some query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return urlunsplit(parts._replace(query=urlencode({**query, **changes})))


def free_loopback_url() -> str:
    """A metadata URL on a loopback port where nothing listens (a provider that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/.well-known/openid-configuration"
