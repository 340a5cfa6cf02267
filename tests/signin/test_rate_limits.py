"""Sign-in rate limits per address and per user name, in memory and in Redis; never the API."""
from __future__ import annotations

import json
import uuid

import pytest
import redis

from tests.conftest import new_key
from tests.signin.conftest import audit_rows, csrf_token

REDIS_URL = "redis://127.0.0.1:6379/0"
STORAGES = ["memory", "redis"]


@pytest.fixture(params=STORAGES)
def storage(request) -> dict:
    if request.param == "memory":
        yield {}
        return
    prefix = f"ntk-test-{uuid.uuid4().hex[:10]}"
    yield {"GOVERNANCE_RATELIMIT_STORAGE_URL": REDIS_URL,
           "GOVERNANCE_RATELIMIT_KEY_PREFIX": prefix}
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"*{prefix}*"))
    assert keys, "the limits were counted in Redis"
    connection.delete(*keys)


def attempt(client, user: str, address: str):
    token = csrf_token(client)
    return client.post("/console/sign-in", data={"user": user, "password": "wrong password!",
                                                 "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


def test_too_many_attempts_from_one_address_get_a_429_page(make_console, storage):
    app = make_console(GOVERNANCE_SIGNIN_RATE_PER_ADDRESS="3 per minute", **storage)
    client = app.test_client()
    statuses = [attempt(client, f"user{i}", "10.0.0.1").status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = attempt(client, "user9", "10.0.0.1")
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    assert "Too many sign-in attempts" in limited.get_data(as_text=True)
    assert attempt(client, "user9", "10.0.0.2").status_code == 200  # another address
    row = audit_rows(app, "signin.rate_limited")[-1]
    assert json.loads(row.payload)["address"] == "10.0.0.1"
    assert client.get("/console/sign-in").status_code == 200  # only POSTs count


def test_too_many_attempts_at_one_user_are_held_whatever_the_address(make_console, storage):
    app = make_console(GOVERNANCE_SIGNIN_RATE_PER_USER="2 per minute", **storage)
    client = app.test_client()
    statuses = [attempt(client, "alice", f"10.0.1.{i}").status_code for i in range(3)]
    assert statuses == [200, 200, 429]
    assert attempt(client, "ALICE ", "10.0.1.9").status_code == 429  # the same name, typed
    assert attempt(client, "sam", "10.0.1.9").status_code == 200
    rows = audit_rows(app, "signin.rate_limited")
    assert [r.subject for r in rows] == ["alice", "ALICE"]


def test_the_limiter_never_touches_the_decision_api(make_console, storage):
    app = make_console(GOVERNANCE_SIGNIN_RATE_PER_ADDRESS="1 per minute",
                       GOVERNANCE_DIRECT_DECISIONS=False, **storage)
    key = new_key(app, "decide")
    client = app.test_client()
    body = {"subject": "alice", "action": "view", "participant": "p-100",
            "program": "housing", "purpose": "treatment", "fields": ["identity.name"]}
    for _ in range(5):
        response = client.post("/api/v1/decisions", json=body,
                               headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers
    assert attempt(client, "alice", "127.0.0.1").status_code == 200
    assert attempt(client, "alice", "127.0.0.1").status_code == 429


def test_an_unreachable_redis_falls_back_to_counting_in_memory(make_console):
    from tests.e2e.test_cli_and_server import free_port

    app = make_console(GOVERNANCE_RATELIMIT_STORAGE_URL=f"redis://127.0.0.1:{free_port()}/0",
                       GOVERNANCE_SIGNIN_RATE_PER_ADDRESS="2 per minute")
    client = app.test_client()
    assert [attempt(client, "alice", "10.0.2.1").status_code for _ in range(3)] == [
        200, 200, 429]
