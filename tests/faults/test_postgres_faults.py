"""Faults with real processes on a private PostgreSQL cluster (issue 11, item 6).

The store stopped under load, the change listener's connection killed, a worker killed in the
middle of an AuthZEN batch, an apply racing decisions, and CLI processes killed in the middle of
their transaction. Every test ends with the same checks: nothing half-applied, ``governance audit
verify`` exits 0, every decision answered 200 has its audit row, and the service recovered by
itself (no restart of gunicorn).

The cluster is this module's own (``tests/faults/cluster.py``), so stopping it disturbs nobody.
Each test works on its own copy of one database loaded with the demo organisation.
"""
from __future__ import annotations

import copy
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from governance import create_app
from governance.extension import state
from governance.operations.reviews import RUN_DUE_LOCK
from governance.orgfile.export import export_org
from governance.policy.engine import REVISION_SQL
from tests.e2e.test_cli_and_server import REFERRAL, ROOT, cli, free_port
from tests.faults.cluster import Cluster

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

# Alice is case manager on p-100's housing case; the narrow file takes away her contact.* grants.
VIEW = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.*", "contact.*", "risk.*"]}
RACE_REQUESTS = [REFERRAL, VIEW]
BIG_USERS = 1200  # added to the demo for the apply that is killed
REVIEWED_USERS = 200  # elevated assignments for the review campaign that run-due closes


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


@pytest.fixture(scope="module")
def cluster():
    pg = Cluster(free_port())
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="module")
def demo(cluster, tmp_path_factory) -> Demo:
    database = Database(cluster, cluster.create_database("demo_template"))
    cli(database.url(), "demo")
    key = cli(database.url(), "api-key", "create", "faults", "--scope", "decide",
              "--scope", "manage").stdout.strip().splitlines()[-1]
    org = export(database.url())
    folder = tmp_path_factory.mktemp("orgfiles")
    narrow = copy.deepcopy(org)
    case_manager = next(r for r in narrow["roles"] if r["id"] == "case_manager")
    for action in ("view", "disclose"):
        case_manager["grants"][action].remove("contact.*")
    return Demo(database, key, org, write_org(folder / "base.yaml", org),
                write_org(folder / "narrow.yaml", narrow))


@pytest.fixture
def db(cluster, demo, request) -> Database:
    """This test's own copy of the demo database (the cluster up, whatever an earlier test did)."""
    if not cluster.running():
        cluster.start()
    name = re.sub(r"\W", "_", request.node.name)[:50].lower()
    return Database(cluster, cluster.create_database(name, template=demo.database.name))


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


