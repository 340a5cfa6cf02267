"""Issue 12: who owns what. A run-time end (a consent revoked or amended through the API, an
access review's revoke, an administrator's disable) is never undone by a later apply of a file
that still lists the object; the apply says so in a conflict line. Only an entry declared anew,
with a ``from`` later than the end, grants again. Every automatic action leaves one audit row
per item. On both stores.
"""
from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, Consent, Override, RoleAssignment, User
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from tests.conftest import FIXTURES, NOW, new_key

# The reference organisation, with a second supervisor in housing to review sam's access.
ORG = yaml.safe_load((FIXTURES / "org.yaml").read_text())
ORG["users"].append({"id": "vera", "name": "Vera Holt",
                     "roles": [{"role": "supervisor", "program": "housing"}]})
REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "fields": ["identity.name", "contact.phone"],
            "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard"}
SAM_CLINICAL = {"subject": "sam", "action": "view", "participant": "p-100", "program": "housing",
                "fields": ["clinical.diagnosis"]}
LATER = NOW + timedelta(days=1)


@pytest.fixture
def org_app(app):
    apply(app, ORG, now=NOW)
    return app


@pytest.fixture
def api(org_app):
    client = org_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(org_app, 'decide', 'manage')}"
    return client


def ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


def apply(app, data: dict = ORG, *, dry_run: bool = False, now=LATER):
    with app.app_context():
        spec = validate(json.loads(json.dumps(data, default=str)))
        return ApplyOrganisation(spec, actor="test", dry_run=dry_run, now=now).execute(
            state(app).session)


