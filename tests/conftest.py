"""Test apps on real stores: a SQLite file and a PostgreSQL database (both always run).

Set GOVERNANCE_TEST_POSTGRES_URL to point at another server (default: local, trust auth).
"""
from __future__ import annotations

import os
import secrets
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from governance import create_app
from governance.audit import GENESIS
from governance.extension import state
from governance.migrate import upgrade_database
from governance.operations.api_keys import CreateApiKey
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import load_text, validate
from governance.policy.vocabulary import BUILTIN_PURPOSES

FIXTURES = Path(__file__).parent / "fixtures"
NOW = datetime(2026, 11, 23, 12, 0, 0)
PG_ADMIN = os.environ.get("GOVERNANCE_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgres"]
# A served app needs GOVERNANCE_SECRET_KEY, as in production: every server and command a test
# starts inherits this one (apps made in-process get theirs in their config).
os.environ.setdefault("GOVERNANCE_SECRET_KEY", "tests-" + secrets.token_hex(16))


def _pg_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextmanager
def scratch_postgres(prefix: str = "ntk_test"):
    """A new, empty PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(_pg_dsn(PG_ADMIN), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database():
    """One scratch PostgreSQL database for the session, migrated once."""
    with scratch_postgres() as url:
        app = create_app({"GOVERNANCE_DATABASE_URL": url, "TESTING": True})
        with app.app_context():
            upgrade_database()
            state(app).db.engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A migrated SQLite file that each test copies (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "governance.sqlite"
    app = create_app({"GOVERNANCE_DATABASE_URL": f"sqlite:///{path}", "TESTING": True})
    with app.app_context():
        upgrade_database()
        state(app).db.engine.dispose()
    return path


@pytest.fixture
def make_app(request, tmp_path, sqlite_template):
    """Factory: a fresh, migrated app on the given backend."""
    apps = []

    def make(backend: str, **config):
        if backend == "sqlite":
            path = tmp_path / f"db-{len(apps)}.sqlite"
            shutil.copy(sqlite_template, path)
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("pg_database")
        app = create_app({"GOVERNANCE_DATABASE_URL": url, "TESTING": True,
                          "GOVERNANCE_SECRET_KEY": "test-secret", **config})
        if backend == "postgres":
            with app.app_context():
                reset_postgres(state(app).session)
        state(app).clock = lambda: NOW
        apps.append(app)
        return app

    yield make
    for app in apps:
        state(app).engine.close()
        with app.app_context():
            state(app).session.remove()
            state(app).db.engine.dispose()


def reset_postgres(session) -> None:
    """Empty every table and put back what the initial migration seeds (with the audit
    tables' guards, which refuse TRUNCATE, switched off for this session only)."""
    session.execute(text("SET session_replication_role = replica"))
    tables = session.execute(text(
        "SELECT tablename FROM pg_tables WHERE schemaname='public' "
        "AND tablename <> 'governance_alembic_version'")).scalars().all()
    session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables)
                         + " RESTART IDENTITY"))
    session.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"),
                    {"h": GENESIS})
    session.execute(text("INSERT INTO policy_state (id, revision, version, updated_at) "
                         "VALUES (1, 0, '', now())"))
    for purpose in BUILTIN_PURPOSES:
        session.execute(text(
            "INSERT INTO purpose (id, basis, builtin, source, created_at) "
            "VALUES (:p, :p, true, 'builtin', now())"), {"p": purpose})
    session.execute(text("SET session_replication_role = origin"))
    session.commit()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def app(make_app, backend):
    return make_app(backend)


def apply_file(app, name: str = "org.yaml", **kw):
    """Apply an org file from tests/fixtures through the real operation."""
    text_ = (FIXTURES / name).read_text()
    with app.app_context():
        spec = validate(load_text(text_))
        return ApplyOrganisation(spec, actor="test", now=kw.pop("now", NOW), **kw).execute(
            state(app).session)


def new_key(app, *scopes: str, name: str | None = None) -> str:
    with app.app_context():
        return CreateApiKey(name or f"k{uuid.uuid4().hex[:8]}", scopes or ("decide",)).execute(
            state(app).session)


@pytest.fixture
def org_app(app):
    apply_file(app)
    return app


@pytest.fixture
def api(org_app):
    """A client with a key that may decide and manage."""
    key = new_key(org_app, "decide", "manage")
    client = org_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client
