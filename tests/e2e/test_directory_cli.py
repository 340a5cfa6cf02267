"""End to end through the real CLI and the environment variables of contract section 8: a sync
from a real slapd, its dry run, and a directory that is down (a message, a non-zero exit,
nothing changed)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "directory_org.yaml"

pytestmark = pytest.mark.e2e


def governance(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_directory_sync_through_the_cli_and_the_environment(slapd, tmp_path):
    for cn in ("housing-cm", "housing-sup", "records"):
        slapd.add_group(cn)
    slapd.add_user("ann", cn="Ann Person", mail="ann@example.org")
    slapd.set_members("housing-cm", [slapd.user_dn("ann")])
    path = tmp_path / "governance.sqlite"
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": f"sqlite:///{path}",
           "GOVERNANCE_LDAP_URL": slapd.url, "GOVERNANCE_LDAP_START_TLS": "true",
           "GOVERNANCE_LDAP_CA_FILE": slapd.ca_file,
           "GOVERNANCE_LDAP_BIND_DN": slapd.reader_dn,
           "GOVERNANCE_LDAP_BIND_PASSWORD": slapd.reader_password,
           "GOVERNANCE_LDAP_USER_BASE": slapd.people_dn,
           "GOVERNANCE_LDAP_GROUP_BASE": slapd.groups_dn}
    assert governance(env, "apply", str(FIXTURE)).returncode == 0

    dry = governance(env, "directory", "sync", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "join ann (Ann Person)" in dry.stdout and "nothing was written" in dry.stdout
    assert slapd.reader_password not in dry.stdout + dry.stderr

    done = governance(env, "directory", "sync")
    assert done.returncode == 0, done.stderr
    assert "Directory sync (full, " in done.stdout and "join: 1" in done.stdout
    assert "Reading the directory: 3 groups, 1 users" in done.stderr  # progress
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT a.role_id, a.source, u.source FROM role_assignment a JOIN "
                          "user_account u ON u.id = a.user_id WHERE u.id = 'ann' AND "
                          "a.ended_at IS NULL").fetchall()
    assert rows == [("case_manager", "directory", "directory")]

    slapd.stop()
    down = governance(env, "directory", "sync")
    assert down.returncode != 0
    assert "directory sync refused: the directory at" in down.stderr
    assert "cannot be used" in down.stderr

    plain = {**env, "GOVERNANCE_LDAP_URL": "ldap://ldap.example.org"}
    plain.pop("GOVERNANCE_LDAP_START_TLS")
    wrong = governance(plain, "directory", "sync")
    assert wrong.returncode != 0 and "GOVERNANCE_LDAP_START_TLS" in wrong.stderr
