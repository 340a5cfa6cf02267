"""The JSON API: enforcement (decisions, filtering, AuthZEN), audit, health, OpenAPI."""
from __future__ import annotations

from flask import Blueprint, Flask

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

BLUEPRINTS: tuple[Blueprint, ...] = (decisions.bp, audit_log.bp, authzen.bp, health.bp,
                                     openapi.bp, workflows.bp, elevation.bp, users.bp)

# Our JSON errors belong to our blueprints (set once, before any app registers them), so a
# host app's own error pages and handlers answer the host's paths.
for _blueprint in BLUEPRINTS:
    http.register_json_errors(_blueprint)


def register_api(app: Flask) -> tuple[Blueprint, ...]:
    """Register the API blueprints and their plumbing on ``app``; returns the blueprints."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    http.install(app)
    return BLUEPRINTS
