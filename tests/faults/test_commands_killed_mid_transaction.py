"""Faults with real processes on a private PostgreSQL cluster (tests/faults/conftest.py):
CLI processes (apply, reviews run-due) killed in the middle of their transaction: the
old state or the new whole, and a rerun finishes the work.
"""
from __future__ import annotations

import copy
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml

from governance.operations.reviews import RUN_DUE_LOCK
from tests.e2e.test_cli_and_server import cli
from tests.faults.helpers import (
    Database,
    app_on,
    assert_chain_verifies,
    export,
    kill_inside_transaction,
    normalised,
    start_cli,
    write_org,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


BIG_USERS = 1200  # added to the demo for the apply that is killed
REVIEWED_USERS = 200  # elevated assignments for the review campaign that run-due closes


# -- 5. a command killed in the middle of its transaction -----------------------------------------
@pytest.mark.timeout(180)
def test_apply_killed_midway_leaves_the_old_state_and_a_rerun_applies_the_whole_file(
        db, demo, tmp_path):
    big = copy.deepcopy(demo.org)
    big["users"] += [{"id": f"load.{i:05d}", "name": f"Load User {i}",
                      "roles": [{"role": "front_desk", "program": "housing"}]}
                     for i in range(BIG_USERS)]
    big_file = write_org(tmp_path / "big.yaml", big)
    untouched = db.fingerprint()

    apply = start_cli(db.url("ntk_apply"), "apply", str(big_file))
    kill_inside_transaction(db, apply, "ntk_apply")
    left = db.fingerprint()
    # Killed inside its transaction: the old state, to the last row (or the new whole, had the
    # commit already been on its way when the signal landed).
    interrupted = left == untouched

    rerun = cli(db.url(), "apply", str(big_file))
    assert normalised(export(db.url())) == normalised(yaml.safe_load(big_file.read_text()))
    if interrupted:
        assert re.search(rf"users\.create +{BIG_USERS}\n", rerun.stdout), rerun.stdout
    else:
        assert "No changes" in rerun.stdout, "the killed apply left part of its changes"
        assert db.fingerprint() == left
    assert_chain_verifies(db)


def open_campaign(url: str, key: str, due: datetime) -> dict:
    """An access review through the workflow API (contract section 5)."""
    with app_on(url) as app:
        response = app.test_client().post(
            "/api/v1/reviews/campaigns", headers={"Authorization": f"Bearer {key}"},
            json={"actor": "carmen", "roles": ["it_admin"], "due": due.isoformat(),
                  "on_no_decision": "revoke"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def review_state(database: Database, campaign: str) -> dict:
    return {
        "campaigns": database.query(
            "SELECT id, status FROM review_campaign ORDER BY id"),
        "items": sorted(database.query(
            "SELECT status, count(*) FROM review_item WHERE campaign_id = %s GROUP BY status",
            (campaign,))),
        "ended_assignments": database.scalar(
            "SELECT count(*) FROM role_assignment WHERE ended_at IS NOT NULL"),
        "revision": database.scalar("SELECT revision FROM policy_state"),
    }


@pytest.mark.timeout(180)
def test_run_due_killed_midway_leaves_the_campaign_whole_and_a_rerun_closes_it(
        db, demo, tmp_path):
    reviewed = copy.deepcopy(demo.org)
    reviewed["users"] += [{"id": f"admin.{i:04d}", "name": f"Admin {i}",
                           "roles": [{"role": "it_admin"}]} for i in range(REVIEWED_USERS)]
    cli(db.url(), "apply", str(write_org(tmp_path / "reviewed.yaml", reviewed)))
    due = datetime.now(UTC) + timedelta(seconds=1)
    campaign = open_campaign(db.url(), demo.key, due)
    assert len(campaign["items"]) >= REVIEWED_USERS
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() + 0.2))
    before, untouched = review_state(db, campaign["id"]), db.fingerprint()

    run = start_cli(db.url("ntk_run_due"), "reviews", "run-due")
    kill_inside_transaction(db, run, "ntk_run_due", condition=(
        "EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' "
        f"AND l.granted AND l.objid = {RUN_DUE_LOCK})"))
    after = review_state(db, campaign["id"])
    interrupted = db.fingerprint() == untouched  # the old state, to the last row

    rerun = cli(db.url(), "reviews", "run-due")
    assert f"campaigns closed: {int(interrupted)}" in rerun.stdout, rerun.stdout
    final = review_state(db, campaign["id"])
    assert (campaign["id"], "closed") in final["campaigns"]
    assert final["items"] == [("decided", len(campaign["items"]))]
    assert final["ended_assignments"] == before["ended_assignments"] + len(campaign["items"])
    # The old state, or (had the commit been on its way) the new whole: nothing in between.
    assert interrupted or after == final, "the killed run-due left part of its changes"
    assert_chain_verifies(db)
