"""The audit chain under attack and failure: keyed links, a guarded head, checkpoints kept
outside the database, one link formula on every append path, a writer that survives errors."""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from governance import audit, audit_writer, create_app
from governance.extension import state
from governance.models import AuditEvent, AuditHead
from tests.conftest import NOW, apply_file, new_key

KEY, OTHER_KEY = "test-audit-key-1", "test-audit-key-2"
REQUEST = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
           "fields": ["identity.name", "clinical.diagnosis"]}
EVALUATION = {"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"},
              "resource": {"type": "participant_record", "id": "p-100",
                           "properties": {"program": "housing", "fields": ["identity.name"]}}}


def client_for(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide', 'manage')}"
    return client


def same_store(app, **config):
    """A second service on the same database (as another instance or a restart would be)."""
    other = create_app({"GOVERNANCE_DATABASE_URL": app.config["GOVERNANCE_DATABASE_URL"],
                        "TESTING": True, **config})
    state(other).clock = lambda: NOW
    return other


def verify(app, key: str | None = None) -> audit.Verification:
    with app.app_context():
        result = audit.verify(state(app).session, audit.ChainKey.from_text(key))
        state(app).session.rollback()
        return result


@contextmanager
def raw_store(app, backend: str):
    """A session with the database's own guards off, as a database administrator could."""
    with app.app_context():
        session = state(app).session
        if backend == "postgres":
            session.execute(text("SET session_replication_role = replica"))
        else:
            for name in ("audit_event_no_update", "audit_event_no_delete", "audit_head_no_delete",
                         "audit_head_no_insert", "audit_head_no_rewind"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        try:
            yield session
            session.commit()
        finally:
            if backend == "postgres":
                session.execute(text("SET session_replication_role = origin"))
                session.commit()


def head(app) -> AuditHead:
    with app.app_context():
        row = state(app).session.get(AuditHead, 1)
        state(app).session.expunge_all()
        return row


@pytest.fixture
def keyed_app(make_app, backend):
    app = make_app(backend, GOVERNANCE_AUDIT_KEY=KEY)
    apply_file(app)
    return app


def test_a_keyed_chain_verifies_only_with_its_key(keyed_app):
    applied = head(keyed_app).seq  # the apply's rows
    client = client_for(keyed_app)
    for _ in range(3):
        assert client.post("/api/v1/decisions", json=REQUEST).status_code == 200
    assert head(keyed_app).keyed_from == 1  # a fresh store is keyed from its first row
    assert head(keyed_app).key_id == audit.ChainKey.from_text(KEY).key_id
    result = verify(keyed_app, KEY)
    assert result.problems == [] and result.rows == applied + 1 + 3  # apply, key, decisions
    assert result.keyed_from == 1
    assert "set GOVERNANCE_AUDIT_KEY" in verify(keyed_app).problems[0].what
    assert "not the chain's key" in verify(keyed_app, OTHER_KEY).problems[0].what
    assert KEY not in repr(state(keyed_app).audit_key)


def rechain(session, key: audit.ChainKey | None) -> None:
    """Recompute every link (and the head) as someone who can write the database would."""
    prev = audit.GENESIS
    for row in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
        digest = audit.content_digest(row.at, row.kind, row.actor, row.subject,
                                      row.participant, row.ref, row.payload)
        row.prev_hash, row.hash = prev, audit.link(prev, row.seq, digest, key)
        prev = row.hash
    session.flush()
    session.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


@pytest.mark.parametrize("forger_key", [None, OTHER_KEY])
def test_an_edit_re_chained_without_the_key_is_found(keyed_app, backend, forger_key):
    client = client_for(keyed_app)
    for _ in range(3):
        client.post("/api/v1/decisions", json=REQUEST)
    last = head(keyed_app).seq
    with raw_store(keyed_app, backend) as session:
        session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = :s"),
                        {"s": last})
        rechain(session, audit.ChainKey.from_text(forger_key))
    problems = verify(keyed_app, KEY).problems
    assert problems and problems[0].seq == 1 and "edited" in problems[0].what


def checkpoint_of(app, key: str | None) -> dict:
    chain_key = audit.ChainKey.from_text(key)
    return audit.checkpoint(verify(app, key), chain_key, datetime(2026, 12, 3))


def check(app, document, key: str | None):
    with app.app_context():
        return audit.check_checkpoint(state(app).session, audit.Checkpoint.read(document),
                                      audit.ChainKey.from_text(key))


@pytest.mark.parametrize("key", [KEY, None])
def test_a_truncated_tail_with_a_rewound_head_is_found_by_the_checkpoint(make_app, backend, key):
    app = make_app(backend, GOVERNANCE_AUDIT_KEY=key)
    apply_file(app)
    client = client_for(app)
    cut = head(app).seq + 1  # keep the apply, the key and one decision
    for _ in range(4):
        client.post("/api/v1/decisions", json=REQUEST)
    document = checkpoint_of(app, key)
    assert document["seq"] == cut + 3 and check(app, document, key) == []
    with raw_store(app, backend) as session:
        session.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": cut})
        last = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == cut))
        session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                        {"s": cut, "h": last})
    assert verify(app, key).problems == []  # the shortened chain is consistent in itself...
    problems = check(app, document, key)  # ...but no longer reaches what was kept outside
    assert problems and f"no longer reaches the checkpoint's row {cut + 3}" in problems[0].what


