"""Every decision and change lands in the hash chain; tampering is found; no row, no answer."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from governance import audit
from governance.extension import state
from tests.conftest import NOW

REQUEST = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
           "fields": ["identity.name", "clinical.diagnosis"]}


def verify(app):
    with app.app_context():
        return audit.verify(state(app).session)


def sql(app, statement: str, **params) -> None:
    with app.app_context():
        session = state(app).session
        session.execute(text(statement), params)
        session.commit()


def lift_guard(app, backend: str) -> None:
    """Drop the append-only triggers, as someone with raw database access could."""
    if backend == "postgres":
        sql(app, "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
    else:
        sql(app, "DROP TRIGGER audit_event_no_update")
        sql(app, "DROP TRIGGER audit_event_no_delete")


def restore_guard(app, backend: str) -> None:
    if backend == "postgres":
        sql(app, "ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")


def test_decision_is_audited_with_request_reasons_version_and_caller(api, org_app):
    body = api.post("/api/v1/decisions", json=REQUEST).json
    events = api.get(f"/api/v1/audit?kind=decision&ref={body['decision_id']}").json["events"]
    assert len(events) == 1
    event = events[0]
    assert (event["subject"], event["participant"]) == ("alice", "p-100")
    payload = event["payload"]
    assert payload["request"] == REQUEST
    assert payload["denied"] == {"clinical.diagnosis": "no_role_grant"}
    assert payload["allowed"] == ["identity.name"]
    assert payload["policy_version"] == body["policy_version"]
    assert payload["caller"] == event["actor"] and payload["caller"].startswith("k")
    assert payload["basis"]["identity.name"][0].startswith("assignment:")
    assert event["at"] == NOW.isoformat() + "Z"


def test_audit_filters(api):
    api.post("/api/v1/decisions", json=REQUEST)
    api.post("/api/v1/decisions", json={**REQUEST, "subject": "sam", "participant": "p-200"})
    by_subject = api.get("/api/v1/audit?subject=sam&kind=decision").json["events"]
    assert [e["subject"] for e in by_subject] == ["sam"]
    changes = api.get("/api/v1/audit?subject=sam&kind=org.change").json["events"]
    assert {e["payload"]["section"] for e in changes} == {"users", "assignments"}
    by_participant = api.get("/api/v1/audit?participant=p-100&kind=decision").json["events"]
    assert [e["participant"] for e in by_participant] == ["p-100"]
    assert api.get("/api/v1/audit?since=2030-01-01T00:00:00").json["events"] == []
    assert len(api.get("/api/v1/audit?until=2030-01-01T00:00:00&kind=decision")
               .json["events"]) == 2
    assert api.get("/api/v1/audit?since=yesterday").status_code == 400
    assert api.get("/api/v1/audit?limit=0").status_code == 400


def test_intact_chain_verifies(api, org_app):
    for _ in range(3):
        api.post("/api/v1/decisions", json=REQUEST)
    result = verify(org_app)
    count, problems = result.rows, result.problems
    assert count >= 5 and problems == []


def test_audit_rows_refuse_update_and_delete(api, org_app):
    api.post("/api/v1/decisions", json=REQUEST)
    with pytest.raises(Exception, match="append-only"):
        sql(org_app, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1")
    with org_app.app_context():
        state(org_app).session.rollback()
    with pytest.raises(Exception, match="append-only"):
        sql(org_app, "DELETE FROM audit_event WHERE seq = 1")


def last_seq(app) -> int:
    with app.app_context():
        return state(app).session.scalar(text("SELECT max(seq) FROM audit_event"))


# Row numbers from the last row before the decisions (K: the API key's row).
@pytest.mark.parametrize("tamper,offset,what", [
    ("UPDATE audit_event SET payload = replace(payload, 'no_role_grant', 'x') WHERE seq = {1}",
     1, "edited"),
    ("UPDATE audit_event SET actor = 'mallory' WHERE seq = {0}", 0, "edited"),
    ("DELETE FROM audit_event WHERE seq = {1}", 1, "missing"),
    ("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)", 3, "deleted"),
])
def test_tampering_is_detected_and_located(api, org_app, backend, tamper, offset, what):
    key_row = last_seq(org_app)
    for _ in range(3):
        api.post("/api/v1/decisions", json=REQUEST)  # rows K+1 to K+3
    lift_guard(org_app, backend)
    sql(org_app, tamper.format(key_row, key_row + 1))
    restore_guard(org_app, backend)
    problems = verify(org_app).problems
    assert problems, "tampering went unnoticed"
    assert problems[0].seq == key_row + offset and what in problems[0].what


def test_reordered_rows_are_detected(api, org_app, backend):
    first = last_seq(org_app) + 1
    for _ in range(2):
        api.post("/api/v1/decisions", json=REQUEST)  # rows first and first + 1
    lift_guard(org_app, backend)
    sql(org_app, f"UPDATE audit_event SET seq = 100000 WHERE seq = {first}")
    sql(org_app, f"UPDATE audit_event SET seq = {first} WHERE seq = {first + 1}")
    sql(org_app, f"UPDATE audit_event SET seq = {first + 1} WHERE seq = 100000")
    restore_guard(org_app, backend)
    problems = verify(org_app).problems
    assert [p.seq for p in problems][:1] == [first]


def test_no_audit_row_means_no_decision(api, org_app):
    sql(org_app, "ALTER TABLE audit_event RENAME TO audit_event_gone")
    try:
        response = api.post("/api/v1/decisions", json=REQUEST)
        assert response.status_code == 503
        assert response.json["error"]["code"] == "store_unavailable"
        assert "decision" not in response.json
    finally:
        sql(org_app, "ALTER TABLE audit_event_gone RENAME TO audit_event")
    assert api.post("/api/v1/decisions", json=REQUEST).status_code == 200
    assert verify(org_app).problems == []


@pytest.mark.parametrize("durability", ["commit", "fsync"])
def test_concurrent_writers_share_commits_and_keep_the_chain(org_app, durability):
    """32 threads append at once through one writer: each returns only after its row is in
    the store, the rows arrive in fewer transactions than calls, and the chain holds (with
    fsync on PostgreSQL: through the procedure that frees the head before the flush)."""
    import threading

    from governance.audit_writer import AuditWriter

    writer, engine = AuditWriter(durability), None
    with org_app.app_context():
        engine = state(org_app).db.engine
        before = audit.verify(state(org_app).session).rows
    commits, seen_after_return, start = [], [], threading.Barrier(32)
    original = writer._commit
    writer._commit = lambda e, rows: (original(e, rows), commits.append(len(rows)))

    def append(n: int) -> None:
        start.wait()
        row = audit.new_row("test", {"n": n}, ref=f"t-{n}", at=NOW)
        writer.write(engine, [row])
        with engine.connect() as conn:
            seen_after_return.append(conn.execute(
                text("SELECT count(*) FROM audit_event WHERE ref = :r"), {"r": f"t-{n}"}
            ).scalar_one())

    threads = [threading.Thread(target=append, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert seen_after_return == [1] * 32
    assert sum(commits) == 32 and len(commits) < 32
    result = verify(org_app)
    count, problems = result.rows, result.problems
    assert problems == [] and count == before + 32


def test_sqlite_wal_is_checkpointed_off_the_request_path(make_app, tmp_path):
    """A background thread copies the log into the database file (the writer's own threshold is
    only a backstop), then ends when idle."""
    import shutil
    import sqlite3
    import time

    from governance.audit_writer import AuditWriter
    from governance.sqlite_file import WRITER_AUTOCHECKPOINT, WalCheckpointer, sqlite_file

    app = make_app("sqlite")
    writer = AuditWriter("fsync")
    with app.app_context():
        engine = state(app).db.engine
    path = sqlite_file(engine.url)
    writer.checkpointer = WalCheckpointer(path, interval=0.02, idle_rounds=3)
    for n in range(200):
        writer.write(engine, [audit.new_row("test", {"n": n}, at=NOW)])
    assert writer._connection.exec_driver_sql(
        "PRAGMA wal_autocheckpoint").scalar() == WRITER_AUTOCHECKPOINT
    deadline = time.monotonic() + 10
    while writer.checkpointer._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not writer.checkpointer._thread.is_alive() and writer.checkpointer.checkpoints >= 3
    # The database file alone (without its -wal) already holds every row.
    alone = tmp_path / "copy.sqlite"
    shutil.copy(path, alone)
    with sqlite3.connect(alone) as conn:
        assert conn.execute("SELECT count(*) FROM audit_event WHERE kind = 'test'"
                            ).fetchone()[0] == 200
    writer.write(engine, [audit.new_row("test", {"n": "again"}, at=NOW)])
    assert writer.checkpointer._thread.is_alive()  # the next write starts it again
    assert verify(app).problems == []


def test_sqlite_wal_restarts_instead_of_growing(make_app):
    """Once its frames are in the database file the log starts over from its first page, so
    commits write over pages the file already has (a growing file makes each fsync cost more)
    and the log stays near WRITER_AUTOCHECKPOINT pages however much is written."""
    import os

    from governance.audit_writer import AuditWriter
    from governance.sqlite_file import WRITER_AUTOCHECKPOINT, WalCheckpointer, sqlite_file

    app = make_app("sqlite")
    writer = AuditWriter("fsync")  # back-to-back fsyncs: the log is never idle
    with app.app_context():
        engine = state(app).db.engine
    path = sqlite_file(engine.url)
    writer.checkpointer = WalCheckpointer(path)
    for n in range(2 * WRITER_AUTOCHECKPOINT):  # each commit writes at least two pages
        writer.write(engine, [audit.new_row("test", {"n": n}, at=NOW)])
    page = writer._connection.exec_driver_sql("PRAGMA page_size").scalar()
    frames = (os.path.getsize(path + "-wal") - 32) // (page + 24)
    with open(path + "-wal", "rb") as wal:
        restarts = int.from_bytes(wal.read(16)[12:16], "big")  # the header's checkpoint count
    assert restarts >= 2 and frames < 1.5 * WRITER_AUTOCHECKPOINT
    assert verify(app).problems == []


def test_postgres_fsync_appends_are_flushed_each(make_app):
    """With fsync durability the append commits asynchronously (freeing the chain's head) and
    then waits for the WAL flush: PostgreSQL's own counters show one flush per lone append."""
    import time

    from governance.audit_writer import AuditWriter

    app = make_app("postgres")
    writer = AuditWriter("fsync")
    with app.app_context():
        engine = state(app).db.engine

    def wal_syncs() -> int:
        connection = writer._connection  # push this backend's pending statistics out first
        connection.exec_driver_sql("SELECT pg_stat_force_next_flush()")
        connection.exec_driver_sql("SELECT 1")
        time.sleep(0.2)
        with engine.connect() as reader:
            reader.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            return reader.exec_driver_sql("SELECT wal_sync FROM pg_stat_wal").scalar_one()

    writer.write(engine, [audit.new_row("test", {"n": 0}, at=NOW)])
    before = wal_syncs()
    for n in range(1, 41):
        writer.write(engine, [audit.new_row("test", {"n": n}, at=NOW)])
    assert wal_syncs() - before >= 40  # the WAL writer alone would sync a few times at most
    assert verify(app).problems == []


def test_postgres_payloads_are_compressed_with_lz4(make_app):
    """A decision-sized payload (over the ~2 kB at which PostgreSQL compresses) is stored lz4,
    and the chain still verifies against its text."""
    from governance.audit_writer import AuditWriter

    app = make_app("postgres")
    with app.app_context():
        engine = state(app).db.engine
    with engine.connect() as connection:
        if not connection.exec_driver_sql(
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings "
                "WHERE name = 'default_toast_compression'").scalar():
            pytest.skip("this PostgreSQL server was built without lz4")
    payload = {"fields": [f"section_{n}.field_{n}" for n in range(120)]}
    AuditWriter("fsync").write(engine, [audit.new_row("test", payload, ref="big", at=NOW)])
    with engine.connect() as connection:
        method = connection.exec_driver_sql(
            "SELECT pg_column_compression(payload) FROM audit_event WHERE ref = 'big'").scalar()
    assert method == "lz4"
    assert verify(app).problems == []


@pytest.mark.parametrize("text", [
    "".join(chr(c) for c in range(0x80)),  # every ASCII character, controls included
    "é ü 中文 😀 \u2028\u2029\ufeff\u00a0", '{"quoted": "x\\\\y"}', ""])
def test_content_digest_is_the_digest_of_the_canonical_text(text):
    """Rows chained before the digest moved to orjson still verify: same bytes, same hash."""
    import hashlib

    fields = [NOW.isoformat(timespec="microseconds"), "decision", None, text, "p-1", None, text]
    expected = hashlib.sha256(audit.canonical(fields).encode()).hexdigest()
    assert audit.content_digest(NOW, "decision", None, text, "p-1", None, text) == expected
