"""Numbers in queries and bodies have a stated range (contract section 7): outside it, or not
an integer, the answer is a 400 naming the member, never a 500 (a date that many days back
overflows); inside it, the endpoint answers as usual. The ranges are the OpenAPI document's."""
from __future__ import annotations

import json

import pytest

from governance.api.openapi import SPEC_FILE

SPEC = json.loads(SPEC_FILE.read_text())
OVERRIDE = {"actor": "nick", "program": "housing", "participant": "p-100",
            "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
            "minutes": 60}
CAMPAIGN = {"actor": "rita", "programs": ["housing"], "due": "2026-12-31",
            "on_no_decision": "revoke"}
ALERTS = "/api/v1/alerts"
CONSENTS = "/api/v1/consents"
AUDIT = "/api/v1/audit"
SAMPLE = "/api/v1/disclosures/sample-audit"
ACCOUNTING = "/api/v1/participants/p-100/accounting"

# (query parameter, path, lowest, highest): every integer a view reads from a query string.
QUERY_RANGES = [
    ("unused_days", ALERTS, 0, 3650),
    ("expiring_within_days", CONSENTS, 1, 3650),
    ("after", AUDIT, 0, 2**63 - 1),
    ("limit", AUDIT, 1, 1000),
    ("size", SAMPLE, 1, 1000),
    ("seed", SAMPLE, 0, 2**31 - 1),
]
# (member, path, body, lowest, highest, the status a valid value answers)
BODY_RANGES = [
    ("minutes", "/api/v1/overrides", OVERRIDE, 1, 525600, 201),
    ("unused_days", "/api/v1/reviews/campaigns", CAMPAIGN, 0, 3650, 201),
]


def refused(response, name: str, problem: str | None = None) -> None:
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    error = response.json["error"]
    assert error["code"] == "invalid_request"
    assert name in error["details"], error
    assert error["message"].startswith(f"{name}: ")
    if problem:
        assert error["details"][name] == problem


def declared(path: str, method: str, name: str) -> dict:
    """The schema the OpenAPI document declares for a query parameter or a body member."""
    operation = SPEC["paths"][path.replace("p-100", "{participant_id}")][method]
    for parameter in operation.get("parameters", []):
        if parameter.get("name") == name:
            return parameter["schema"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"][name]


@pytest.mark.parametrize("name,path,low,high", QUERY_RANGES, ids=[q[0] for q in QUERY_RANGES])
def test_query_integers_outside_their_range_are_a_named_400(api, name, path, low, high):
    problem = f"must be an integer from {low} to {high}"
    for value in (low - 1, high + 1, 287112389 * 10**12, -(10**30), "x", "1.5", "", " 5",
                  "+5", "1_0", "\u0665", "9" * 5000):
        refused(api.get(path, query_string={name: value}), name, problem)
    for value in (low, high):
        response = api.get(path, query_string={name: value})
        assert response.status_code == 200, (value, response.get_data(as_text=True))


@pytest.mark.parametrize("name,path,low,high", QUERY_RANGES, ids=[q[0] for q in QUERY_RANGES])
def test_query_ranges_are_documented(name, path, low, high):
    schema = declared(path, "get", name)
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", low, high)


def test_the_reported_alerts_overflow_is_a_400(api):
    refused(api.get("/api/v1/alerts?unused_days=287112389"), "unused_days",
            "must be an integer from 0 to 3650")
    assert "unused_for_3650_days" in api.get("/api/v1/alerts?unused_days=3650").json


@pytest.mark.parametrize("name,path,body,low,high,status", BODY_RANGES,
                         ids=[b[1].rsplit("/", 1)[1] for b in BODY_RANGES])
def test_body_integers_outside_their_range_are_a_named_400(api, name, path, body, low, high,
                                                            status):
    for value in (high + 1, 999999999, 10**30):
        refused(api.post(path, json={**body, name: value}), name,
                f"must be an integer from {low} to {high}")
    for value in (low - 1, -(10**30), "30", 30.5, True, None, [30]):
        refused(api.post(path, json={**body, name: value}), name)  # the operation names it
    schema = declared(path, "post", name)
    assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", low, high)
    assert api.post(path, json={**body, name: high if name != "minutes" else 60}
                    ).status_code == status


def test_the_reported_campaign_overflow_is_a_400(api):
    refused(api.post("/api/v1/reviews/campaigns", json={**CAMPAIGN, "unused_days": 999999999}),
            "unused_days", "must be an integer from 0 to 3650")


def test_override_minutes_between_the_cap_and_the_range_stay_a_422(api):
    response = api.post("/api/v1/overrides", json={**OVERRIDE, "minutes": 525600})
    assert response.status_code == 422
    assert response.json["error"]["details"] == {"minutes": "at most 480"}


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "0999-12", "2026-13", "2026-1", "2026-00",
                                   "２０２６-01", "2026-01-01", ""])
def test_sample_audit_month_outside_its_range_is_a_400(api, month):
    refused(api.get(SAMPLE, query_string={"month": month}), "month")


def test_sample_audit_months_at_the_ends_of_the_range(api):
    for month in ("1000-01", "9998-12"):
        assert api.get(SAMPLE, query_string={"month": month}).status_code == 200


@pytest.mark.parametrize("path,name", [(AUDIT, "since"), (AUDIT, "until"),
                                       (ACCOUNTING, "since"), (ACCOUNTING, "until")])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "yesterday"])
def test_date_times_that_leave_the_calendar_in_utc_are_a_400(api, path, name, value):
    refused(api.get(path, query_string={name: value}), name)


@pytest.mark.parametrize("due", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_campaign_due_that_leaves_the_calendar_in_utc_is_a_400(api, due):
    refused(api.post("/api/v1/reviews/campaigns", json={**CAMPAIGN, "due": due}), "due")
