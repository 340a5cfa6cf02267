"""Alembic environment: runs against the Governance extension's engine, our metadata only."""
from __future__ import annotations

from alembic import context

import governance.models  # noqa: F401  (registers every table on the metadata)
from governance.db import Base
from governance.extension import state
from governance.migrate import VERSION_TABLE


def run_migrations_online() -> None:
    engine = state().db.engine
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata,
                          version_table=VERSION_TABLE, render_as_batch=True,
                          compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; run `flask --app wsgi db upgrade`.")
run_migrations_online()
