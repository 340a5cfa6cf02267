"""From the outside: a setting that cannot work, or a database that cannot be reached, stops a
command with one line naming it and exit status 1, never a traceback (contract section 6)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.e2e.test_cli_and_server import ROOT

pytestmark = pytest.mark.e2e


def governance(tmp_path, **settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite'}",
           **settings}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance",
                           "audit", "verify"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("settings,message", [
    ({"GOVERNANCE_MAX_BATCH": "many"}, "Error: GOVERNANCE_MAX_BATCH must be a whole number"),
    *(({"GOVERNANCE_DECISION_TIMEOUT_MS": value}, "Error: GOVERNANCE_DECISION_TIMEOUT_MS must "
       f"be a whole number from 1 to 600000, not {shown}")
      for value, shown in (("0", "0"), ("-5", "-5"), ("soon", "'soon'"),
                           ("600001", "600001"))),
    ({"GOVERNANCE_LDAP_NESTED_GROUPS": "maybe"},
     "Error: GOVERNANCE_LDAP_NESTED_GROUPS must be true or false"),
    ({"GOVERNANCE_BASE_URL": "gov.example.org"}, "Error: GOVERNANCE_BASE_URL must be"),
    ({"GOVERNANCE_DATABASE_URL": "nonsense://x"},
     "Error: GOVERNANCE_DATABASE_URL is not a usable SQLAlchemy URL"),
    ({"GOVERNANCE_DATABASE_URL": "postgresql+psycopg://u:s3cret@host:notaport/db"},
     "Error: GOVERNANCE_DATABASE_URL is not a usable SQLAlchemy URL"),
    ({"GOVERNANCE_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"},
     "Error: the database failed (GOVERNANCE_DATABASE_URL): connection failed"),
    ({"GOVERNANCE_DATABASE_URL": "sqlite:////no/such/folder/g.sqlite"},
     "Error: the database failed (GOVERNANCE_DATABASE_URL): unable to open database file"),
])
def test_a_bad_setting_is_one_line_naming_it(tmp_path, settings, message):
    result = governance(tmp_path, **settings)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_key_name_too_long_says_how_long_it_may_be(tmp_path):
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": f"sqlite:///{tmp_path / 'g.sqlite'}"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance",
                             "api-key", "create", "k" * 101], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "1-100 letters, digits" in result.stderr and "k" * 101 not in result.stderr
