"""Console sign-in on the real stores: apps with the test org, passwords set through the real
operation, a clock the tests move, and a client that reads CSRF tokens off the pages."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from governance.extension import state
from governance.models import AuditEvent
from governance.operations.local_accounts import SetPassword
from tests.conftest import NOW, apply_file

PASSWORD = "correct horse battery staple"
ROOMY_LIMITS = {"GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"}


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def set_password(app, user_id: str, password: str = PASSWORD) -> None:
    with app.app_context():
        SetPassword(user_id, password, state(app).clock(), actor="test").execute(
            state(app).session)


def csrf_token(client, path: str = "/console/sign-in") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def sign_in(client, user: str, password: str = PASSWORD, next_: str | None = None, **extra):
    query = f"?next={next_}" if next_ else ""
    return client.post("/console/sign-in" + query,
                       data={"user": user, "password": password,
                             "csrf_token": csrf_token(client), **extra})


def sign_out(client):
    return client.post("/console/sign-out", data={"csrf_token": csrf_token(client,
                                                                            "/console/")})


def audit_rows(app, kind_prefix: str = "sign") -> list[AuditEvent]:
    with app.app_context():
        rows = state(app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind.like(kind_prefix + "%")).order_by(AuditEvent.seq)).all()
        state(app).session.expunge_all()
        return rows


@pytest.fixture
def make_console(make_app, backend):
    """Factory: the test org on ``backend`` with alice's password set, and a movable clock."""

    def make(**config):
        app = make_app(backend, **{**ROOMY_LIMITS, **config})
        apply_file(app)
        app.clock = Clock()
        state(app).clock = app.clock
        set_password(app, "alice")
        return app

    return make


@pytest.fixture
def console(make_console):
    return make_console()


@pytest.fixture
def client(console):
    return console.test_client()
