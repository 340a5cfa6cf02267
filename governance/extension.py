"""The ``Governance`` Flask extension: mounts the API and the console into any app."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from governance.audit import ChainKey, key_connections
from governance.audit_writer import AuditWriter
from governance.clock import utcnow
from governance.config import (
    AUDIT_DURABILITY,
    DEFAULTS,
    STANDALONE,
    allowed_hosts,
    check_base_url,
    check_ranges,
)
from governance.db import release_session
from governance.decisions import StoreUnavailable
from governance.notify import notifier_from_config
from governance.policy.engine import PolicyEngine
from governance.policy.snapshot import Snapshot
from governance.usage import UsageTracker

EXTENSION_KEY = "governance"


@dataclass
class GovernanceState:
    """Per-app state kept in ``app.extensions['governance']`` (never on the extension object)."""

    db: SQLAlchemy
    login_manager: object | None
    engine: PolicyEngine = field(default_factory=PolicyEngine)
    writer: AuditWriter = field(default_factory=AuditWriter)
    notifier: object = None  # see governance.notify; set from the config in init_app
    usage: UsageTracker = field(default_factory=UsageTracker)
    config: dict = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    allowed_hosts: frozenset[str] = frozenset()
    audit_key: ChainKey | None = None
    # Set when the host signs people in: our user id for its current_user (None: no account).
    user_id_of: Callable[[object], str | None] | None = None

    @property
    def session(self):
        return self.db.session

    def snapshot(self) -> Snapshot:
        """The current compiled policy, or StoreUnavailable (fail closed)."""
        try:
            return self.engine.snapshot(self.session)
        except SQLAlchemyError as exc:
            release_session(self.session)
            raise StoreUnavailable("the policy store cannot be read") from exc


class Governance:
    """``user_id_of``: the host signs people in (its LoginManager, its login_view) and
    ``user_id_of(current_user)`` names their governance user (None: they have none). Without
    it, the console's own sign-in page signs people in, and a host's user loader must load
    our users' ids."""

    def __init__(self, app: Flask | None = None, *, db: SQLAlchemy | None = None,
                 login_manager=None, console_prefix: str | None = "/console",
                 user_id_of: Callable[[object], str | None] | None = None):
        self.db = db
        self.login_manager = login_manager
        self.console_prefix = console_prefix
        self.user_id_of = user_id_of
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, *, db: SQLAlchemy | None = None, login_manager=None,
                 console_prefix: str | None = None,
                 user_id_of: Callable[[object], str | None] | None = None) -> None:
        """Wire the API, the CLI and the console (at ``console_prefix``; None for no console)."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("Governance is already registered on this app; call init_app once.")
        db = db or self.db or app.extensions.get("sqlalchemy")
        if db is None:
            raise RuntimeError(
                "Governance needs Flask-SQLAlchemy: pass Governance(app, db=db) after "
                "db.init_app(app), or use governance.create_app() for a standalone service.")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        durability = app.config["GOVERNANCE_AUDIT_DURABILITY"]
        if durability not in AUDIT_DURABILITY:
            raise RuntimeError(f"GOVERNANCE_AUDIT_DURABILITY must be one of "
                               f"{', '.join(AUDIT_DURABILITY)}, not {durability!r}")
        check_base_url(app.config["GOVERNANCE_BASE_URL"])
        check_ranges(app.config)
        login_manager = login_manager or self.login_manager or getattr(app, "login_manager", None)
        prefix = console_prefix or self.console_prefix
        governance_state = GovernanceState(db=db, login_manager=login_manager,
                                           writer=AuditWriter(durability),
                                           notifier=notifier_from_config(app.config, prefix),
                                           config=app.config,
                                           allowed_hosts=allowed_hosts(app.config),
                                           audit_key=ChainKey.from_text(
                                               app.config["GOVERNANCE_AUDIT_KEY"]))
        governance_state.user_id_of = user_id_of or self.user_id_of
        app.extensions[EXTENSION_KEY] = governance_state
        _track_revisions(db, governance_state.engine)

        from governance.api import register_api
        from governance.cli import governance_cli
        from governance.migrate import register_migrations

        ours = list(register_api(app))
        if prefix:
            from governance.console import bp as console_bp
            from governance.console import register_console

            register_console(app, login_manager, prefix)
            governance_state.login_manager = app.login_manager
            ours.append(console_bp)
        if not app.config.get(STANDALONE):
            _exempt_from_host_csrf(app, ours)
        if app.config["GOVERNANCE_DIRECT_DECISIONS"]:
            from governance.api.direct import DirectDecisions

            app.wsgi_app = DirectDecisions(app, app.wsgi_app)
        import governance.signin.cli  # noqa: F401 - adds `user create-admin`, `set-password`

        app.cli.add_command(governance_cli)
        register_migrations(app, db)
        with app.app_context():
            _tune_sqlite(db)
            key_connections(db.engine, governance_state.audit_key)
        if governance_state.audit_key is None:
            app.logger.warning("GOVERNANCE_AUDIT_KEY is not set: the audit chain is not keyed, "
                               "so someone able to write the database could re-chain it")


def state(app: Flask | None = None) -> GovernanceState:
    """The extension state of ``app`` (default: the current app)."""
    from flask import current_app

    app = app or current_app
    try:
        return app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("Governance is not registered on this app. "
                           "Did you forget to call Governance(app) or init_app(app)?") from None


def _exempt_from_host_csrf(app: Flask, blueprints: list) -> None:
    """A host's Flask-WTF ``CSRFProtect`` checks every POST of the app. Our API authenticates
    with keys, never cookies, so there is no cross-site request to forge; the console checks
    its own forms' tokens (``governance.console.views``). Exempt ours whether the host sets
    up ``CSRFProtect`` before or after us: after, its check runs after this hook."""

    def exempt() -> bool:
        csrf = app.extensions.get("csrf")
        if csrf is None:
            return False
        for blueprint in blueprints:
            csrf.exempt(blueprint)
        return True

    if exempt():
        return
    done = False

    @app.before_request
    def _exempt_when_the_host_protects() -> None:
        nonlocal done
        if not done:
            done = exempt()


def _track_revisions(db: SQLAlchemy, engine: PolicyEngine) -> None:
    """Once a write commits, this process's snapshot follows at once (others via NOTIFY)."""

    @event.listens_for(db.session, "after_commit")
    def _committed(session) -> None:  # noqa: ANN001
        revision = session.info.pop("governance_revision", None)
        if revision is not None:
            engine.saw_revision(revision)

    @event.listens_for(db.session, "after_rollback")
    def _rolled_back(session) -> None:  # noqa: ANN001
        session.info.pop("governance_revision", None)


def _tune_sqlite(db: SQLAlchemy) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # noqa: ANN001
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
