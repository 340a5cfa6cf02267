"""From the outside: `audit checkpoint -o FILE` and `audit verify --checkpoint FILE` through the
CLI, with and without GOVERNANCE_AUDIT_KEY, finding a shortened chain the database alone hides."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from tests.e2e.test_cli_and_server import ROOT

pytestmark = pytest.mark.e2e


def cli(url: str, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": url}
    env.pop("GOVERNANCE_AUDIT_KEY", None)
    if key:
        env["GOVERNANCE_AUDIT_KEY"] = key
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def shorten(path, keep: int) -> None:
    """Delete the tail and rewind the head, as someone with write access to the file could."""
    db = sqlite3.connect(path)
    for trigger in ("audit_event_no_delete", "audit_head_no_rewind"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("DELETE FROM audit_event WHERE seq > ?", (keep,))
    last = db.execute("SELECT hash FROM audit_event WHERE seq = ?", (keep,)).fetchone()[0]
    db.execute("UPDATE audit_head SET seq = ?, hash = ?", (keep, last))
    db.commit()
    db.close()


@pytest.mark.parametrize("key", ["a-key-kept-in-the-vault", None])
def test_checkpoint_then_truncation_is_found_from_the_command_line(tmp_path, key):
    path = tmp_path / "audit.sqlite"
    url = f"sqlite:///{path}"
    assert cli(url, "demo", key=key).returncode == 0
    with sqlite3.connect(path) as db:
        demo_rows = db.execute("SELECT seq FROM audit_head").fetchone()[0]  # one per change
    for name in ("first", "second"):  # and one row each
        assert cli(url, "api-key", "create", name, key=key).returncode == 0
    checkpoint = tmp_path / "head.json"
    written = cli(url, "audit", "checkpoint", "-o", str(checkpoint), key=key)
    assert written.returncode == 0, written.stderr
    document = json.loads(checkpoint.read_text())
    assert document["seq"] == demo_rows + 2
    assert ("signature" in document) == (key is not None)
    assert ("unsigned" in written.stdout) == (key is None)
    if key:
        assert key not in checkpoint.read_text() and key not in written.stdout + written.stderr
    intact = cli(url, "audit", "verify", "--checkpoint", str(checkpoint), key=key)
    assert intact.returncode == 0, intact.stderr
    assert "still reaches the checkpoint" in intact.stdout
    assert ("not keyed" in intact.stderr) == (key is None)

    shorten(path, keep=document["seq"] - 2)
    assert cli(url, "audit", "verify", key=key).returncode == 0  # consistent in itself...
    broken = cli(url, "audit", "verify", "--checkpoint", str(checkpoint), key=key)
    assert broken.returncode == 1  # ...but shorter than what was kept outside
    assert f"no longer reaches the checkpoint's row {document['seq']}" in broken.stderr


def test_verify_of_a_keyed_chain_without_its_key_fails_naming_the_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'keyed.sqlite'}"
    assert cli(url, "demo", key="k1").returncode == 0
    without = cli(url, "audit", "verify")
    assert without.returncode == 1 and "set GOVERNANCE_AUDIT_KEY" in without.stderr
    assert cli(url, "audit", "verify", key="k1").returncode == 0
    missing = cli(url, "audit", "verify", "--checkpoint", str(tmp_path / "none.json"), key="k1")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


@pytest.fixture(scope="module")
def chain_url(tmp_path_factory) -> str:
    """A database whose chain is intact (a key was created), for checkpoints to be held to."""
    url = f"sqlite:///{tmp_path_factory.mktemp('chain') / 'audit.sqlite'}"
    assert cli(url, "api-key", "create", "first").returncode == 0
    return url


HEAD = {"seq": 1, "hash": "ab" * 32, "at": "2026-12-03T00:00:00Z", "key_id": None}


@pytest.mark.parametrize("text,what", [
    ("seq=1", "not JSON (Expecting value"),
    ("", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({k: v for k, v in HEAD.items() if k != "seq"}), "seq: must be a row number"),
    (json.dumps({**HEAD, "seq": 2**64}), "seq: must be a row number from 0 to"),
    (json.dumps({**HEAD, "seq": -1}), "seq: must be a row number"),
    (json.dumps({**HEAD, "seq": True}), "seq: must be a row number"),
    (json.dumps({**HEAD, "seq": "1"}), "seq: must be a row number"),
    (json.dumps({k: v for k, v in HEAD.items() if k != "hash"}), "hash: must be 64"),
    (json.dumps({**HEAD, "hash": 42}), "hash: must be 64"),
    (json.dumps({**HEAD, "hash": "ab"}), "hash: must be 64"),
    (json.dumps({**HEAD, "key_id": 7}), "key_id: must be a key id or null"),
    (json.dumps({**HEAD, "key_id": "k-1"}), "signature: must be 64"),
    (json.dumps({**HEAD, "at": 1764720000}), "at: must be the time it was written"),
    (json.dumps({"seq": "x", "hash": None}), "seq: must be a row number from 0 to "
                                             f"{2**63 - 1}; hash: must be 64"),
])
def test_a_file_that_is_not_a_checkpoint_is_named_not_blamed_on_the_chain(tmp_path, chain_url,
                                                                         text, what):
    checkpoint = tmp_path / "head.json"
    checkpoint.write_text(text)
    checked = cli(chain_url, "audit", "verify", "--checkpoint", str(checkpoint))
    assert checked.returncode == 1 and "Traceback" not in checked.stderr, checked.stderr
    assert f"Error: {checkpoint} is not a checkpoint file" in checked.stderr, checked.stderr
    assert what in checked.stderr, checked.stderr
    assert "TAMPERED" not in checked.stderr and "chain broken" not in checked.stderr
    assert checked.stdout == ""  # nor does it claim the chain intact


@pytest.mark.parametrize("command", [("audit", "checkpoint"), ("export",)])
def test_a_file_that_cannot_be_written_is_named_not_a_traceback(tmp_path, command):
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    target = tmp_path / "no-such-folder" / "out"
    written = cli(url, *command, "-o", str(target))
    assert written.returncode == 1 and "Traceback" not in written.stderr, written.stderr
    assert f"Error: cannot write {target}: No such file or directory" in written.stderr
