"""Signing in to the console with a real OpenID Connect provider (oidc-provider on loopback),
through the Flask test client on both stores: the test drives the redirects a browser would
follow between the provider's pages and ours."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from governance.extension import state
from governance.models import User
from governance.signin.sign_in import REFUSAL
from tests.oidc.conftest import (
    CALLBACK_PATH,
    CLIENT_ID,
    TEST_BASE_URL,
    Person,
    free_loopback_url,
    local_path,
    with_query,
)
from tests.signin.conftest import audit_rows, sign_in, sign_out

SSO_LINK = "Sign in with single sign-on"


@pytest.fixture
def console(make_console, provider):
    app = make_console(GOVERNANCE_BASE_URL=TEST_BASE_URL, **provider.config())
    with app.app_context():
        state(app).session.get(User, "sam").email = "sam.ortiz@example.org"
        state(app).session.commit()
    return app


@pytest.fixture
def client(console):
    return console.test_client()


@pytest.fixture
def person():
    return Person(TEST_BASE_URL + CALLBACK_PATH)


def authorize_url(client, next_: str | None = None) -> str:
    """Press "Sign in with single sign-on": where our app sends the browser."""
    response = client.get("/console/sign-in/oidc" + (f"?next={next_}" if next_ else ""))
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def sign_in_as(client, person: Person, login: str, next_: str | None = None):
    """The whole flow: our app, the provider's pages, back to our callback."""
    back = person.sign_in(authorize_url(client, next_), login)
    return client.get(local_path(back))


def last_event(app, prefix: str = "sign") -> tuple[str, str | None, dict]:
    row = audit_rows(app, prefix)[-1]
    return row.kind, row.subject, json.loads(row.payload)


def test_the_sign_in_page_offers_single_sign_on_only_when_configured(client, make_console):
    assert SSO_LINK in client.get("/console/sign-in").get_data(as_text=True)
    plain = make_console().test_client()
    assert SSO_LINK not in plain.get("/console/sign-in").get_data(as_text=True)
    assert plain.get("/console/sign-in/oidc").status_code == 404


def test_the_flow_is_code_with_pkce_s256_state_nonce_and_our_redirect_uri(client):
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize_url(client)).query).items()}
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert query["code_challenge"] and query["state"] and query["nonce"]
    assert query["scope"] == "openid email profile" and query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == TEST_BASE_URL + CALLBACK_PATH  # not the request's Host


def test_subject_equal_to_a_user_id_signs_in_with_only_that_users_roles(console, client, person):
    response = sign_in_as(client, person, "alice")
    assert response.status_code == 302 and response.headers["Location"] == "/console/"
    page = client.get("/console/").get_data(as_text=True)
    assert "Alice Ng" in page and "Request access for yourself" in page
    assert "Administer" not in page  # the token's groups and roles claims grant nothing
    kind, subject, payload = last_event(console)
    assert (kind, subject) == ("signin.succeeded", "alice")
    assert payload["method"] == "oidc" and payload["matched_by"] == "sub"
    assert payload["issuer"].startswith("http://127.0.0.1:") and payload["sub"] == "alice"
    with console.app_context():
        assert state(console).session.get(User, "alice").last_sign_in_at == console.clock()


def test_verified_email_signs_in_the_user_with_that_email(console, client, person):
    response = sign_in_as(client, person, "f3a9c2-sam", next_="/console/?tab=mine")
    assert response.status_code == 302 and response.headers["Location"] == "/console/?tab=mine"
    assert "Sam Ortiz" in client.get("/console/").get_data(as_text=True)
    kind, subject, payload = last_event(console)
    assert (kind, subject, payload["matched_by"]) == ("signin.succeeded", "sam", "email")
    assert payload["sub"] == "f3a9c2-sam"


@pytest.mark.parametrize("login, reason, subject", [
    ("77d1-sam-unverified", "oidc_email_unverified", None),
    ("zed", "oidc_unknown_subject", None),
    ("lee", "inactive", "lee"),
])
def test_refusals_give_the_same_answer_as_a_wrong_password(console, client, person, login,
                                                           reason, subject):
    wrong_password = sign_in(client, "alice", "not the password at all").get_data(as_text=True)
    response = sign_in_as(client, person, login)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and REFUSAL in page and REFUSAL in wrong_password
    assert login not in page
    assert client.get("/console/").status_code == 302  # not signed in
    kind, audited_subject, payload = last_event(console)
    assert (kind, audited_subject, payload["reason"]) == ("signin.failed", subject, reason)
    assert payload["method"] == "oidc" and payload["sub"] == login


