"""GET /api/v1/openapi.json: the OpenAPI 3.1 description of every endpoint."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, jsonify, request

bp = Blueprint("governance_openapi", __name__, url_prefix="/api/v1")
SPEC_FILE = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def load_spec() -> dict:
    return json.loads(SPEC_FILE.read_text())


@bp.get("/openapi.json")
def openapi():
    spec = dict(load_spec())
    spec["servers"] = [{"url": request.host_url.rstrip("/")}]
    return jsonify(spec)
