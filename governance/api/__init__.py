"""The JSON API: enforcement (decisions, filtering, AuthZEN), audit, health, OpenAPI."""
from __future__ import annotations

from flask import Flask

from governance.api import (
    audit_log,
    authzen,
    decisions,
    elevation,
    health,
    http,
    openapi,
    users,
    workflows,
)


def register_api(app: Flask) -> None:
    for blueprint in (decisions.bp, audit_log.bp, authzen.bp, health.bp, openapi.bp,
                      workflows.bp, elevation.bp, users.bp):
        app.register_blueprint(blueprint)
    http.install(app)
