"""Directory sync and sign-in.

Roles get ``console`` powers; a directory group mapping may be ``authoritative``; users record
their directory entry (stable id and DN) and their sign-in failures and lock; ``directory_sync``
keeps where the last sync left off.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("role") as batch:
        batch.add_column(sa.Column("console", sa.JSON(), nullable=True))
    with op.batch_alter_table("directory_group_role") as batch:
        batch.add_column(sa.Column("authoritative", sa.Boolean(), nullable=True))
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("directory_uuid", sa.String(64), nullable=True))
        batch.add_column(sa.Column("directory_dn", sa.Text(), nullable=True))
        batch.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("failures_since", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("last_sign_in_at", sa.DateTime(), nullable=True))
        batch.create_unique_constraint("uq_user_account_directory_uuid", ["directory_uuid"])
    op.execute("UPDATE role SET console = '[]'")
    op.execute("UPDATE directory_group_role SET authoritative = false")
    op.execute("UPDATE user_account SET failed_sign_ins = 0")
    op.create_table(
        "directory_sync",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("server", sa.Text(), nullable=True),
        sa.Column("high_water", sa.String(64), nullable=True),
        sa.Column("last_full_at", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_directory_sync"),
    )


def downgrade() -> None:
    op.drop_table("directory_sync")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_constraint("uq_user_account_directory_uuid", type_="unique")
        for column in ("last_sign_in_at", "locked_until", "failures_since", "failed_sign_ins",
                       "directory_dn", "directory_uuid"):
            batch.drop_column(column)
    with op.batch_alter_table("directory_group_role") as batch:
        batch.drop_column("authoritative")
    with op.batch_alter_table("role") as batch:
        batch.drop_column("console")
