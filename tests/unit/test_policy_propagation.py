"""Policy changes reach every worker: patched slices, full rebuilds, and NOTIFY across apps."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from governance.extension import state
from governance.ids import new_id
from governance.models import Consent, Override
from governance.operations.state import bump_revision
from tests.conftest import NOW, apply_file

DISCLOSE = {"subject": "alice", "action": "disclose", "participant": "p-200",
            "program": "housing", "fields": ["identity.name"], "purpose": "housing_referral",
            "recipient": "city_housing", "bundle": "housing_referral_standard"}


def write(app, row, changes):
    with app.app_context():
        session = state(app).session
        session.add(row)
        bump_revision(session, changes)
        session.commit()


def snapshot(app):
    with app.app_context():
        return state(app).snapshot()


def renewed_consent():
    return Consent(id=new_id("cns"), participant_id="p-200", partners=["city_housing"],
                   purposes=["housing_referral"], fields=["identity.*"], source="api",
                   valid_from=NOW - timedelta(days=1), valid_until=NOW + timedelta(days=90))


def test_consent_change_patches_only_that_slice(api, org_app):
    assert api.post("/api/v1/decisions", json=DISCLOSE).json["decision"] == "deny"
    before = snapshot(org_app)
    write(org_app, renewed_consent(), [("consents", "p-200")])
    after = snapshot(org_app)
    assert after.revision == before.revision + 1
    assert after.involvements is before.involvements  # untouched slices are shared
    assert after.consents is not before.consents
    assert len(after.consents["p-200"]) == len(before.consents.get("p-200", [])) + 1
    assert api.post("/api/v1/decisions", json=DISCLOSE).json["decision"] == "allow"


def test_revision_without_a_change_record_rebuilds(api, org_app):
    before = snapshot(org_app)
    with org_app.app_context():
        session = state(org_app).session
        session.add(renewed_consent())
        bump_revision(session)  # ("all", None)
        session.commit()
    after = snapshot(org_app)
    assert after.involvements is not before.involvements
    assert api.post("/api/v1/decisions", json=DISCLOSE).json["decision"] == "allow"


def test_revoked_key_is_refused_by_every_worker(make_app, backend, second_app):
    from governance.operations.api_keys import CreateApiKey, RevokeApiKey

    first = make_app(backend)
    with first.app_context():
        key = CreateApiKey("shared", ("decide",)).execute(state(first).session)
    client = second_app(first).test_client()
    headers = {"Authorization": f"Bearer {key}"}
    body = {"subject": "x", "action": "view", "participant": "p", "program": "p",
            "fields": ["a.b"]}
    assert client.post("/api/v1/decisions", json=body, headers=headers).status_code == 200
    with first.app_context():
        RevokeApiKey("shared").execute(state(first).session)
    _eventually(lambda: client.post("/api/v1/decisions", json=body,
                                    headers=headers).status_code == 401, timeout=1.0)


def test_notify_reaches_another_app_without_polling(make_app, second_app):
    writer = make_app("postgres")
    reader = second_app(writer)
    apply_file(writer)
    before = snapshot(reader)
    _eventually(lambda: state(reader).engine.listener.healthy())
    row = Override(id=new_id("ovr"), user_id="nick", program_id="housing",
                   participant_id="p-100", fields=["identity.*"], actions=["view"],
                   reason="cover", minutes=60, status="approved",
                   approved_at=NOW - timedelta(minutes=1), expires_at=NOW + timedelta(minutes=59))
    write(writer, row, [("overrides", "nick")])
    started = time.monotonic()
    _eventually(lambda: state(reader).engine.listener.revision > before.revision, timeout=1.0)
    assert time.monotonic() - started < 1.0
    patched = snapshot(reader)
    assert "nick" in patched.overrides and patched.consents is before.consents


def test_sqlite_reader_sees_another_apps_commit_after_close(make_app, second_app):
    """On SQLite each process reads the revision on a connection of its own; closing the
    engine (as the gunicorn master does before forking) must not leave it reading nothing."""
    writer = make_app("sqlite")
    reader = second_app(writer)
    apply_file(writer)
    before = snapshot(reader)
    state(reader).engine.close()
    row = Override(id=new_id("ovr"), user_id="nick", program_id="housing",
                   participant_id="p-100", fields=["identity.*"], actions=["view"],
                   reason="cover", minutes=60, status="approved",
                   approved_at=NOW - timedelta(minutes=1), expires_at=NOW + timedelta(minutes=59))
    write(writer, row, [("overrides", "nick")])
    after = snapshot(reader)
    assert state(reader).engine.file_reader is not None
    assert state(reader).engine.file_reader.read() == after.revision == before.revision + 1
    assert "nick" in after.overrides


@pytest.fixture
def second_app():
    """Another app (as another worker or instance would be) on the same database."""
    from governance import create_app

    made = []

    def make(app):
        other = create_app({"GOVERNANCE_DATABASE_URL": app.config["GOVERNANCE_DATABASE_URL"],
                            "TESTING": True})
        state(other).clock = lambda: NOW
        made.append(other)
        return other

    yield make
    for other in made:
        state(other).engine.close()
        with other.app_context():
            state(other).db.engine.dispose()


def _eventually(check, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)
