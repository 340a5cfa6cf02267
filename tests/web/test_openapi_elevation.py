"""The elevated-access endpoints (overrides, break-glass, access reviews, alerts) answer what
the OpenAPI document declares: real requests, checked as in test_openapi.py."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from governance.extension import state
from governance.models import ReviewItem
from tests.web.test_openapi import (
    assert_unreachable_store_is_a_documented_503,
)
from tests.web.test_openapi_workflows import case, details, run_documented_case, status_is

OVERRIDE_REQUEST = {"actor": "alice", "program": "housing", "participant": "p-100",
                    "fields": ["clinical.diagnosis"], "actions": ["view"],
                    "reason": "crisis plan needs the diagnosis", "minutes": 60}
NICK_REQUEST = {"actor": "nick", "program": "housing", "fields": ["risk.*"],
                "actions": ["export"], "reason": "safety audit", "minutes": 120}
BREAK_GLASS = {"actor": "alice", "participant": "p-100", "program": "housing",
               "reason": "overdose, need the safety plan"}
CAMPAIGN_REQUEST = {"actor": "rita", "programs": ["housing"], "due": "2026-12-31",
                    "on_no_decision": "revoke"}

PENDING, ACTIVE = "/api/v1/overrides/{pending}", "/api/v1/overrides/{active}"
REVIEW = "/api/v1/break-glass/reviews/{review}/close"
CAMPAIGN = "/api/v1/reviews/campaigns/{campaign}"
NICK_ITEM, SAM_ITEM = "/api/v1/reviews/items/{nick_item}", "/api/v1/reviews/items/{sam_item}"
# Steps some cases take first (each must succeed); "{last}" is then the id they answered.
APPROVE = ("post", PENDING + "/approve", {"actor": "sam"})
CLOSE = ("post", REVIEW, {"actor": "sam", "finding": "justified"})
DECIDE = ("post", NICK_ITEM + "/decide", {"actor": "sam", "decision": "revoke"})
GLASS = ("post", "/api/v1/break-glass", BREAK_GLASS)


def active_until(expires_at):
    return lambda r: (r.json["status"] == "active" and r.json["resolved_by"] == "sam"
                      and r.json["approved_at"] == "2026-11-23T12:00:00Z"
                      and r.json["expires_at"] == expires_at)


def items_of(r) -> dict:
    return {(i["user"], i["kind"]): i for i in r.json["items"]}


CASES = [
    # -- overrides
    case("override-request", "post", "/api/v1/overrides", OVERRIDE_REQUEST, 201,
         lambda r: r.json["status"] == "pending" and r.json["kind"] == "override"
         and r.json["requester"] == "alice" and r.json["expires_at"] is None),
    case("override-request-pattern", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "participant": None, "fields": ["clinical.*"],
          "actions": ["view", "export", "view"]}, 201,
         lambda r: r.json["participant"] is None and r.json["actions"] == ["export", "view"]),
    case("override-minutes-over-cap", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "minutes": 481}, 422,
         lambda r: r.json["error"]["details"] == {"minutes": "at most 480"}),
    case("override-no-reason", "post", "/api/v1/overrides",
         {k: v for k, v in OVERRIDE_REQUEST.items() if k != "reason"}, 400, details("reason")),
    case("override-bad-members", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "program": "nowhere", "fields": ["nothing.*"],
          "actions": ["dance"], "minutes": 0}, 400,
         details("program", "fields", "actions", "minutes")),
    case("override-participant-not-enrolled", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "participant": "p-300"}, 400, details("participant")),
    case("override-no-role-in-program", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "actor": "dana"}, 422, details("actor")),
    case("override-inactive-actor", "post", "/api/v1/overrides",
         {**OVERRIDE_REQUEST, "actor": "lee"}, 422, details("actor")),
    case("override-content-type", "post", "/api/v1/overrides", ("actor=alice", "text/plain"),
         400, lambda r: r.json["error"]["code"] == "bad_content_type"),
    case("override-no-key", "post", "/api/v1/overrides", OVERRIDE_REQUEST, 401, auth=None),
    case("override-decide-only", "post", "/api/v1/overrides", OVERRIDE_REQUEST, 403,
         auth="decide"),
    case("override-get", "get", PENDING, None, 200, status_is("pending")),
    case("override-get-active", "get", ACTIVE, None, 200, active_until("2026-11-23T14:00:00Z")),
    case("override-get-break-glass", "get", "/api/v1/overrides/{glass}", None, 200,
         lambda r: r.json["kind"] == "break_glass" and r.json["status"] == "active"),
    case("override-get-unknown", "get", "/api/v1/overrides/ovr_nope", None, 404),
    case("override-approve", "post", PENDING + "/approve", {"actor": "sam", "note": "ok"}, 200,
         lambda r: active_until("2026-11-23T13:00:00Z")(r) and r.json["note"] == "ok"),
    case("override-deny", "post", PENDING + "/deny", {"actor": "sam", "note": " "}, 200,
         lambda r: r.json["status"] == "denied" and r.json["note"] is None
         and r.json["approved_at"] is None),
    case("override-self-approval", "post", PENDING + "/approve", {"actor": "alice"}, 422,
         lambda r: r.json["error"]["details"] == {"actor": "is the requester"}),
    case("override-expired-approver", "post", PENDING + "/approve", {"actor": "olga"}, 422,
         details("actor")),
    case("override-approve-twice", "post", PENDING + "/approve", {"actor": "sam"}, 409,
         details("status"), before=[APPROVE]),
    case("override-deny-approved", "post", ACTIVE + "/deny", {"actor": "sam"}, 409,
         details("status")),
    case("override-decision-no-actor", "post", PENDING + "/approve", {"note": "ok"}, 400,
         details("actor")),
    case("override-unknown-verdict", "post", PENDING + "/maybe", {"actor": "sam"}, 404),
    case("override-unknown", "post", "/api/v1/overrides/ovr_nope/approve", {"actor": "sam"},
         404),
    case("override-revoke-by-holder", "post", ACTIVE + "/revoke",
         {"actor": "nick", "note": "done early"}, 200,
         lambda r: r.json["status"] == "revoked" and r.json["resolved_by"] == "nick"),
    case("override-revoke-by-approver", "post", ACTIVE + "/revoke", {"actor": "sam"}, 200,
         status_is("revoked")),
    case("override-revoke-by-another", "post", ACTIVE + "/revoke", {"actor": "alice"}, 422,
         details("actor")),
    case("override-revoke-pending", "post", PENDING + "/revoke", {"actor": "alice"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "pending"}),
    # -- break-glass
    case("break-glass", "post", "/api/v1/break-glass", {**BREAK_GLASS, "actor": "nick"}, 201,
         lambda r: r.json["status"] == "active" and r.json["kind"] == "break_glass"
         and r.json["fields"] == ["*"] and r.json["obligations"] == ["post_hoc_review"]
         and r.json["expires_at"] == "2026-11-23T13:00:00Z"
         and r.json["uses_in_30_days"] == 1 and r.json["flagged"] is False),
    case("break-glass-flagged", "post", "/api/v1/break-glass", BREAK_GLASS, 201,
         lambda r: r.json["uses_in_30_days"] == 3 and r.json["flagged"] is True,
         before=[GLASS]),
    case("break-glass-no-reason", "post", "/api/v1/break-glass",
         {**BREAK_GLASS, "reason": ""}, 400, details("reason")),
    case("break-glass-not-enrolled", "post", "/api/v1/break-glass",
         {**BREAK_GLASS, "participant": "p-300"}, 400, details("participant")),
    case("break-glass-no-role", "post", "/api/v1/break-glass", {**BREAK_GLASS, "actor": "dana"},
         422, details("actor")),
    case("break-glass-not-an-object", "post", "/api/v1/break-glass", [BREAK_GLASS], 400),
    case("break-glass-no-key", "post", "/api/v1/break-glass", BREAK_GLASS, 401, auth=None),
    case("break-glass-review", "post", REVIEW, {"actor": "sam", "finding": "justified"}, 200,
         lambda r: r.json["status"] == "closed" and r.json["reviewed_by"] == "sam"
         and r.json["override"].startswith("brk_")),
    case("break-glass-review-own", "post", REVIEW, {"actor": "alice", "finding": "fine"}, 422,
         lambda r: r.json["error"]["details"] == {"actor": "is the user"}),
    case("break-glass-review-not-a-reviewer", "post", REVIEW,
         {"actor": "rita", "finding": "fine"}, 422, details("actor")),
    case("break-glass-review-no-finding", "post", REVIEW, {"actor": "sam"}, 400,
         details("finding")),
    case("break-glass-review-twice", "post", REVIEW, {"actor": "sam", "finding": "again"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "closed"}, before=[CLOSE]),
    case("break-glass-review-campaign-item", "post",
         "/api/v1/break-glass/reviews/{nick_item}/close", {"actor": "sam", "finding": "x"}, 404),
    case("break-glass-review-unknown", "post", "/api/v1/break-glass/reviews/rvi_nope/close",
         {"actor": "sam", "finding": "x"}, 404),
    # -- access reviews
    case("campaign-open", "post", "/api/v1/reviews/campaigns", CAMPAIGN_REQUEST, 201,
         lambda r: r.json["status"] == "open" and r.json["due"] == "2026-12-31T00:00:00Z"
         and items_of(r)[("sam", "assignment")]["role"] == "supervisor"
         and items_of(r)[("nick", "override")]["status"] == "open"),
    case("campaign-open-roles", "post", "/api/v1/reviews/campaigns",
         {"actor": "rita", "roles": ["supervisor"], "due": "2026-12-31T17:00:00Z",
          "on_no_decision": "keep", "unused_days": 7}, 201,
         lambda r: r.json["roles"] == ["supervisor"] and r.json["programs"] == []
         and ("sam", "assignment") in items_of(r)),
    case("campaign-past-due", "post", "/api/v1/reviews/campaigns",
         {**CAMPAIGN_REQUEST, "due": "2026-11-01"}, 400, details("due")),
    case("campaign-bad-due", "post", "/api/v1/reviews/campaigns",
         {**CAMPAIGN_REQUEST, "due": "soon"}, 400, details("due")),
    case("campaign-bad-on-no-decision", "post", "/api/v1/reviews/campaigns",
         {**CAMPAIGN_REQUEST, "on_no_decision": "ignore"}, 400, details("on_no_decision")),
    case("campaign-inactive-actor", "post", "/api/v1/reviews/campaigns",
         {**CAMPAIGN_REQUEST, "actor": "lee"}, 422, details("actor")),
    case("campaign-decide-only", "post", "/api/v1/reviews/campaigns", CAMPAIGN_REQUEST, 403,
         auth="decide"),
    case("campaign-get", "get", CAMPAIGN, None, 200,
         lambda r: {i["status"] for i in r.json["items"]} == {"open"}),
    case("campaign-get-decided", "get", CAMPAIGN, None, 200,
         lambda r: items_of(r)[("nick", "override")]["decision"] == "revoke",
         before=[DECIDE]),
    case("campaign-get-unknown", "get", "/api/v1/reviews/campaigns/rvc_nope", None, 404),
    case("item-revoke", "post", NICK_ITEM + "/decide",
         {"actor": "sam", "decision": "revoke", "note": "no longer needed"}, 200,
         lambda r: r.json["status"] == "decided" and r.json["decision"] == "revoke"
         and r.json["decided_by"] == "sam"),
    case("item-revoke-ends-override", "get", ACTIVE, None, 200, status_is("revoked"),
         before=[DECIDE]),
    case("item-keep", "post", NICK_ITEM + "/decide", {"actor": "sam", "decision": "keep"}, 200,
         lambda r: r.json["decision"] == "keep" and r.json["note"] is None),
    case("item-self-review", "post", SAM_ITEM + "/decide",
         {"actor": "sam", "decision": "keep"}, 422,
         lambda r: r.json["error"]["details"] == {"actor": "is the reviewed user"}),
    case("item-not-a-reviewer", "post", NICK_ITEM + "/decide",
         {"actor": "rita", "decision": "keep"}, 422, details("actor")),
    case("item-bad-decision", "post", NICK_ITEM + "/decide",
         {"actor": "sam", "decision": "maybe"}, 400, details("decision")),
    case("item-decided-twice", "post", NICK_ITEM + "/decide",
         {"actor": "sam", "decision": "keep"}, 409,
         lambda r: r.json["error"]["details"] == {"status": "decided"}, before=[DECIDE]),
    case("item-break-glass-review", "post", "/api/v1/reviews/items/{review}/decide",
         {"actor": "sam", "decision": "keep"}, 404),
    case("item-unknown", "post", "/api/v1/reviews/items/rvi_nope/decide",
         {"actor": "sam", "decision": "keep"}, 404),
    case("item-no-key", "post", NICK_ITEM + "/decide", {"actor": "sam", "decision": "keep"},
         401, auth=None),
    # -- alerts
    case("alerts", "get", "/api/v1/alerts", None, 200,
         lambda r: [a["user"] for a in r.json["elevated_never_reviewed"]] == ["sam"]
         and "unused_for_30_days" in r.json and r.json["frequent_break_glass"] == []),
    case("alerts-frequent-break-glass", "get", "/api/v1/alerts", None, 200,
         lambda r: r.json["frequent_break_glass"] == [{"user": "alice", "uses_in_30_days": 3}],
         before=[GLASS, GLASS]),
    case("alerts-unused-days", "get", "/api/v1/alerts?unused_days=7", None, 200,
         lambda r: "unused_for_7_days" in r.json and "unused_for_30_days" not in r.json),
    case("alerts-bad-unused-days", "get", "/api/v1/alerts?unused_days=week", None, 400),
    case("alerts-no-key", "get", "/api/v1/alerts", None, 401, auth=None),
    case("alerts-decide-only", "get", "/api/v1/alerts", None, 403, auth="decide"),
]


@pytest.fixture
def ids(org_app, api) -> dict:
    """Objects the cases act on: alice's pending override, nick's active one (approved by sam
    for 120 minutes), a campaign over housing with an item for each (sam's supervisor
    assignment, nick's override), and alice's break-glass use with its open review."""
    def post(url, body, status=201):
        response = api.post(url, json=body)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json

    made = {"pending": post("/api/v1/overrides", OVERRIDE_REQUEST)["id"],
            "active": post("/api/v1/overrides", NICK_REQUEST)["id"]}
    post(f"/api/v1/overrides/{made['active']}/approve", {"actor": "sam"}, 200)
    campaign = post("/api/v1/reviews/campaigns", CAMPAIGN_REQUEST)
    items = {i["user"]: i["id"] for i in campaign["items"]}
    made |= {"campaign": campaign["id"], "sam_item": items["sam"], "nick_item": items["nick"]}
    made["glass"] = post("/api/v1/break-glass", BREAK_GLASS)["id"]
    with org_app.app_context():  # the API answers no id for the review the use opened
        made["review"] = state(org_app).session.scalar(
            select(ReviewItem.id).where(ReviewItem.override_id == made["glass"]))
    return made


@pytest.mark.parametrize("method,url,body,status,check,before,auth", CASES)
def test_real_response_matches_the_document(api, org_app, ids, method, url, body, status,
                                            check, before, auth):
    run_documented_case(api, org_app, ids, method, url, body, status, check, before, auth)


@pytest.mark.parametrize("method,path,body", [
    ("post", "/api/v1/overrides", OVERRIDE_REQUEST), ("get", "/api/v1/alerts", None),
    ("post", "/api/v1/reviews/items/rvi_x/decide", {"actor": "sam", "decision": "keep"})])
def test_unreachable_store_is_a_documented_503(method, path, body):
    assert_unreachable_store_is_a_documented_503(method, path, body)
