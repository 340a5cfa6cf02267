"""Console pages on the real stores: the test org plus an administrator (ada), a compliance
officer (cora, auditor) and supervisors who review (sam); everyone's password set through the
real operation; clients signed in through the real sign-in form."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from argon2 import PasswordHasher

from governance.extension import state
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from governance.signin import passwords
from tests.conftest import FIXTURES, NOW
from tests.signin.conftest import PASSWORD, ROOMY_LIMITS, Clock, set_password, sign_in

CONSOLE_USERS = ("ada", "cora", "sam", "alice", "nick", "dana", "rita")
# argon2id as in production, at the cost RFC 9106 leaves to the caller set low: each console
# test sets seven passwords and signs in, which at the production cost (64 MiB, 3 passes) was
# about a second a test. Sign-in's own tests (tests/signin) and every server process the
# browser and end-to-end tests start keep the production parameters.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    monkeypatch.setattr(passwords, "HASHER", CHEAP_HASHER)


def console_org() -> dict:
    """tests/fixtures/org.yaml with console powers: it_admin (admin), compliance (auditor),
    and supervisors who also review."""
    org = yaml.safe_load((Path(FIXTURES) / "org.yaml").read_text())
    for role in org["roles"]:
        if role["id"] == "supervisor":
            role["console"] = ["reviewer"]
    org["roles"] += [
        {"id": "it_admin", "scope": "organization", "console": ["admin"],
         "grants": {"view": [], "export": [], "disclose": []}},
        {"id": "compliance", "scope": "organization", "console": ["auditor"],
         "approves": ["escalation"], "grants": {"view": ["identity.*"]}},
    ]
    org["users"] += [{"id": "ada", "name": "Ada Admin", "roles": [{"role": "it_admin"}]},
                     {"id": "cora", "name": "Cora Compliance",
                      "roles": [{"role": "compliance"}]}]
    return org


@pytest.fixture
def console_app(make_app, backend):
    """The console org applied on ``backend``, a movable clock, passwords set."""
    return make_console_app(make_app, backend)


def make_console_app(make_app, backend: str, org: dict | None = None, **config):
    """An app on ``backend`` with ``org`` (the console org) applied, a movable clock and
    everyone's password set."""
    app = make_app(backend, **ROOMY_LIMITS, **config)
    with app.app_context():
        ApplyOrganisation(validate(org or console_org()), actor="test", now=NOW).execute(
            state(app).session)
    app.clock = Clock()
    state(app).clock = app.clock
    for user in CONSOLE_USERS:
        set_password(app, user)
    return app


@pytest.fixture
def signed_in(console_app):
    """Factory: a test client signed in as ``user`` through the real sign-in form."""

    def client_for(user: str):
        client = console_app.test_client()
        response = sign_in(client, user, PASSWORD)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return client_for