@pytest.fixture
def server(db, tmp_path):
    """A real gunicorn on this test's database, as the README runs it."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        master = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
             "--threads", "4", "--no-control-socket", "--bind", f"127.0.0.1:{port}",
             "wsgi:app"], cwd=ROOT, env={**os.environ, "GOVERNANCE_DATABASE_URL": db.url()},
            stdout=out, stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{port}", port, master, log)
    try:
        wait_for(lambda: send(running.base, "/healthz", timeout=1)[0] == 200, 60,
                 "gunicorn answering /healthz")
        yield running
    finally:
        master.terminate()
        try:
            master.wait(timeout=15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()


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


# -- 1. the store goes away -----------------------------------------------------------------------
# Both tests below catch decisions in flight when the store dies. Such a request may have begun
# a transaction on its session (it reads the revision through it while the listener is down);
# a ROLLBACK on the dead connection in the context's teardown used to raise out of the WSGI app
# (a 500): governance.db.release_session now ends that transaction first.


@pytest.mark.timeout(150)
def test_store_outage_answers_503_and_decisions_recover_without_a_restart(
        cluster, db, server, demo):
    outage = 5.0
    with Load(server, demo.key) as load:
        wait_for(lambda: load.answered() >= 20, 20, "decisions answered before the outage")
        cluster.stop("immediate")
        down = time.monotonic()
        time.sleep(1.0)
        health_during = send(server.base, "/healthz")[0]
        time.sleep(max(0.0, down + outage - time.monotonic()))
        restarting = time.monotonic()
        cluster.start()  # returns once crash recovery is over and connections are accepted
        back = time.monotonic()
        recovered = wait_for(lambda: server.decide(demo.key)[0] == 200, 10,
                             "a decision answered 200 after the restart")
        time.sleep(2.0)
    replies = load.replies

    assert health_during == 503
    statuses = Counter(reply.status for reply in replies)
    odd = [(round(r.started - down, 2), r.status, r.body) for r in replies
           if r.status not in (200, 503)]
    assert not odd, (f"statuses under the outage: {statuses}; (s after the stop, status, body): "
                     f"{odd[:5]}\n{server.log_excerpt()}")
    during = [r for r in replies if r.started > down and r.ended < restarting]
    assert len(during) > 10 and {r.status for r in during} == {503}
    assert all(r.body["error"]["code"] == "store_unavailable" for r in during)
    assert recovered < 5.0, f"decisions came back only {recovered:.1f} s after the restart"
    settled = [r for r in replies if r.started > back + recovered + 0.5]
    assert settled and {r.status for r in settled} == {200}
    assert send(server.base, "/healthz")[0] == 200
    assert server.master.poll() is None
    assert_whole(db, replies)


@pytest.mark.timeout(150)
def test_store_crash_while_decisions_read_through_their_sessions_answers_503_never_500(
        cluster, db, server, demo):
    """The same outage, made likely to catch requests in the middle of a session transaction:
    with the change listeners' connections just killed, every decision reads the revision
    through its request's session until they reconnect (a second later), and the store crashes
    meanwhile; three times, with more callers than the server has threads."""
    crashes: list[float] = []
    with Load(server, demo.key, threads=12, pause=0.0) as load:
        for _ in range(3):
            wait_for(lambda: server.decide(demo.key)[0] == 200 and len(listeners(db)) == 2, 20,
                     "decisions answered and a listener in each worker")
            db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE pid = ANY(%s)", (list(listeners(db)),))
            time.sleep(0.2)
            cluster.stop("immediate")
            crashes.append(time.monotonic())
            time.sleep(0.5)
            cluster.start()
        wait_for(lambda: server.decide(demo.key)[0] == 200, 10, "a decision after the restart")
        time.sleep(0.5)
    replies = load.replies
    odd = [(round(r.started - crashes[0], 2), r.status, r.body) for r in replies
           if r.status not in (200, 503)]
    assert not odd, (f"{Counter(r.status for r in replies)}; (s after the first crash, status, "
                     f"body): {odd[:5]}\n{server.log_excerpt()}")
    assert server.master.poll() is None
    assert_whole(db, replies)


# -- 2. the change listener loses its connection --------------------------------------------------
@pytest.mark.timeout(150)
def test_policy_change_reaches_decisions_after_the_listener_connection_is_killed(
        db, server, demo):
    probes: list[dict] = []

    def narrowed(reply: dict) -> bool:
        return reply["denied"].get("contact.phone") == "no_role_grant"

    wait_for(lambda: every_worker_answers(server, demo.key, lambda r: True, seen=probes)
             and len(listeners(db)) == 2, 20, "a change listener in each of the 2 workers")
    killed = listeners(db)
    # The listener's backend is what dies: the workers keep their other connections.
    assert db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid = ANY(%s)", (list(killed),)) == [(True,), (True,)]
    assert every_worker_answers(server, demo.key, lambda r: not narrowed(r), seen=probes)

    applied = cli(db.url(), "apply", str(demo.narrow_file))
    new_version = re.search(r"policy version (\w+)", applied.stdout).group(1)
    wait_for(lambda: every_worker_answers(server, demo.key, narrowed, seen=probes), 5,
             "the narrowed policy in every worker's decisions")
    assert all(r["policy_version"] == new_version for r in probes[-8:])
    wait_for(lambda: len(listeners(db) - killed) == 2, 10, "both listeners reconnected")
    assert_answered_decisions_audited(db, probes)
    assert_chain_verifies(db)


# -- 3. a worker dies in the middle of a batch ----------------------------------------------------
def authzen_batch(items: int) -> dict:
    return {"subject": {"type": "user", "id": "alice"}, "action": {"name": "view"},
            "evaluations": [{"resource": {
                "type": "participant_record", "id": f"p-{100 + i % 300}",
                "properties": {"program": "housing", "fields": ["*"]}}} for i in range(items)]}


@pytest.mark.timeout(150)
def test_worker_killed_mid_batch_answers_no_200_and_gunicorn_replaces_it(db, server, demo):
    decisions = "SELECT count(*) FROM audit_event WHERE kind = 'decision'"
    before, workers = db.scalar(decisions), server.workers()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.request("POST", "/access/v1/evaluations", json.dumps(authzen_batch(1000)),
                       {"Content-Type": "application/json",
                        "Authorization": f"Bearer {demo.key}"})
    client_port = connection.sock.getsockname()[1]
    wait_for(lambda: server.worker_serving(client_port), 10, "a worker accepting the batch")
    victim = server.worker_serving(client_port)
    # In the middle: the first rows of the batch are committed, the answer not yet sent.
    wait_for(lambda: db.scalar(decisions) > before, 20, "the batch's first rows committed",
             pause=0.005)
    os.kill(victim, signal.SIGKILL)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        status = connection.getresponse().status
        pytest.fail(f"the killed worker's batch was answered {status}")
    connection.close()

    wait_for(lambda: len(server.workers()) == 2 and victim not in server.workers(), 20,
             "gunicorn replacing the killed worker")
    assert set(server.workers()) - set(workers), "no new worker"
    probes = [server.decide(demo.key) for _ in range(8)]
    assert [status for status, _ in probes] == [200] * 8
    assert server.master.poll() is None
    assert_answered_decisions_audited(db, [body for _, body in probes])
    assert_chain_verifies(db)


# -- 4. an apply while decisions run --------------------------------------------------------------
@pytest.mark.timeout(150)
def test_decisions_racing_an_apply_each_answer_one_whole_policy_with_its_version(
        db, server, demo):
    old = [answer(server.decide(demo.key, request)[1]) for request in RACE_REQUESTS]
    new: list[dict] = []
    with Load(server, demo.key, RACE_REQUESTS) as load:
        wait_for(lambda: load.answered() >= 20, 20, "decisions before the apply")
        applied = cli(db.url(), "apply", str(demo.narrow_file))
        new_version = re.search(r"policy version (\w+)", applied.stdout).group(1)
        wait_for(lambda: every_worker_answers(
            server, demo.key, lambda r: r["policy_version"] == new_version), 5,
            "the new policy in every worker")
        new = [answer(server.decide(demo.key, request)[1]) for request in RACE_REQUESTS]
        cli(db.url(), "apply", str(demo.base_file))  # and back, while decisions still run
        wait_for(lambda: every_worker_answers(
            server, demo.key, lambda r: r["policy_version"] == old[0]["policy_version"]), 5,
            "the old policy back in every worker")
        time.sleep(0.5)
    replies = load.replies

    # The new policy is the old one without case_manager's contact.* grants: nothing else moved.
    assert new_version != old[0]["policy_version"]
    contact = [f for f in old[1]["allowed"] if f.startswith("contact.")]
    assert contact and new[1]["allowed"] == [f for f in old[1]["allowed"] if f not in contact]
    assert new[1]["denied"] == {**old[1]["denied"], **dict.fromkeys(contact, "no_role_grant")}
    assert new[0]["denied"] == {**old[0]["denied"], "contact.phone": "no_role_grant"}

    expected = {(i, policy[i]["policy_version"]): policy[i]
                for policy in (old, new) for i in range(len(RACE_REQUESTS))}
    assert Counter(r.status for r in replies) == Counter({200: len(replies)})
    wrong = [(r.request, answer(r.body)) for r in replies
             if expected.get((r.request, r.body["policy_version"])) != answer(r.body)]
    assert not wrong, f"{len(wrong)} answer(s) neither wholly old nor wholly new: {wrong[:3]}"
    versions = Counter(r.body["policy_version"] for r in replies)
    assert versions[new_version] > 0 and versions[old[0]["policy_version"]] > 0
    assert_whole(db, replies)


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
