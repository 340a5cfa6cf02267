"""Migration 0008 gives rows that existed before it what ended them, from how they were ended:
an access review's revoke is the workflow's, a consent revoked or amended through the API is the
API's, everything else the file's; so the first apply after the upgrade respects them."""
from __future__ import annotations

from alembic import command
from sqlalchemy import text

from governance import audit, create_app
from governance.extension import state
from governance.migrate import alembic_config, upgrade_database
from tests.conftest import NOW, scratch_postgres

ROWS = [
    "INSERT INTO role_assignment (id, user_id, role_id, program_id, source, created_at, "
    "ended_at, ended_by) VALUES (1, 'sam', 'supervisor', 'housing', 'file', :now, :now, 'vera'),"
    " (2, 'ann', 'supervisor', 'housing', 'file', :now, :now, 'cli')",
    "INSERT INTO review_item (id, campaign_id, kind, user_id, assignment_id, status, decision, "
    "created_at) VALUES ('rvi_1', 'rvc_1', 'assignment', 'sam', 1, 'decided', 'revoke', :now)",
    "INSERT INTO consent (id, participant_id, partners, partner_types, purposes, fields, "
    "exclude_labels, status, version, source, created_at, revoked_at, revoked_by) VALUES "
    "('cns_api', 'p-100', '[]', '[]', '[]', '[]', '[]', 'revoked', 1, 'file', :now, :now, "
    "'alice'), ('cns_file', 'p-100', '[]', '[]', '[]', '[]', '[]', 'revoked', 1, 'file', :now, "
    ":now, 'cli')",
    "INSERT INTO consent (id, participant_id, partners, partner_types, purposes, fields, "
    "exclude_labels, status, version, source, created_at, ended_at) VALUES "
    "('cns_old', 'p-100', '[]', '[]', '[]', '[]', '[]', 'active', 1, 'file', :now, :now)",
    "INSERT INTO consent (id, participant_id, partners, partner_types, purposes, fields, "
    "exclude_labels, status, version, supersedes, source, created_at) VALUES "
    "('cns_new', 'p-100', '[]', '[]', '[]', '[]', '[]', 'active', 2, 'cns_old', 'api', :now)",
    "INSERT INTO user_account (id, active, source, created_at, updated_at) VALUES "
    "('lee', false, 'file', :now, :now)",
]


def _upgrade_and_read(url: str) -> dict:
    app = create_app({"GOVERNANCE_DATABASE_URL": url, "TESTING": True})
    with app.app_context():
        command.upgrade(alembic_config(), "0007")
        session = state(app).session
        for statement in ROWS:
            session.execute(text(statement), {"now": NOW})
        audit.append(session, "consent.revoked", {"consent": "cns_api"}, actor="alice",
                     ref="cns_api", at=NOW)
        session.commit()
        upgrade_database()
        read = {
            "assignments": session.execute(text(
                "SELECT id, ended_via, end_reason FROM role_assignment ORDER BY id")).all(),
            "consents": session.execute(text(
                "SELECT id, ended_via, end_reason, revoked_via FROM consent ORDER BY id")).all(),
            "users": session.execute(text(
                "SELECT id, disabled_via FROM user_account")).all()}
        session.remove()
        state(app).db.engine.dispose()
    return read


def test_existing_ends_get_what_ended_them(tmp_path, backend):
    if backend == "postgres":
        with scratch_postgres() as url:
            read = _upgrade_and_read(url)
    else:
        read = _upgrade_and_read(f"sqlite:///{tmp_path / 'old.sqlite'}")
    assert [tuple(r) for r in read["assignments"]] == [
        (1, "workflow", "access review rvc_1: revoke"),
        (2, "file", "no longer in the organisation file")]
    assert [tuple(r) for r in read["consents"]] == [
        ("cns_api", None, None, "api"),
        ("cns_file", None, None, "file"),
        ("cns_new", None, None, None),
        ("cns_old", "api", "amended: superseded by cns_new", None)]
    assert [tuple(r) for r in read["users"]] == [("lee", "file")]
