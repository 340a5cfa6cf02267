"""Policy change feed (incremental snapshot patches) and one-round-trip audit appends.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# One statement appends a batch of audit rows: it locks the chain's head, links each row to the
# previous one (sha256 of "prev_hash:seq:content_digest", the same formula governance.audit uses
# to verify) and moves the head. Called in autocommit mode it is also its own durable commit.
APPEND_FUNCTION = """
CREATE OR REPLACE FUNCTION governance_audit_append(rows jsonb) RETURNS bigint AS $$
DECLARE
  head_seq bigint;
  head_hash text;
  r jsonb;
  link text;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1 FOR UPDATE;
  FOR r IN SELECT value FROM jsonb_array_elements(rows) LOOP
    head_seq := head_seq + 1;
    link := encode(sha256(convert_to(head_hash || ':' || head_seq || ':' || (r->>'digest'),
                                     'UTF8')), 'hex');
    INSERT INTO audit_event (seq, at, kind, actor, subject, participant, ref, payload,
                             prev_hash, hash)
    VALUES (head_seq, (r->>'at')::timestamp, r->>'kind', r->>'actor', r->>'subject',
            r->>'participant', r->>'ref', r->>'payload', head_hash, link);
    head_hash := link;
  END LOOP;
  UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE id = 1;
  RETURN head_seq;
END
$$ LANGUAGE plpgsql
"""


def upgrade():
    op.create_table(
        "policy_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_change")),
    )
    op.create_index("ix_policy_change_revision", "policy_change", ["revision"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS governance_audit_append(jsonb)")
    op.drop_index("ix_policy_change_revision", table_name="policy_change")
    op.drop_table("policy_change")
