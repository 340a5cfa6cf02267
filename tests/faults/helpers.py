"""What the fault tests (tests/faults/test_*.py) share: the demo database and its copies, the
org files, HTTP to a real gunicorn, a load of decisions, and the checks every test ends with."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from governance import create_app
from governance.extension import state
from governance.orgfile.export import export_org
from governance.policy.engine import REVISION_SQL
from tests.e2e.test_cli_and_server import REFERRAL, ROOT, cli
from tests.faults.cluster import Cluster


# -- the cluster and its databases ----------------------------------------------------------------
@dataclass
class Database:
    cluster: Cluster
    name: str

    def url(self, process: str | None = None) -> str:
        """The app's URL; ``process`` tags the connections (pg_stat_activity.application_name)."""
        return self.cluster.url(self.name, **({"application_name": process} if process else {}))

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self.cluster.query(sql, params, database=self.name)

    def scalar(self, sql: str, params: tuple = ()):
        return self.query(sql, params)[0][0]

    def fingerprint(self) -> dict[str, str]:
        """A digest of every table's whole content: equal fingerprints, nothing was written."""
        with self.cluster.connect(self.name) as conn:
            tables = [t for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
            return {t: conn.execute(
                f"SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), '')) "
                f'FROM "{t}" r').fetchone()[0] for t in tables}


@dataclass
class Demo:
    database: Database
    key: str  # scopes decide and manage
    org: dict  # the demo as `governance export` writes it
    base_file: Path  # that export: applying it restores the demo's policy
    narrow_file: Path  # the demo without contact.* in case_manager's view and disclose grants


def write_org(path: Path, org: dict) -> Path:
    path.write_text(yaml.safe_dump(org, sort_keys=False, allow_unicode=True))
    return path


@contextmanager
def app_on(url: str):
    """An app in this process on ``url`` (for export and the workflow API), closed after."""
    app = create_app({"GOVERNANCE_DATABASE_URL": url, "GOVERNANCE_SECRET_KEY": "faults"})
    try:
        with app.app_context():
            yield app
    finally:
        state(app).engine.close()
        with app.app_context():
            state(app).session.remove()
            state(app).db.engine.dispose()


def export(url: str) -> dict:
    """What `governance export` prints, parsed back (the same function, in this process)."""
    with app_on(url) as app:
        text = yaml.safe_dump(export_org(state(app).session), sort_keys=False)
    return yaml.safe_load(text)


def normalised(org: dict) -> dict:
    """Sections compared as sets of entries (the export orders them its own way)."""
    return {section: sorted(json.dumps(entry, sort_keys=True, default=str) for entry in value)
            if isinstance(value, list) else value for section, value in org.items()}


# -- HTTP -----------------------------------------------------------------------------------------
def send(base: str, path: str, key: str | None = None, body: object = None,
         timeout: float = 10.0) -> tuple[int | None, dict | None]:
    """(status, JSON body) on a fresh connection; (None, None) if the connection failed."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(base + path, data=data, headers=headers,
                                     method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = error.read()
        return error.code, json.loads(payload) if payload.startswith(b"{") else None
    except (OSError, http.client.HTTPException):
        return None, None


def answer(body: dict) -> dict:
    """A decision without its id: what must equal another decision's answer."""
    return {k: v for k, v in body.items() if k != "decision_id"}


def wait_for(check: Callable[[], object], limit: float, what: str, pause: float = 0.05) -> float:
    """Seconds until ``check()`` is true; fails naming ``what`` after ``limit`` seconds."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < limit, f"{what}: not within {limit} s"
        time.sleep(pause)
    return time.monotonic() - began


@dataclass
class Server:
    base: str
    port: int
    master: subprocess.Popen
    log: Path

    def log_excerpt(self, chars: int = 6000) -> str:
        """The server's log from its first request error (or its end)."""
        text = self.log.read_text(errors="replace")
        first = text.find("Error handling request")
        return text[first:first + chars] if first >= 0 else text[-chars:]

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.master.pid}/task/{self.master.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def decide(self, key: str, body: dict = REFERRAL) -> tuple[int | None, dict | None]:
        return send(self.base, "/api/v1/decisions", key, body)

    def worker_serving(self, client_port: int) -> int | None:
        """The worker holding the accepted end of the connection from ``client_port``."""
        wanted = f":{self.port:04X}", f":{client_port:04X}"
        inodes = {line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                  if (line.split()[1].endswith(wanted[0])
                      and line.split()[2].endswith(wanted[1]))}
        for pid in self.workers():
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) in {f"socket:[{inode}]" for inode in inodes}:
                        return pid
                except OSError:
                    continue
        return None  # not accepted yet


