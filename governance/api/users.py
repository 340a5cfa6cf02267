"""Disable and enable a user's account (manage scope, with ``actor``)."""
from __future__ import annotations

from flask import Blueprint, jsonify

from governance.api.http import json_input, require_key
from governance.extension import state
from governance.operations.escalations import escalation_document
from governance.operations.overrides import override_document
from governance.operations.users import DisableUser, EnableUser, UserChange, user_document

bp = Blueprint("governance_users", __name__, url_prefix="/api/v1")


@bp.post("/users/<user_id>/disable")
@require_key("manage")
def disable_user(user_id: str):
    return _change(DisableUser, user_id)


@bp.post("/users/<user_id>/enable")
@require_key("manage")
def enable_user(user_id: str):
    return _change(EnableUser, user_id)


def _change(operation: type[DisableUser] | type[EnableUser], user_id: str):
    data, st = json_input("actor", "reason"), state()
    change = operation(user_id, data.get("actor"), data.get("reason"), st.clock()
                       ).execute(st.session)
    return jsonify(_document(change, st.clock()))


def _document(change: UserChange, now) -> dict:  # noqa: ANN001
    return {**user_document(change.user),
            "revoked_overrides": [override_document(o, now) for o in change.revoked_overrides],
            "refused_requests": [override_document(o, now) for o in change.refused_requests],
            "refused_escalations": [escalation_document(e, now)
                                    for e in change.refused_escalations]}