def test_a_tampered_state_is_refused_and_audited(console, client, person):
    back = person.sign_in(authorize_url(client), "alice")
    response = client.get(local_path(with_query(back, state="forged-by-someone-else")))
    assert response.status_code == 400
    assert "could not be accepted" in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    kind, _, payload = last_event(console)
    assert (kind, payload["reason"]) == ("signin.failed", "oidc_bad_state")


def test_an_answer_for_another_browser_or_used_twice_is_refused(console, client, person):
    back = person.sign_in(authorize_url(client), "alice")
    other_browser = console.test_client()
    assert other_browser.get(local_path(back)).status_code == 400
    assert client.get(local_path(back)).status_code == 302  # its own browser, once
    sign_out(client)
    assert client.get(local_path(back)).status_code == 400
    reasons = [json.loads(r.payload).get("reason") for r in audit_rows(console, "signin.failed")]
    assert reasons == ["oidc_bad_state", "oidc_bad_state"]


def test_access_denied_at_the_provider_is_a_message_on_the_sign_in_page(console, client, person):
    back = person.cancel(authorize_url(client))
    assert "error=access_denied" in back
    response = client.get(local_path(back))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "access_denied" in page and "Sign in" in page
    kind, _, payload = last_event(console)
    assert (kind, payload["reason"], payload["error"]) == (
        "signin.failed", "oidc_provider_error", "access_denied")


def test_a_provider_error_text_is_not_repeated_on_our_page(console, client):
    authorize_url(client)
    response = client.get(CALLBACK_PATH + "?error=Call+0800+now&error_description=<b>x</b>")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "0800" not in page and "<b>x" not in page


def test_a_provider_that_cannot_be_reached_is_a_message_not_a_500(make_console, provider):
    app = make_console(GOVERNANCE_BASE_URL=TEST_BASE_URL, **{
        **provider.config(), "GOVERNANCE_OIDC_METADATA_URL": free_loopback_url()})
    response = app.test_client().get("/console/sign-in/oidc")
    assert response.status_code == 503
    assert "cannot be reached" in response.get_data(as_text=True)
    kind, _, payload = last_event(app)
    assert (kind, payload["reason"]) == ("signin.failed", "oidc_provider_unreachable")


def test_sign_out_after_a_single_sign_on_session(console, client, person):
    assert sign_in_as(client, person, "alice").status_code == 302
    response = sign_out(client)
    assert response.status_code == 302 and response.headers["Location"] == "/console/sign-in"
    assert client.get("/console/").status_code == 302
    kind, subject, payload = last_event(console, "signout")
    assert (kind, subject, payload["reason"]) == ("signout", "alice", "signed_out")


def test_password_sign_in_still_works_beside_single_sign_on(console, client):
    assert sign_in(client, "alice").status_code == 302
    assert last_event(console)[2]["method"] == "password"


def test_an_answer_naming_another_issuer_is_refused(console, client, person):
    back = person.sign_in(authorize_url(client), "alice")
    assert "iss=" in back  # the provider names itself (RFC 9207)
    response = client.get(local_path(with_query(back, iss="https://other-provider.example")))
    assert response.status_code == 502 and "could not be verified" in response.get_data(
        as_text=True)
    assert client.get("/console/").status_code == 302
    assert last_event(console)[2]["reason"] == "oidc_invalid_answer"


def test_a_new_flow_forgets_an_unfinished_one(console, client, person):
    first = authorize_url(client)
    second = authorize_url(client)
    with client.session_transaction() as cookie:
        assert len([k for k in cookie if k.startswith("_state_")]) == 1
    stale = Person(TEST_BASE_URL + CALLBACK_PATH).sign_in(first, "alice")
    assert client.get(local_path(stale)).status_code == 400
    assert client.get(local_path(person.sign_in(second, "alice"))).status_code == 302
