"""The console session: CSRF, idle end, fresh sign-in, cookie flags, redirects, revocation."""
from __future__ import annotations

import json

import pytest

from governance.extension import state
from governance.operations.users import DisableUser
from governance.signin.session import fresh_sign_in_required, sign_in_required
from tests.signin.conftest import audit_rows, set_password, sign_in


def test_a_post_without_its_csrf_token_is_a_400_and_changes_nothing(console, client):
    before = len(audit_rows(console, ""))
    response = client.post("/console/sign-in", data={"user": "alice", "password": "x" * 20})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)
    forged = client.post("/console/sign-in", data={"user": "alice", "password": "x" * 20,
                                                   "csrf_token": "forged"})
    assert forged.status_code == 400
    assert len(audit_rows(console, "")) == before  # no failure counted, nothing audited
    sign_in(client, "alice")
    assert client.post("/console/sign-out").status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in


def test_sign_in_page_labels_its_fields_and_button(client):
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert '<html lang="en">' in page and "<h1>Sign in</h1>" in page
    assert '<label for="user">User</label>' in page and 'id="user"' in page
    assert '<label for="password">Password</label>' in page and 'type="password"' in page
    assert 'type="submit" value="Sign in"' in page
    assert "Sign out" not in page  # nobody to sign out yet


def test_idle_session_ends_and_is_audited(console, client):
    sign_in(client, "alice")
    console.clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200  # activity keeps it alive
    console.clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200
    console.clock.advance(minutes=30, seconds=1)
    response = client.get("/console/")
    assert response.status_code == 302 and response.headers["Location"].startswith(
        "/console/sign-in?next=/console/")
    assert "without activity" in client.get("/console/sign-in").get_data(as_text=True)
    last = audit_rows(console, "signout")[-1]
    assert (last.subject, json.loads(last.payload)["reason"]) == ("alice", "idle")
    assert client.get("/console/").status_code == 302  # the session is gone, not just hidden


@pytest.fixture
def sensitive(make_console):
    app = make_console()

    @sign_in_required
    @fresh_sign_in_required
    def apply_changes():
        return "applied"

    app.add_url_rule("/console/test-sensitive", "test_sensitive", apply_changes)
    return app


def test_sensitive_action_needs_a_recent_sign_in(sensitive):
    client = sensitive.test_client()
    sign_in(client, "alice")
    assert client.get("/console/test-sensitive").get_data(as_text=True) == "applied"
    sensitive.clock.advance(minutes=10, seconds=1)
    response = client.get("/console/test-sensitive")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/sign-in?next=/console/test-sensitive"
    assert "needs a recent sign-in" in client.get("/console/sign-in").get_data(as_text=True)
    again = sign_in(client, "alice", next_="/console/test-sensitive")
    assert again.headers["Location"] == "/console/test-sensitive"
    assert client.get("/console/test-sensitive").get_data(as_text=True) == "applied"


@pytest.mark.parametrize("target", ["//evil.example/console/", "https://evil.example/console/",
                                    "/\\evil.example", "/api/v1/audit", "javascript:alert(1)",
                                    "/console/%0d%0aSet-Cookie:x"])
def test_sign_in_redirects_only_to_console_paths(client, target):
    response = sign_in(client, "alice", next_=target)
    assert response.status_code == 302 and response.headers["Location"] == "/console/"


def test_sign_in_returns_to_the_console_page_asked_for(client):
    response = sign_in(client, "alice", next_="/console/?tab=mine")
    assert response.headers["Location"] == "/console/?tab=mine"


def test_cookie_is_httponly_and_lax_and_not_secure_over_http(client):
    cookie = sign_in(client, "alice").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_cookie_is_secure_behind_https(make_console):
    app = make_console(GOVERNANCE_BASE_URL="https://governance.example.org")
    cookie = sign_in(app.test_client(), "alice").headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_disabled_account_loses_its_session_at_the_next_request(console, client):
    sign_in(client, "alice")
    with console.app_context():
        DisableUser("alice", "sam", "left the agency", console.clock()).execute(
            state(console).session)
    assert client.get("/console/").status_code == 302
    last = audit_rows(console, "signout")[-1]
    assert json.loads(last.payload)["reason"] == "inactive"


def test_a_new_password_ends_sessions_made_with_the_old_one(console, client):
    sign_in(client, "alice")
    set_password(console, "alice", "an entirely new passphrase")
    assert client.get("/console/").status_code == 302
    assert json.loads(audit_rows(console, "signout")[-1].payload)["reason"] == (
        "credentials_changed")


def test_standalone_root_redirects_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"


def test_console_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/console/sign-in")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    assert client.get("/console/static/console.css").status_code == 200