def test_a_re_chained_unkeyed_trail_differs_from_its_checkpoint(make_app, backend):
    app = make_app(backend)
    apply_file(app)
    client_for(app).post("/api/v1/decisions", json=REQUEST)
    document = checkpoint_of(app, None)
    with raw_store(app, backend) as session:
        session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 1"))
        rechain(session, None)
    assert verify(app).problems == []
    assert "rewritten" in check(app, document, None)[0].what


def test_a_signed_checkpoint_that_was_edited_is_refused(keyed_app):
    document = checkpoint_of(keyed_app, KEY)
    assert check(keyed_app, {**document, "hash": "0" * 64}, KEY)[0].what.startswith(
        "the checkpoint's signature")
    assert "set GOVERNANCE_AUDIT_KEY" in check(keyed_app, document, None)[0].what


GUARDED = [
    "DELETE FROM audit_head",
    "UPDATE audit_head SET seq = seq - 1",
    "UPDATE audit_head SET hash = 'f00d'",
    "UPDATE audit_head SET key_id = 'other', keyed_from = 2",
    "INSERT INTO audit_head (id, seq, hash) VALUES (2, 0, 'x')",
    "DELETE FROM audit_event WHERE seq = 1",
]


@pytest.mark.parametrize("statement", GUARDED + ["TRUNCATE audit_event", "TRUNCATE audit_head"])
def test_the_head_and_rows_are_guarded_in_the_database(keyed_app, backend, statement):
    if statement.startswith("TRUNCATE") and backend == "sqlite":
        pytest.skip("SQLite has no TRUNCATE (its DELETE is guarded above)")
    client_for(keyed_app).post("/api/v1/decisions", json=REQUEST)
    before = head(keyed_app)
    with keyed_app.app_context():
        session = state(keyed_app).session
        with pytest.raises(DBAPIError):
            session.execute(text(statement))
        session.rollback()
    after = head(keyed_app)
    assert (after.seq, after.hash, after.key_id) == (before.seq, before.hash, before.key_id)
    assert verify(keyed_app, KEY).problems == []


def test_an_unkeyed_chain_is_keyed_from_the_next_row_and_still_verifies(make_app, backend):
    plain = make_app(backend)
    apply_file(plain)
    client_for(plain).post("/api/v1/decisions", json=REQUEST)  # apply, key, decision: SHA-256
    plain_rows = head(plain).seq
    keyed = same_store(plain, GOVERNANCE_AUDIT_KEY=KEY)
    assert client_for(keyed).post("/api/v1/decisions", json=REQUEST).status_code == 200
    assert head(keyed).keyed_from == plain_rows + 1  # the new key's own audit row
    result = verify(keyed, KEY)
    assert result.problems == [] and result.rows == plain_rows + 2
    assert result.keyed_from == plain_rows + 1


@pytest.mark.parametrize("held", [None, OTHER_KEY])
def test_a_service_holding_another_key_refuses_to_write_and_says_so(keyed_app, held):
    keyed_client = client_for(keyed_app)
    keyed_client.post("/api/v1/decisions", json=REQUEST)
    other = same_store(keyed_app, GOVERNANCE_AUDIT_KEY=held)
    client = other.test_client()
    client.environ_base.update(keyed_client.environ_base)  # the same API key
    health = client.get("/healthz")
    assert health.status_code == 503
    assert "keyed with key" in health.json["checks"]["audit_trail"]
    response = client.post("/api/v1/decisions", json=REQUEST)
    assert response.status_code == 503 and response.json["error"]["code"] == "store_unavailable"
    assert verify(keyed_app, KEY).problems == []


