"""Standalone application factory."""
from __future__ import annotations

import os

from flask import Flask, redirect, url_for
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.exc import ArgumentError

from governance.config import STANDALONE, from_environment, secret_key
from governance.extension import Governance


def create_app(test_config: dict | None = None) -> Flask:
    """Create the standalone service; ``test_config`` replaces the environment in tests."""
    app = Flask(__name__, instance_relative_config=True)
    config = test_config if test_config is not None else from_environment()
    app.config.update(config)
    os.makedirs(app.instance_path, exist_ok=True)
    url = app.config.get("GOVERNANCE_DATABASE_URL") or (
        "sqlite:///" + os.path.join(app.instance_path, "governance.sqlite")
    )
    app.config["GOVERNANCE_DATABASE_URL"] = url
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(url))
    # A config passed in code (tests, benchmarks) may leave the key out; the environment's may
    # not, outside development.
    app.config["SECRET_KEY"] = secret_key(
        app.config, development=test_config is not None or development(app))
    # No host app here whose request hooks the direct decision route would skip, nor whose
    # pages need their own error handling: every path answers as ours.
    app.config.setdefault("GOVERNANCE_DIRECT_DECISIONS", True)
    app.config[STANDALONE] = True
    db = SQLAlchemy()
    try:
        db.init_app(app)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port or option that is no value
        raise RuntimeError(f"GOVERNANCE_DATABASE_URL is not a usable SQLAlchemy URL (such as "
                           f"postgresql+psycopg://user@host/db): {exc}") from None
    login_manager = LoginManager()
    login_manager.init_app(app)
    Governance(app, db=db, login_manager=login_manager)
    app.add_url_rule("/", "console_root", lambda: redirect(url_for("governance_console.home")))
    return app


def development(app: Flask) -> bool:
    """Tests, debug mode and the ``flask`` command line (its commands sign nothing; ``flask
    run`` is the development server): a key made for this process will do. Anything else,
    such as gunicorn, serves people and needs GOVERNANCE_SECRET_KEY."""
    return app.testing or app.debug or os.environ.get("FLASK_RUN_FROM_CLI") == "true"


def engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        # WAL lets readers proceed while a decision's audit row is written; busy waits rather
        # than failing when two workers append at the same moment.
        return {"connect_args": {"timeout": 15}}
    return {"pool_pre_ping": True}
