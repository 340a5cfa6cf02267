"""The migrations build exactly the tables and columns the models declare (on both stores), so
a column added to a model without its migration fails here, not in production."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from governance.db import Base
from governance.extension import state
from governance.migrate import upgrade_database


def _column_changes(diff: list) -> list:
    """Added or removed tables and columns (types and server defaults differ by dialect)."""
    flat = [d for entry in diff for d in (entry if isinstance(entry, list) else [entry])]
    return [d[:3] if d[0] in ("add_column", "remove_column") else d[:2]
            for d in flat if d[0] in ("add_table", "remove_table", "add_column",
                                      "remove_column")]


def test_migrated_schema_matches_the_models(app):
    with app.app_context():
        upgrade_database()
        with state(app).db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "include_name": lambda name, kind, _parent: kind != "table"
                or not name.startswith("governance_alembic")})
            changes = _column_changes(compare_metadata(context, Base.metadata))
    assert changes == []
