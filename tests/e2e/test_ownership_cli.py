"""End to end through the real CLI: an administrator's disable survives re-running the demo
(an apply of a file that still lists the account), which reports the conflict."""
from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.test_audit_cli import cli

pytestmark = pytest.mark.e2e


def test_a_disabled_account_stays_disabled_when_the_demo_is_applied_again(tmp_path):
    path = tmp_path / "demo.sqlite"
    url = f"sqlite:///{path}"
    assert cli(url, "demo").returncode == 0
    disabled = cli(url, "user", "disable", "alice", "--reason", "left the organisation",
                   "--actor", "it-admin")
    assert disabled.returncode == 0, disabled.stderr
    assert "Disabled alice" in disabled.stdout
    again = cli(url, "demo")
    assert again.returncode == 0, again.stderr
    assert "conflict: user alice was disabled on " in again.stdout
    assert "by it-admin (left the organisation); left disabled" in again.stdout
    with sqlite3.connect(path) as db:
        active, via = db.execute("SELECT active, disabled_via FROM user_account "
                                 "WHERE id = 'alice'").fetchone()
    assert (active, via) == (0, "cli")
    refused = cli(url, "user", "disable", "nobody", "--reason", "x")
    assert refused.returncode == 1 and "no user 'nobody'" in refused.stderr
    assert cli(url, "user", "enable", "alice").returncode == 0