@dataclass
class Reply:
    request: int  # index into the load's requests
    started: float
    ended: float
    status: int | None
    body: dict | None


@dataclass
class Load:
    """Threads sending decisions, each on a fresh connection, until the block ends."""
    server: Server
    key: str
    requests: list[dict] = field(default_factory=lambda: [REFERRAL])
    threads: int = 6
    pause: float = 0.005
    replies: list[Reply] = field(default_factory=list)

    def __enter__(self) -> Load:
        self._stop = threading.Event()
        self._running = [threading.Thread(target=self._send, args=(i,), daemon=True)
                         for i in range(self.threads)]
        for thread in self._running:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(timeout=30)

    def _send(self, offset: int) -> None:
        n = offset
        while not self._stop.is_set():
            index = n % len(self.requests)
            n += 1
            started = time.monotonic()
            status, body = self.server.decide(self.key, self.requests[index])
            self.replies.append(Reply(index, started, time.monotonic(), status, body))
            time.sleep(self.pause)

    def answered(self) -> int:
        return sum(reply.status == 200 for reply in self.replies)


# -- the checks every test ends with --------------------------------------------------------------
def assert_chain_verifies(database: Database) -> None:
    verified = cli(database.url(), "audit", "verify", check=False)
    assert verified.returncode == 0, f"audit verify: {verified.stdout}{verified.stderr}"
    assert "intact" in verified.stdout


def assert_answered_decisions_audited(database: Database, bodies: list[dict | None]) -> None:
    answered = {body["decision_id"] for body in bodies if body is not None}
    stored = {ref for (ref,) in database.query(
        "SELECT ref FROM audit_event WHERE kind = 'decision'")}
    missing = answered - stored
    assert not missing, f"{len(missing)} decision(s) answered 200 without an audit row"


def assert_whole(database: Database, replies: list[Reply]) -> None:
    assert_answered_decisions_audited(database, [r.body for r in replies if r.status == 200])
    assert_chain_verifies(database)


def every_worker_answers(server: Server, key: str, want: Callable[[dict], bool],
                         body: dict = REFERRAL, seen: list | None = None) -> bool:
    """Several fresh connections, so both workers are asked; ``seen`` collects the answers."""
    for _ in range(8):
        status, reply = server.decide(key, body)
        if seen is not None and status == 200:
            seen.append(reply)
        if status != 200 or not want(reply):
            return False
    return True


def listeners(database: Database) -> set[int]:
    """Backends of the workers' change listeners (governance/policy/engine.py RevisionListener:
    it sends LISTEN, then reads the revision once and idles on that statement)."""
    return {pid for (pid,) in database.query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND state = 'idle' AND (query ILIKE 'LISTEN%%' OR query = %s)", (REVISION_SQL,))}


def start_cli(url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
                            cwd=ROOT, env={**os.environ, "GOVERNANCE_DATABASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_inside_transaction(database: Database, process: subprocess.Popen, tag: str,
                            condition: str = "true") -> None:
    """SIGKILL ``process`` once its backend (``application_name = tag``) has written in an
    open transaction and ``condition`` (SQL over pg_stat_activity ``a``) holds; then wait until
    PostgreSQL has dropped that backend (and so rolled back whatever it had not committed)."""
    def writing() -> bool:
        assert process.poll() is None, ("the command finished before it could be killed: "
                                         f"{process.communicate()}")
        return database.scalar(
            "SELECT count(*) FROM pg_stat_activity a WHERE a.application_name = %s "
            f"AND a.backend_xid IS NOT NULL AND {condition}", (tag,)) > 0

    wait_for(writing, 60, f"{tag} writing in a transaction", pause=0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: database.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (tag,)) == 0,
        10, f"the killed {tag}'s backend gone")
