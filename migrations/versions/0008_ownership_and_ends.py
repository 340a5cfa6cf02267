"""Ownership: what ended each row, who disabled each account, and why.

Adds ``ended_via``/``end_reason`` to role assignments, involvements and consents (and
``ended_by`` to consents), ``revoked_via``/``revoke_reason`` to consents and
``disabled_at``/``_by``/``_via``/``_reason`` to users. Existing rows get them from how they were
ended: an assignment revoked by an access review by the workflow, a consent revoked or amended
through the API by the API, everything else the org file ended (or disabled) by the file.
Sources were already recorded (``source``): consents made through the API say ``api``.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ENDS = {"role_assignment": ("ended_via", "end_reason"),
        "involvement": ("ended_via", "end_reason"),
        "consent": ("ended_by", "ended_via", "end_reason", "revoked_via", "revoke_reason")}
USER = ("disabled_at", "disabled_by", "disabled_via", "disabled_reason")
SHORT = {"ended_via", "revoked_via", "disabled_via"}
NAMED = {"ended_by": 128, "disabled_by": 128}

BACKFILL = [
    # An access review's revoke (a reviewer, or the campaign's rule at its due date).
    "UPDATE role_assignment SET ended_via = 'workflow', end_reason = (SELECT "
    "'access review ' || i.campaign_id || ': revoke' FROM review_item i "
    "WHERE i.assignment_id = role_assignment.id AND i.decision = 'revoke' LIMIT 1) "
    "WHERE ended_at IS NOT NULL AND EXISTS (SELECT 1 FROM review_item i WHERE "
    "i.assignment_id = role_assignment.id AND i.decision = 'revoke')",
    "UPDATE role_assignment SET ended_via = 'file', end_reason = 'no longer in the "
    "organisation file' WHERE ended_at IS NOT NULL AND ended_via IS NULL",
    "UPDATE involvement SET ended_via = 'file', end_reason = 'no longer in the organisation "
    "file' WHERE ended_at IS NOT NULL",
    # A consent amended through the API was ended by its newer version.
    "UPDATE consent SET ended_via = 'api', end_reason = 'amended: superseded by ' || (SELECT "
    "n.id FROM consent n WHERE n.supersedes = consent.id LIMIT 1) WHERE ended_at IS NOT NULL "
    "AND EXISTS (SELECT 1 FROM consent n WHERE n.supersedes = consent.id)",
    "UPDATE consent SET ended_via = 'file', end_reason = 'no longer in the organisation file' "
    "WHERE ended_at IS NOT NULL AND ended_via IS NULL",
    # Revoked through the API (its audit row), else by the file (status: revoked).
    "UPDATE consent SET revoked_via = 'api' WHERE revoked_at IS NOT NULL AND EXISTS (SELECT 1 "
    "FROM audit_event e WHERE e.kind = 'consent.revoked' AND e.ref = consent.id)",
    "UPDATE consent SET revoked_via = 'file' WHERE revoked_at IS NOT NULL AND revoked_via IS NULL",
    "UPDATE user_account SET disabled_via = 'file', disabled_at = updated_at, "
    "disabled_reason = 'active: false in the organisation file' WHERE active = false",
]


def _column(name: str) -> sa.Column:
    if name in SHORT:
        kind = sa.String(length=16)
    elif name in NAMED:
        kind = sa.String(length=NAMED[name])
    elif name.endswith("_at"):
        kind = sa.DateTime()
    else:
        kind = sa.Text()
    return sa.Column(name, kind, nullable=True)


def upgrade():
    for table, columns in ENDS.items():
        for name in columns:
            op.add_column(table, _column(name))
    for name in USER:
        op.add_column("user_account", _column(name))
    for statement in BACKFILL:
        op.execute(statement)


def downgrade():
    for table, columns in [*ENDS.items(), ("user_account", USER)]:
        with op.batch_alter_table(table) as batch:
            for name in columns:
                batch.drop_column(name)
