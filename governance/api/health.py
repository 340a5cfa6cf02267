"""GET /healthz: 200 only when a decision could be answered now, 503 otherwise (no key needed).

It reports each part a decision needs: the store, the audit trail (probed by an append of no
rows that is rolled back, so a missing head or a key mismatch shows here before a decision
fails), the audit writer's last failure, the change listener and how far this process's policy
snapshot is behind the store.
"""
from __future__ import annotations

from flask import Blueprint

from governance import jsontext
from governance.audit import write_rows
from governance.db import release_session
from governance.extension import state
from governance.policy.engine import REVISION_SQL

bp = Blueprint("governance_health", __name__)


@bp.get("/healthz")
def healthz():
    governance = state()
    session = governance.session
    checks: dict[str, object] = {}
    ok = True
    try:
        connection = session.connection()
        store_revision = connection.exec_driver_sql(REVISION_SQL).scalar() or 0
        checks["store"] = "ok"
        try:
            write_rows(connection, [])
            checks["audit_trail"] = "ok"
        except Exception as exc:  # noqa: BLE001 - whatever stops an append stops decisions
            ok, checks["audit_trail"] = False, f"cannot append: {_first_line(exc)}"
        session.rollback()
        snapshot = governance.snapshot()
        checks["policy_snapshot"] = {"revision": snapshot.revision,
                                     "store_revision": store_revision,
                                     "behind": max(0, store_revision - snapshot.revision)}
    except Exception as exc:  # noqa: BLE001 - unreachable store, or a snapshot it cannot give
        ok = False
        checks.setdefault("store", f"unreachable: {_first_line(exc)}")
        release_session(session)
        snapshot = None
    writer = governance.writer
    checks["audit_writer"] = ("ok" if writer.healthy
                              else f"last append failed: {writer.last_error}")
    if writer.failing_now():
        ok = False
    checks["audit_key"] = ("set" if governance.audit_key is not None else
                           "not set: the chain is not keyed (GOVERNANCE_AUDIT_KEY)")
    listener = governance.engine.listener
    if listener is not None:
        checks["change_listener"] = ("listening" if listener.healthy()
                                     else "reconnecting: revisions are read from the store")
    body = {"status": "ok" if ok else "unavailable", "checks": checks,
            "policy_version": snapshot.version if snapshot is not None else None}
    if not ok:
        body["error"] = {"code": "store_unavailable",
                         "message": "a decision could not be answered now", "details": checks}
    return jsontext.response(body, 200 if ok else 503)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]

