"""GET /healthz: 200 when the store answers, 503 otherwise (no key needed)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from governance.api.http import error_response
from governance.extension import state
from governance.policy.loading import read_state

bp = Blueprint("governance_health", __name__)


@bp.get("/healthz")
def healthz():
    session = state().session
    try:
        session.execute(text("SELECT 1"))
        _, version = read_state(session)
        session.rollback()
    except SQLAlchemyError:
        try:
            session.rollback()
        except SQLAlchemyError:
            pass
        return error_response(503, "store_unavailable", "the store is unreachable")
    return jsonify({"status": "ok", "policy_version": version})
