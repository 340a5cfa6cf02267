"""A directory user who signs in with the OpenID Connect provider: their entry is read again
from a real slapd, as a password sign-in does (no bind: the provider vouched for them)."""
from __future__ import annotations

import json

import pytest

from governance.extension import state
from governance.models import AuditEvent
from governance.signin.sign_in import REFUSAL
from tests.conftest import apply_file
from tests.directory.conftest import slapd  # noqa: F401 - the fixture, shared
from tests.directory.test_sign_in_bind import ldap_config
from tests.oidc.conftest import CALLBACK_PATH, TEST_BASE_URL, Person, local_path
from tests.signin.conftest import ROOMY_LIMITS


@pytest.fixture
def directory_app(slapd, make_app, backend, provider):  # noqa: F811 - the shared fixture
    """ann, a supervisor in housing by her group, synced in; she has no password here."""
    app = make_app(backend, GOVERNANCE_BASE_URL=TEST_BASE_URL, **ldap_config(slapd),
                   **provider.config(), **ROOMY_LIMITS)
    apply_file(app, "directory_org.yaml")
    slapd.add_group("housing-sup", [slapd.add_user("ann", cn="Ann Person")])
    for cn in ("housing-cm", "records"):
        slapd.add_group(cn)
    result = app.test_cli_runner().invoke(args=["governance", "directory", "sync"])
    assert result.exit_code == 0, result.output
    return app


def single_sign_on(app, login: str = "ann"):
    client = app.test_client()
    start = client.get("/console/sign-in/oidc")
    back = Person(TEST_BASE_URL + CALLBACK_PATH).sign_in(start.headers["Location"], login)
    return client, client.get(local_path(back))


def last_event(app) -> tuple[str, dict]:
    with app.app_context():
        row = state(app).session.query(AuditEvent).filter(
            AuditEvent.kind.like("signin.%")).order_by(AuditEvent.seq.desc()).first()
        return row.kind, json.loads(row.payload)


def test_a_directory_user_signs_in_with_the_roles_their_groups_give(directory_app):
    client, response = single_sign_on(directory_app)
    assert response.status_code == 302
    assert "Review: access reviews" in client.get("/console/").get_data(as_text=True)
    kind, payload = last_event(directory_app)
    assert (kind, payload["method"], payload["withdrawn"]) == ("signin.succeeded", "oidc", [])


def test_a_group_left_since_the_sync_gives_no_power(directory_app, slapd):  # noqa: F811
    slapd.set_members("housing-sup", [])
    client, response = single_sign_on(directory_app)
    assert response.status_code == 302
    page = client.get("/console/").get_data(as_text=True)
    assert "Review: access reviews" not in page and "Approve" not in page
    assert last_event(directory_app)[1]["withdrawn"] == [["supervisor", "housing"]]


def test_an_entry_locked_in_the_directory_is_refused(directory_app, slapd):  # noqa: F811
    slapd.lock_user("ann")
    client, response = single_sign_on(directory_app)
    assert response.status_code == 200 and REFUSAL in response.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    assert last_event(directory_app)[1]["reason"] == "directory_disabled"


def test_an_unreachable_directory_refuses_with_a_503(directory_app, slapd):  # noqa: F811
    slapd.stop()
    client, response = single_sign_on(directory_app)
    assert response.status_code == 503
    assert "directory cannot be reached" in response.get_data(as_text=True)
    assert last_event(directory_app)[1]["reason"] == "directory_unavailable"
