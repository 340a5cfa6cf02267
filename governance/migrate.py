"""Schema management: Alembic migrations in ``migrations/`` (our tables only, own version table)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from flask import Flask
from flask_migrate import Migrate
from sqlalchemy import inspect

from governance.resources import resource_path

VERSION_TABLE = "governance_alembic_version"


def register_migrations(app: Flask, db) -> None:
    """Standalone apps get ``flask db upgrade``; a host with its own Flask-Migrate keeps it."""
    if "migrate" not in app.extensions:
        Migrate(app, db, directory=str(resource_path("migrations")))


def alembic_config() -> Config:
    folder = resource_path("migrations")
    config = Config(str(folder / "alembic.ini"))
    config.set_main_option("script_location", str(folder))
    return config


def upgrade_database() -> None:
    """Bring the schema to the newest revision (inside an app context)."""
    command.upgrade(alembic_config(), "head")


def schema_is_current(engine) -> bool:
    return inspect(engine).has_table(VERSION_TABLE)
