"""The console's organisation file uploads, and audit indexes for reading the trail by person.

``org_file_upload`` keeps an uploaded organisation file by its SHA-256 between its review (the
dry-run plan) and its apply, so the apply runs exactly the reviewed text, from any worker, even
after the administrator had to sign in again.

The audit page lists events newest first, filtered by a user (actor or subject) or a
participant: ``actor`` gets an index, and the subject and participant indexes carry ``seq`` so
that such a page is one index range read on PostgreSQL too (SQLite's indexes carry the row id,
which is ``seq``, already).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BY_PERSON = (("ix_audit_event_subject", "subject"), ("ix_audit_event_participant", "participant"))


def upgrade() -> None:
    op.create_table(
        "org_file_upload",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_org_file_upload"),
    )
    op.create_index("ix_org_file_upload_uploaded_at", "org_file_upload", ["uploaded_at"])
    op.create_index("ix_audit_event_actor", "audit_event", ["actor", "seq"])
    for name, column in BY_PERSON:
        op.drop_index(name, table_name="audit_event")
        op.create_index(name, "audit_event", [column, "seq"])


def downgrade() -> None:
    for name, column in BY_PERSON:
        op.drop_index(name, table_name="audit_event")
        op.create_index(name, "audit_event", [column])
    op.drop_index("ix_audit_event_actor", table_name="audit_event")
    op.drop_index("ix_org_file_upload_uploaded_at", table_name="org_file_upload")
    op.drop_table("org_file_upload")
