"""Elevated access over the API (manage scope): overrides, break-glass, access reviews,
alerts. Views parse and format; operations write; notices go out after the commit."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from governance.api.audit_log import bounded_int
from governance.api.http import ApiError, json_input, require_key
from governance.extension import state
from governance.models import Override, ReviewCampaign
from governance.operations.alerts import alerts
from governance.operations.break_glass import (
    BreakGlass,
    BreakGlassRequest,
    CloseReviewItem,
    break_glass_document,
    closed_review_document,
)
from governance.operations.errors import NotFound
from governance.operations.override_requests import (
    DecideOverride,
    OverrideRequest,
    RequestOverride,
    RevokeOverride,
)
from governance.operations.overrides import override_document
from governance.operations.review_campaigns import (
    MAX_UNUSED_DAYS,
    CampaignRequest,
    OpenCampaign,
    campaign_document,
    campaign_items,
    item_document,
)
from governance.operations.review_items import DecideReviewItem

bp = Blueprint("governance_elevation", __name__, url_prefix="/api/v1")


@bp.post("/overrides")
@require_key("manage")
def request_override():
    data = json_input("actor", "program", "participant", "fields", "actions", "reason",
                      "minutes")
    st = state()
    operation = RequestOverride(data.get("actor"), OverrideRequest.from_json(data), st.clock(),
                                st.config["GOVERNANCE_MAX_OVERRIDE_MINUTES"],
                                notifier=st.notifier)
    return jsonify(override_document(operation.execute(st.session), st.clock())), 201


@bp.get("/overrides/<override_id>")
@require_key("manage")
def show_override(override_id: str):
    row = state().session.get(Override, override_id)
    if row is None:
        raise NotFound(f"no override '{override_id}'")
    return jsonify(override_document(row, state().clock()))


@bp.post("/overrides/<override_id>/<verdict>")
@require_key("manage")
def decide_override(override_id: str, verdict: str):
    data, st = json_input("actor", "note"), state()
    if verdict == "revoke":
        operation = RevokeOverride(override_id, data.get("actor"), data.get("note"), st.clock(),
                                   notifier=st.notifier)
        return jsonify(override_document(operation.execute(st.session), st.clock()))
    if verdict not in ("approve", "deny"):
        raise ApiError(404, "not_found", f"no such action '{verdict}'")
    operation = DecideOverride(override_id, data.get("actor"), verdict == "approve",
                               data.get("note"), st.clock(),
                               st.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"],
                               notifier=st.notifier)
    return jsonify(override_document(operation.execute(st.session), st.clock()))


@bp.post("/break-glass")
@require_key("manage")
def break_glass():
    data, st = json_input("actor", "participant", "program", "reason"), state()
    operation = BreakGlass(data.get("actor"), BreakGlassRequest.from_json(data), st.clock(),
                           st.config["GOVERNANCE_BREAK_GLASS_ALERT"], notifier=st.notifier)
    return jsonify(break_glass_document(operation.execute(st.session), st.clock())), 201


@bp.post("/break-glass/reviews/<item_id>/close")
@require_key("manage")
def close_break_glass_review(item_id: str):
    data, st = json_input("actor", "finding"), state()
    item = CloseReviewItem(item_id, data.get("actor"), data.get("finding"), st.clock()
                           ).execute(st.session)
    return jsonify(closed_review_document(item))


@bp.post("/reviews/campaigns")
@require_key("manage")
def open_review_campaign():
    data = json_input("actor", "roles", "programs", "due", "on_no_decision", "unused_days")
    st = state()
    opened = OpenCampaign(data.get("actor"), CampaignRequest.from_json(data), st.clock(),
                          notifier=st.notifier).execute(st.session)
    return jsonify(campaign_document(opened.campaign, opened.items)), 201


@bp.get("/reviews/campaigns/<campaign_id>")
@require_key("manage")
def show_review_campaign(campaign_id: str):
    session = state().session
    campaign = session.get(ReviewCampaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no review campaign '{campaign_id}'")
    return jsonify(campaign_document(campaign, campaign_items(session, campaign_id)))


@bp.post("/reviews/items/<item_id>/decide")
@require_key("manage")
def decide_review_item(item_id: str):
    data, st = json_input("actor", "decision", "note"), state()
    item = DecideReviewItem(item_id, data.get("actor"), data.get("decision"), data.get("note"),
                            st.clock(), notifier=st.notifier).execute(st.session)
    return jsonify(item_document(item))


@bp.get("/alerts")
@require_key("manage")
def compliance_alerts():
    st = state()
    days = bounded_int("unused_days", request.args.get("unused_days", "30"), 0,
                       MAX_UNUSED_DAYS)
    return jsonify(alerts(st.session, st.clock(), unused_days=days,
                          break_glass_threshold=st.config["GOVERNANCE_BREAK_GLASS_ALERT"]))