def cli_apply(app, tmp_path, data: dict = ORG, *extra: str):
    path = tmp_path / "org.json"
    path.write_text(json.dumps(data, default=str))
    result = app.test_cli_runner().invoke(args=["governance", "apply", str(path), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def decide(api, body: dict) -> dict:
    return ok(api.post("/api/v1/decisions", json=body))


def referral_consent(app) -> str:
    """p-100's consent to referrals to city_housing (the only one of p-100's with an end)."""
    with app.app_context():
        return state(app).session.scalar(select(Consent.id).where(
            Consent.participant_id == "p-100", Consent.ended_at.is_(None),
            Consent.valid_until.is_not(None)))


def rows(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        return list(state(app).session.scalars(
            select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.seq)))


def with_entry(section: str, match, **change) -> dict:
    data = copy.deepcopy(ORG)
    for entry in data[section]:
        if match(entry):
            entry.update(change)
    return data


# -- consents -------------------------------------------------------------------------------
def test_a_consent_revoked_through_the_api_stays_revoked_after_an_apply(api, org_app, tmp_path):
    assert decide(api, REFERRAL)["decision"] == "allow"
    consent = referral_consent(org_app)
    ok(api.post(f"/api/v1/consents/{consent}/revoke",
                json={"actor": "alice", "reason": "participant withdrew"}))
    dry = cli_apply(org_app, tmp_path, ORG, "--dry-run")
    line = f"conflict: consent {consent} of p-100 was revoked on 2026-11-23T12:00:00Z by alice"
    assert line in dry and "left revoked" in dry and "participant withdrew" in dry
    assert "update   consents" not in dry
    real = cli_apply(org_app, tmp_path)
    assert line in real and "1 conflict(s)" in real
    shown = ok(api.get(f"/api/v1/consents/{consent}"))
    assert shown["status"] == "revoked" and shown["version"] == 1
    assert decide(api, REFERRAL)["denied"] == {"identity.name": "no_consent",
                                               "contact.phone": "no_consent"}
    assert cli_apply(org_app, tmp_path).count("conflict:") == 1  # said again, still no change


def test_a_consent_declared_anew_with_a_later_from_grants_again(api, org_app):
    consent = referral_consent(org_app)
    ok(api.post(f"/api/v1/consents/{consent}/revoke", json={"actor": "alice"}))
    renewed = with_entry("consents", lambda c: str(c.get("until")) == "2027-01-01"
                         and c["participant"] == "p-100", **{"from": "2026-11-24"})
    result = apply(org_app, renewed, now=NOW + timedelta(days=2))
    assert [c for c in result.changes if c.section == "consents" and c.op == "create"]
    state(org_app).clock = lambda: NOW + timedelta(days=2)
    assert decide(api, REFERRAL)["decision"] == "allow"
    assert ok(api.get(f"/api/v1/consents/{consent}"))["status"] == "revoked"


def test_a_declared_consent_id_is_granted_again_only_after_its_revocation(api, org_app):
    data = copy.deepcopy(ORG)
    data["consents"][0]["id"] = "cns_referral"
    apply(org_app, data, now=NOW)
    ok(api.post("/api/v1/consents/cns_referral/revoke", json={"actor": "alice"}))
    assert "conflict: consent cns_referral" in apply(org_app, data).conflicts[0]
    data["consents"][0]["from"] = "2026-11-25"
    result = apply(org_app, data, now=NOW + timedelta(days=3))
    assert result.conflicts == []
    shown = ok(api.get("/api/v1/consents/cns_referral"))
    assert shown["status"] == "active" and shown["version"] == 2


def test_a_consent_amended_through_the_api_is_left_to_its_new_version(api, org_app):
    consent = referral_consent(org_app)
    amended = ok(api.post(f"/api/v1/consents/{consent}/amend",
                          json={"actor": "alice", "exclude_labels": ["sud", "dv"]}))
    result = apply(org_app)
    assert result.changes == []
    assert result.conflicts == [
        f"conflict: consent {consent} of p-100 was ended on 2026-11-23T12:00:00Z by alice "
        f"(amended: superseded by {amended['id']}); left ended"]
    assert ok(api.get(f"/api/v1/consents/{amended['id']}"))["status"] == "active"


# -- assignments ----------------------------------------------------------------------------
def review_revokes_sam(api) -> None:
    campaign = ok(api.post("/api/v1/reviews/campaigns", json={
        "actor": "rita", "roles": ["supervisor"], "due": "2026-12-07T00:00:00",
        "on_no_decision": "keep"}), 201)
    (item,) = [i for i in campaign["items"] if i["user"] == "sam"]
    ok(api.post(f"/api/v1/reviews/items/{item['id']}/decide",
                json={"actor": "vera", "decision": "revoke", "note": "moved teams"}))


def test_a_review_revoke_is_not_recreated_by_an_apply(api, org_app, tmp_path):
    assert decide(api, SAM_CLINICAL)["decision"] == "allow"
    review_revokes_sam(api)
    assert decide(api, SAM_CLINICAL)["decision"] == "deny"
    output = cli_apply(org_app, tmp_path)
    assert "conflict: assignment sam supervisor housing was ended on 2026-11-23T12:00:00Z by " \
           "vera (access review rvc_" in output and "revoked by vera); left ended" in output
    assert "No changes" in output
    assert decide(api, SAM_CLINICAL)["decision"] == "deny"
    with org_app.app_context():
        live = state(org_app).session.scalars(select(RoleAssignment).where(
            RoleAssignment.user_id == "sam", RoleAssignment.ended_at.is_(None))).all()
    assert live == []


def test_an_assignment_declared_with_a_later_from_grants_again(api, org_app):
    review_revokes_sam(api)
    data = with_entry("users", lambda u: u["id"] == "sam",
                      roles=[{"role": "supervisor", "program": "housing", "from": "2026-11-24",
                              "until": "2027-06-30"}])
    result = apply(org_app, data, now=NOW + timedelta(days=2))
    assert result.conflicts == []
    assert [(c.op, c.key) for c in result.changes if c.section == "assignments"] == [
        ("create", "sam supervisor housing 2026-11-24T00:00:00 2027-07-01T00:00:00")]
    state(org_app).clock = lambda: NOW + timedelta(days=2)
    assert decide(api, SAM_CLINICAL)["decision"] == "allow"


def test_an_assignment_the_file_ended_comes_back_when_listed_again(org_app):
    data = with_entry("users", lambda u: u["id"] == "alice", roles=[])
    assert any(c.op == "end" for c in apply(org_app, data).changes)
    again = apply(org_app, ORG, now=LATER + timedelta(hours=1))
    assert again.conflicts == []
    assert any(c.op == "create" and c.key.startswith("alice case_manager housing")
               for c in again.changes)


# -- users ----------------------------------------------------------------------------------
def test_an_administrator_disable_survives_an_apply(api, org_app, tmp_path):
    override = ok(api.post("/api/v1/overrides", json={
        "actor": "nick", "program": "housing", "participant": "p-100",
        "fields": ["identity.*"], "actions": ["view"], "reason": "cover", "minutes": 60}), 201)
    ok(api.post(f"/api/v1/overrides/{override['id']}/approve", json={"actor": "sam"}))
    nick = {**SAM_CLINICAL, "subject": "nick", "fields": ["identity.name"]}
    assert decide(api, nick)["decision"] == "allow"  # under the override
    pending = ok(api.post("/api/v1/overrides", json={
        "actor": "nick", "program": "housing", "participant": "p-200",
        "fields": ["identity.*"], "actions": ["view"], "reason": "cover", "minutes": 60}), 201)
    disabled = ok(api.post("/api/v1/users/nick/disable",
                           json={"actor": "sam", "reason": "left the organisation"}))
    assert disabled["status"] == "disabled" and disabled["disabled_via"] == "api"
    assert [o["id"] for o in disabled["revoked_overrides"]] == [override["id"]]
    assert [o["id"] for o in disabled["refused_requests"]] == [pending["id"]]
    assert decide(api, nick)["denied"] == {"identity.name": "subject_inactive"}
    output = cli_apply(org_app, tmp_path)
    assert "conflict: user nick was disabled on 2026-11-23T12:00:00Z by sam (left the " \
           "organisation); left disabled" in output
    assert decide(api, nick)["denied"] == {"identity.name": "subject_inactive"}
    kinds = [e.kind for e in rows(org_app, "user.disabled")
             + rows(org_app, "override.revoked") + rows(org_app, "override.denied")]
    assert kinds == ["user.disabled", "override.revoked", "override.denied"]
    ok(api.post("/api/v1/users/nick/enable", json={"actor": "sam", "reason": "rehired"}))
    # Active again, but the override the disable revoked does not come back.
    assert decide(api, nick)["denied"] == {"identity.name": "no_case_involvement"}
    with org_app.app_context():
        status = state(org_app).session.get(Override, override["id"]).status
    assert status == "revoked"


@pytest.mark.parametrize("body, status, detail", [
    ({"actor": "sam"}, 400, "reason"),
    ({"actor": "sam", "reason": "  "}, 400, "reason"),
    ({"actor": "nick", "reason": "x"}, 422, "actor"),
    ({"actor": "ghost", "reason": "x"}, 422, "actor"),
])
def test_bad_disable_requests_are_refused_and_change_nothing(api, org_app, body, status,
                                                             detail):
    before = len(rows(org_app, "user.disabled"))
    response = api.post("/api/v1/users/nick/disable", json=body)
    assert response.status_code == status and detail in response.json["error"]["details"]
    assert len(rows(org_app, "user.disabled")) == before
    assert decide(api, {**SAM_CLINICAL, "subject": "nick", "fields": ["identity.name"]}
                  )["denied"] == {"identity.name": "no_case_involvement"}  # still active


def test_disable_unknown_or_twice(api, org_app):
    assert api.post("/api/v1/users/nobody/disable",
                    json={"actor": "sam", "reason": "x"}).status_code == 404
    ok(api.post("/api/v1/users/nick/disable", json={"actor": "sam", "reason": "x"}))
    assert api.post("/api/v1/users/nick/disable",
                    json={"actor": "sam", "reason": "x"}).status_code == 409
    assert api.post("/api/v1/users/alice/enable", json={"actor": "sam"}).status_code == 409


def test_disable_and_enable_from_the_command_line(api, org_app):
    runner = org_app.test_cli_runner()
    result = runner.invoke(args=["governance", "user", "disable", "nick",
                                 "--reason", "on leave", "--actor", "it-admin"])
    assert result.exit_code == 0, result.output
    assert "Disabled nick" in result.output
    (event,) = rows(org_app, "user.disabled")
    assert event.actor == "it-admin" and payload_of(event)["disabled_via"] == "cli"
    assert payload_of(event)["disabled_reason"] == "on leave"
    missing = runner.invoke(args=["governance", "user", "disable", "nick"])
    assert missing.exit_code != 0 and "--reason" in missing.output
    again = runner.invoke(args=["governance", "user", "disable", "nick", "--reason", "x"])
    assert again.exit_code == 1 and "already disabled" in again.output
    assert runner.invoke(args=["governance", "user", "enable", "nick"]).exit_code == 0
    with org_app.app_context():
        user = state(org_app).session.get(User, "nick")
    assert user.active and user.disabled_at is None


def test_the_file_owns_only_its_users(org_app):
    with org_app.app_context():
        session = state(org_app).session
        session.get(User, "bo").source = "directory"
        session.commit()
    data = with_entry("users", lambda u: u["id"] == "bo", name="Bo Renamed")
    result = apply(org_app, data)
    assert result.conflicts == ["conflict: user bo belongs to the directory; left as the "
                                "directory keeps it"]
    with org_app.app_context():
        assert state(org_app).session.get(User, "bo").name == "Bo Lind"


# -- one audit row per item -----------------------------------------------------------------
def test_every_apply_change_has_its_own_audit_row(app):
    data = copy.deepcopy(ORG)
    data["participants"] += [{"id": f"p-x{i:04}", "programs": ["housing"]} for i in range(600)]
    result = apply(app, data, now=NOW)
    assert len(result.changes) > 600
    changes = rows(app, "org.change")
    assert len(changes) == len(result.changes)
    keys = {(payload_of(e)["section"], payload_of(e)["op"], payload_of(e)["key"])
            for e in changes}
    assert ("participants", "create", "p-x0599") in keys
    (summary,) = rows(app, "org.applied")
    assert payload_of(summary)["changes"] == len(result.changes)
    alice = [e for e in changes if e.subject == "alice"]
    assert {payload_of(e)["section"] for e in alice} == {"users", "assignments", "involvements"}


def test_run_due_leaves_one_audit_row_per_item(api, org_app):
    override = ok(api.post("/api/v1/overrides", json={
        "actor": "nick", "program": "housing", "participant": "p-100",
        "fields": ["identity.*"], "actions": ["view"], "reason": "cover", "minutes": 60}), 201)
    campaign = ok(api.post("/api/v1/reviews/campaigns", json={
        "actor": "rita", "roles": ["supervisor"], "due": "2026-12-07T00:00:00",
        "on_no_decision": "revoke"}), 201)
    state(org_app).clock = lambda: NOW + timedelta(days=14)
    result = org_app.test_cli_runner().invoke(args=["governance", "reviews", "run-due"])
    assert result.exit_code == 0, result.output
    (lapsed,) = rows(org_app, "override.lapsed")
    assert lapsed.ref == override["id"] and "without a decision" in payload_of(lapsed)["cause"]
    decided, = [e for e in rows(org_app, "review.item_decided")
                if e.actor == "system" and e.subject == "sam"]
    cause = payload_of(decided)["cause"]
    assert campaign["id"] in cause and "on_no_decision: revoke" in cause
    assert decided.subject == "sam" and payload_of(decided)["assignment_id"] is not None
    (closed,) = rows(org_app, "review.campaign_closed")
    assert closed.ref == campaign["id"]
    assert rows(org_app, "reviews.run_due")  # and the summary
    with org_app.app_context():
        ended = state(org_app).session.scalar(select(RoleAssignment).where(
            RoleAssignment.user_id == "sam"))
    assert ended.ended_via == "workflow" and campaign["id"] in ended.end_reason
