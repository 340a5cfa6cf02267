"""The ``Governance`` Flask extension: mounts the API (and later the console) into any app."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event

from governance.clock import utcnow
from governance.config import DEFAULTS
from governance.policy.engine import PolicyEngine

EXTENSION_KEY = "governance"


@dataclass
class GovernanceState:
    """Per-app state kept in ``app.extensions['governance']`` (never on the extension object)."""

    db: SQLAlchemy
    login_manager: object | None
    engine: PolicyEngine = field(default_factory=PolicyEngine)
    clock: Callable[[], datetime] = utcnow

    @property
    def session(self):
        return self.db.session


class Governance:
    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None,
                 login_manager=None):
        self.db = db
        self.login_manager = login_manager
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, db: SQLAlchemy | None = None, login_manager=None) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("Governance is already registered on this app; call init_app once.")
        db = db or self.db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError(
                "Governance needs Flask-SQLAlchemy: pass Governance(app, db=db) after "
                "db.init_app(app), or use governance.create_app() for a standalone service.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        login_manager = login_manager or self.login_manager or getattr(app, "login_manager", None)
        app.extensions[EXTENSION_KEY] = GovernanceState(db=db, login_manager=login_manager)

        from governance.api import register_api
        from governance.cli import governance_cli
        from governance.migrate import register_migrations

        register_api(app)
        app.cli.add_command(governance_cli)
        register_migrations(app, db)
        with app.app_context():
            _tune_sqlite(db)


def state(app: Flask | None = None) -> GovernanceState:
    """The extension state of ``app`` (default: the current app)."""
    from flask import current_app

    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("Governance is not registered on this app. "
                           "Did you forget to call Governance(app) or init_app(app)?") from None


def _tune_sqlite(db: SQLAlchemy) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
