"""PostgreSQL: append audit rows without holding the chain's head through the WAL flush.

``governance_audit_append`` locks the single ``audit_head`` row, and a row lock is held until
its transaction ends, which with synchronous commit means until the WAL is flushed: appends from
different workers and instances then flush one after another. This procedure commits the append
asynchronously (the lock goes at once) and then commits a second transaction that writes a
WAL record, which cannot end before everything logged before it (the appended rows included)
is on disk; concurrent callers' flushes are grouped by the server. The caller returns only once
its rows are durable, as before.

Revision ID: 0005
Revises: 0004
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

DURABLE_APPEND = """
CREATE OR REPLACE PROCEDURE governance_audit_append_durable(rows jsonb) AS $$
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM governance_audit_append(rows);
  COMMIT;
  -- A transactional WAL record makes the closing commit wait for the flush.
  PERFORM pg_logical_emit_message(true, 'governance_audit', 'flush');
END
$$ LANGUAGE plpgsql
"""


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(DURABLE_APPEND)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP PROCEDURE IF EXISTS governance_audit_append_durable(jsonb)")
