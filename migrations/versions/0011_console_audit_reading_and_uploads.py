"""The console's organisation file uploads, and audit indexes for reading the trail by time.

``org_file_upload`` keeps an uploaded organisation file by its SHA-256 between its review (the
dry-run plan) and its apply, so the apply runs exactly the reviewed text, from any worker, even
after the administrator had to sign in again.

The console's audit page lists events newest first, filtered by a user (actor or subject), a
participant, a kind or a time range, each page one index range read however long the trail:
a person's events in chain order (``actor`` is new; ``subject`` and ``participant`` are rebuilt
with ``seq``, which SQLite's indexes carried already as the row id), a kind's or a time range's
by time (``kind_at`` is rebuilt with ``seq``; ``at`` is new).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# name -> (columns before, columns after)
REBUILT = {"ix_audit_event_subject": (["subject"], ["subject", "seq"]),
           "ix_audit_event_participant": (["participant"], ["participant", "seq"]),
           "ix_audit_event_kind_at": (["kind", "at"], ["kind", "at", "seq"])}
NEW = {"ix_audit_event_actor": ["actor", "seq"], "ix_audit_event_at": ["at", "seq"]}


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
    for name, (_before, after) in REBUILT.items():
        op.drop_index(name, table_name="audit_event")
        op.create_index(name, "audit_event", after)
    for name, columns in NEW.items():
        op.create_index(name, "audit_event", columns)


def downgrade() -> None:
    for name in NEW:
        op.drop_index(name, table_name="audit_event")
    for name, (before, _after) in REBUILT.items():
        op.drop_index(name, table_name="audit_event")
        op.create_index(name, "audit_event", before)
    op.drop_index("ix_org_file_upload_uploaded_at", table_name="org_file_upload")
    op.drop_table("org_file_upload")
