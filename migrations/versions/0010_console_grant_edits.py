"""Console edits of the role matrix.

``console_grant_edit`` records each grant line the console's role matrix added or removed, so a
later apply of the org file reports it as a conflict instead of undoing it (contract sections 2
and 9), until the file agrees or the apply is given ``--replace-console-edits``.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_grant_edit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("field_pattern", sa.String(255), nullable=False),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("made_by", sa.String(128), nullable=False),
        sa.Column("policy_version", sa.String(32), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_by", sa.String(128), nullable=True),
        sa.Column("ended_via", sa.String(16), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_grant_edit"),
    )
    with op.batch_alter_table("console_grant_edit") as batch:
        batch.create_index("ix_console_grant_edit_line",
                           ["role_id", "action", "field_pattern", "ended_at"], unique=False)


def downgrade() -> None:
    op.drop_table("console_grant_edit")
