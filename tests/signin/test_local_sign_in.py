"""Signing in with a local password: one answer for every refusal, lockout, audit rows."""
from __future__ import annotations

import json

from governance.extension import state
from governance.models import User
from governance.signin.sign_in import REFUSAL
from tests.signin.conftest import PASSWORD, audit_rows, set_password, sign_in, sign_out


def events(app, prefix="sign"):
    return [(row.kind, row.subject, json.loads(row.payload)) for row in audit_rows(app, prefix)]


def test_right_password_signs_in_and_home_shows_who_and_powers(console, client):
    response = sign_in(client, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    page = client.get("/console/").get_data(as_text=True)
    assert "Alice Ng" in page and "<code>alice</code>" in page
    assert "Request access for yourself" in page and "Break the glass" in page
    assert "Administer" not in page
    assert 'type="submit">Sign out</button>' in page
    kind, subject, payload = events(console)[-1]
    assert (kind, subject) == ("signin.succeeded", "alice")
    assert payload["method"] == "password" and payload["address"] == "127.0.0.1"
    assert PASSWORD not in json.dumps(payload)


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(console, client):
    wrong = sign_in(client, "alice", "not the password at all")
    unknown = sign_in(client, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert REFUSAL in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302  # still signed out
    reasons = [(p["reason"], s) for k, s, p in events(console) if k == "signin.failed"]
    assert reasons == [("wrong_password", "alice"), ("unknown_user", "nobody-here")]
    assert "not the password" not in json.dumps(events(console))


def test_empty_password_is_refused_before_anything_is_checked(console, client):
    response = sign_in(client, "alice", "")
    assert response.status_code == 400
    assert "Enter your user name and your password." in response.get_data(as_text=True)
    (kind, subject, payload), = [e for e in events(console) if e[0] == "signin.failed"]
    assert payload["reason"] == "empty_password" and "failures" not in payload
    with console.app_context():
        assert state(console).session.get(User, "alice").failed_sign_ins == 0


def test_inactive_user_is_refused_with_the_same_answer(console, client):
    set_password(console, "lee")  # lee is in the file with active: false
    response = sign_in(client, "lee")
    assert response.status_code == 200 and REFUSAL in response.get_data(as_text=True)
    assert events(console)[-1][2]["reason"] == "inactive"


def test_user_without_a_password_cannot_sign_in(console, client):
    response = sign_in(client, "sam", "anything at all here")
    assert REFUSAL in response.get_data(as_text=True)
    assert events(console)[-1][2]["reason"] == "no_password_set"


def test_lockout_after_max_failures_then_unlock_after_15_minutes(make_console):
    app = make_console(GOVERNANCE_LOGIN_MAX_FAILURES=3)
    client = app.test_client()
    for _ in range(3):
        sign_in(client, "alice", "wrong password, again")
    locked = sign_in(client, "alice")  # the right password, but locked
    assert locked.status_code == 200 and REFUSAL in locked.get_data(as_text=True)
    kinds = [(k, p.get("reason"), p.get("failures")) for k, _, p in events(app)]
    assert kinds[-3:] == [("signin.failed", "wrong_password", 3), ("signin.locked", None, 3),
                          ("signin.failed", "locked", None)]
    app.clock.advance(minutes=14, seconds=59)
    assert REFUSAL in sign_in(client, "alice").get_data(as_text=True)
    app.clock.advance(seconds=1)
    assert sign_in(client, "alice").status_code == 302
    with app.app_context():
        alice = state(app).session.get(User, "alice")
        assert alice.locked_until is None and alice.failed_sign_ins == 0


def test_failures_outside_the_15_minute_window_do_not_add_up(make_console):
    app = make_console(GOVERNANCE_LOGIN_MAX_FAILURES=2)
    client = app.test_client()
    sign_in(client, "alice", "wrong password, again")
    app.clock.advance(minutes=15)
    sign_in(client, "alice", "wrong password, again")  # a new window: 1 failure
    assert sign_in(client, "alice").status_code == 302
    assert "signin.locked" not in [k for k, _, _ in events(app)]


def test_sign_out_is_a_post_audited_and_ends_the_session(console, client):
    sign_in(client, "alice")
    assert client.get("/console/sign-out").status_code == 405
    response = sign_out(client)
    assert response.status_code == 302 and response.headers["Location"] == "/console/sign-in"
    assert client.get("/console/").status_code == 302
    kind, subject, payload = events(console)[-1]
    assert (kind, subject, payload["reason"]) == ("signout", "alice", "signed_out")


def test_hostile_user_names_are_refused_like_unknown_ones(console, client):
    for name in ("*)(uid=*", "alice\x00", "a" * 5000, "ali\nce"):
        response = sign_in(client, name)
        assert response.status_code == 200 and REFUSAL in response.get_data(as_text=True)
    rows = [e for e in events(console) if e[0] == "signin.failed"]
    assert [p["reason"] for _, _, p in rows] == ["unknown_user"] * 4
    assert rows[1][1] is None and rows[1][2]["user"] == "alice\\x00"


def test_an_old_hash_is_upgraded_at_sign_in(console, client):
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with console.app_context():
        state(console).session.get(User, "alice").password_hash = weak
        state(console).session.commit()
    assert sign_in(client, "alice").status_code == 302
    with console.app_context():
        stored = state(console).session.get(User, "alice").password_hash
    assert stored != weak and "m=65536" in stored


def test_an_unknown_user_costs_a_password_check_too(console, client):
    """Timing must not tell an unknown user from a wrong password: both verify an argon2
    hash (the unknown one against a dummy); one that did no work would take ~1 ms."""
    import time

    def seconds(user: str) -> float:
        start = time.perf_counter()
        sign_in(client, user, "not the password at all")
        return time.perf_counter() - start

    # The fastest of several: other load on the machine only ever adds time.
    wrong = min(seconds("alice") for _ in range(4))
    unknown = min(seconds("nobody-here") for _ in range(4))
    assert unknown > 0.4 * wrong and wrong > 0.4 * unknown, (wrong, unknown)
