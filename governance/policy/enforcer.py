"""Casbin enforcer wiring: the model file from ``rbac_models/`` and the session adapter."""
from __future__ import annotations

from datetime import datetime

import casbin

from governance.policy.adapter import SessionAdapter
from governance.policy.patterns import field_match
from governance.resources import resource_path

MODEL_FILE = "field_rbac.conf"


def new_enforcer(session, *, membership: bool = False, now: datetime | None = None
                 ) -> casbin.Enforcer:
    """An enforcer over our tables. ``membership`` also loads the assignments and involvements
    active at ``now`` (the reference path used to cross-check the compiled snapshot)."""
    enforcer = casbin.Enforcer(str(resource_path("rbac_models", MODEL_FILE)),
                               SessionAdapter(session, membership=membership, now=now))
    enforcer.add_function("fieldMatch", field_match)
    enforcer.enable_auto_save(True)
    return enforcer