@pytest.mark.parametrize("durability", ["fsync", "commit"])
@pytest.mark.parametrize("key", [KEY, None])
def test_every_append_path_links_rows_by_the_one_formula(make_app, backend, durability, key):
    """Lone decisions, concurrent ones sharing a commit, a large batch committed in chunks
    and operation rows: each store computes links that the Python formula verifies."""
    app = make_app(backend, GOVERNANCE_AUDIT_KEY=key, GOVERNANCE_AUDIT_DURABILITY=durability)
    apply_file(app)  # operation rows (session path)
    applied = head(app).seq
    client = client_for(app)
    assert client.post("/api/v1/decisions", json=REQUEST).status_code == 200  # lone
    statuses: list[int] = []

    def decide() -> None:
        own = app.test_client()
        own.environ_base.update(client.environ_base)
        statuses.extend(own.post("/api/v1/decisions", json=REQUEST).status_code
                        for _ in range(10))

    threads = [threading.Thread(target=decide) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batch = client.post("/access/v1/evaluations", json={"evaluations": [EVALUATION] * 600})
    assert batch.status_code == 200 and statuses == [200] * 60
    result = verify(app, key)
    # apply, key, lone, threads, batch
    assert result.problems == [] and result.rows == applied + 1 + 1 + 60 + 600


def test_a_missing_head_fails_decisions_closed_and_releases_the_store(make_app, backend):
    app = make_app(backend)
    apply_file(app)
    client = client_for(app)
    with raw_store(app, backend) as session:
        session.execute(text("DELETE FROM audit_head"))
    response = client.post("/api/v1/decisions", json=REQUEST)
    assert response.status_code == 503 and "decision" not in response.json
    health = client.get("/healthz")
    assert health.status_code == 503 and "audit_head is missing" in health.json["checks"][
        "audit_trail"]
    if backend == "sqlite":  # nothing holds the write lock: another process writes at once
        path = app.config["GOVERNANCE_DATABASE_URL"].removeprefix("sqlite:///")
        other = sqlite3.connect(path, timeout=1)
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
        other.close()
    rows = verify(app)
    with raw_store(app, backend) as session:
        session.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :s, :h)"),
                        {"s": rows.head_seq, "h": rows.head_hash})
    assert client.post("/api/v1/decisions", json=REQUEST).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert verify(app).problems == []


def test_an_unexpected_error_in_the_writer_answers_every_waiter_503(org_app, monkeypatch):
    client = client_for(org_app)
    real, broken = audit_writer.write_rows, threading.Event()
    broken.set()

    def failing(connection, rows, **kw):
        if broken.is_set():
            raise RuntimeError("disk on fire")
        return real(connection, rows, **kw)

    monkeypatch.setattr(audit_writer, "write_rows", failing)
    answers: list = []

    def decide() -> None:
        own = org_app.test_client()
        own.environ_base.update(client.environ_base)
        answers.append(own.post("/api/v1/decisions", json=REQUEST))

    threads = [threading.Thread(target=decide) for _ in range(8)]  # waiters in one batch
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a waiter was left hanging"
    assert [(r.status_code, r.json["error"]["code"]) for r in answers] == [
        (503, "store_unavailable")] * 8
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["checks"]["audit_writer"].startswith(
        "last append failed: RuntimeError: disk on fire")
    broken.clear()
    assert client.post("/api/v1/decisions", json=REQUEST).status_code == 200
    assert client.get("/healthz").json["checks"]["audit_writer"] == "ok"
    assert verify(org_app).problems == []


def test_a_chain_written_before_migration_0007_still_verifies(tmp_path, backend):
    """Rows appended by the 0006 schema (PostgreSQL: its own plpgsql function) verify after
    the upgrade, and later appends with a key continue the same chain."""
    from alembic import command

    from governance.migrate import alembic_config, upgrade_database
    from tests.conftest import scratch_postgres

    def run(url: str) -> None:
        app = create_app({"GOVERNANCE_DATABASE_URL": url, "TESTING": True})
        with app.app_context():
            command.upgrade(alembic_config(), "0006")
            session = state(app).session
            rows = [audit.new_row("note", {"n": i}, actor="old", at=NOW) for i in range(3)]
            if backend == "postgres":
                session.execute(text("SELECT governance_audit_append(CAST(:rows AS jsonb))"),
                                {"rows": audit._wire(rows)})
            else:
                prev = audit.GENESIS
                for seq, row in enumerate(rows, 1):
                    link = audit.link(prev, seq, row["digest"])
                    session.execute(text(
                        "INSERT INTO audit_event (seq, at, kind, actor, payload, prev_hash, hash)"
                        " VALUES (:s, :at, 'note', 'old', :p, :prev, :h)"),
                        {"s": seq, "at": NOW, "p": row["payload"], "prev": prev, "h": link})
                    prev = link
                session.execute(text("UPDATE audit_head SET seq = 3, hash = :h"), {"h": prev})
            session.commit()
            upgrade_database()
            assert audit.verify(session).problems == []
            session.remove()
            state(app).db.engine.dispose()
        keyed = same_store(app, GOVERNANCE_AUDIT_KEY=KEY)
        with keyed.app_context():
            audit.append(state(keyed).session, "note", {"n": 3}, actor="new")
            state(keyed).session.commit()
        result = verify(keyed, KEY)
        assert result.problems == [] and result.rows == 4 and result.keyed_from == 4
        with keyed.app_context():
            state(keyed).session.remove()
            state(keyed).db.engine.dispose()
        state(keyed).engine.close()

    if backend == "sqlite":
        run(f"sqlite:///{tmp_path / 'old.sqlite'}")
    else:
        with scratch_postgres("ntk_migrate") as url:
            run(url)
