"""Soak test: mixed API traffic against gunicorn and PostgreSQL for N minutes.

    .venv/bin/python bench/soak.py --minutes 10 [--threads 4] [--workers 2]

A scratch PostgreSQL database with the demo organisation (dropped at the end), one gunicorn
(gthread, 4 threads per worker, a random GOVERNANCE_AUDIT_KEY unless one is set) and a few client
threads on keep-alive connections that mix single decisions, AuthZEN batches of 20, record
filtering, override workflows (request, then approve and revoke, or deny), audit queries and
health checks. Prints requests, errors and p50/p99 per minute (and per call at the end), each
worker's memory at start, after minute 1 and at the end, the decisions answered (single, batch
items, filter) against the audit rows written, and `governance audit verify`. Exits non-zero on
any error, any answered decision without its audit row, a broken chain, a replaced worker, or
(with --minutes >= 3) a worker that grew more than 10% after minute 1.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import PG, free_port, run, start  # noqa: E402
from governance.demo import build_demo_org  # noqa: E402
from governance.demo.catalogue import BUNDLES, PARTNERS  # noqa: E402

FLASK = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "governance"]
MEMORY_LIMIT = 0.10  # growth of a worker's RSS from minute 1 to the end
BATCH = 20


def scratch_database(stack: ExitStack) -> str:
    """A fresh PostgreSQL database, dropped when the stack closes (after gunicorn stops)."""
    name = f"ntk_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stack.callback(drop)
    return name


def workers_of(master: int) -> list[int]:
    """gunicorn's workers: the master's children."""
    return sorted(map(int, Path(f"/proc/{master}/task/{master}/children").read_text().split()))


def rss_mb(pids: list[int]) -> dict[int, float]:
    """VmRSS of each process still there (a replaced worker is missing)."""
    out = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        out[pid] = int(status.split("VmRSS:")[1].split()[0]) / 1024
    return out


class Traffic:
    """Valid requests drawn from the demo organisation. Field lists come from a fixed set, as
    real callers send the same few lists; endless new lists would only fill the server's
    bounded field-list cache and show up as memory growth that is not a leak."""

    def __init__(self) -> None:
        org = build_demo_org()  # the same seed and day as the CLI's `demo`
        self.users = org["users"]
        self.enrolled: dict[str, list[str]] = {}
        for p in org["participants"]:
            for program in p["programs"]:
                self.enrolled.setdefault(program, []).append(p["id"])
        self.cases: dict[tuple[str, str], list[str]] = {}
        for i in org["involvements"]:
            self.cases.setdefault((i["user"], i["program"]), []).append(i["participant"])
        self.requesters = [u["id"] for u in self.users if u["active"] and any(
            r["role"] == "case_manager" and r.get("program") == "housing" for r in u["roles"])]
        ids = [f["id"] for f in org["fields"]]
        pick = random.Random(11)
        self.field_lists = [ids[:20], ["identity.*", "contact.*"], ["clinical.*", "sud.*"],
                            ["billing.*"], ["*"], ["identity.name", "no.such_field"],
                            *(pick.sample(ids, pick.randint(3, 30)) for _ in range(20))]

    def decision(self, rng: random.Random) -> dict:
        """One decision request; many deny (inactive users, no grant, no case, no consent)."""
        user = rng.choice(self.users)  # includes lee (disabled) and lapsed vendor support
        role = rng.choice(user["roles"])
        program = role.get("program") or rng.choice(list(self.enrolled))
        caseload = self.cases.get((user["id"], program))
        participant = (rng.choice(caseload) if caseload and rng.random() < 0.6
                       else "p-99999" if rng.random() < 0.03
                       else rng.choice(self.enrolled[program]))
        body = {"subject": user["id"], "participant": participant, "program": program,
                "fields": rng.choice(self.field_lists)}
        action = rng.choices(["view", "export", "disclose"], [5, 2, 3])[0]
        if action == "view":
            return {**body, "action": "view"}
        if action == "export":
            return {**body, "action": "export", "purpose": rng.choice(["operations", "payment"])}
        bundle, purpose, types, required, optional = rng.choice(BUNDLES)[:5]
        partners = [p[0] for p in PARTNERS if p[2] in types.split() or rng.random() < 0.1]
        body.update(action="disclose", purpose=purpose, recipient=rng.choice(partners))
        if rng.random() < 0.8:
            body.update(bundle=bundle, fields=(required + " " + optional).split())
        if purpose == "crisis_escalation":
            body["justification"] = "participant at imminent risk, crisis team dispatched"
        return body

    def batch(self, rng: random.Random) -> dict:
        """An AuthZEN batch: subject, action and context as defaults; each of the 20 items
        names a participant of the program (half of them from the subject's caseload)."""
        d = self.decision(rng)
        context = {k: d[k] for k in ("purpose", "recipient", "bundle", "justification") if k in d}
        pool = self.enrolled[d["program"]]
        caseload = self.cases.get((d["subject"], d["program"])) or pool
        items = [{"resource": {"type": "participant_record",
                               "id": rng.choice(caseload if n % 2 else pool),
                               "properties": {"program": d["program"], "fields": d["fields"]}}}
                 for n in range(BATCH)]
        return {"subject": {"type": "user", "id": d["subject"]},
                "action": {"name": d["action"]}, "context": context, "evaluations": items}

    def filter(self, rng: random.Random) -> dict:
        d = self.decision(rng)
        d.pop("fields")
        record = {"identity": {"name": "Pat Doe", "date_of_birth": "1980-02-03"},
                  "contact": {"phone": "555-0100"}, "clinical": {"diagnosis": "F33.1"},
                  "billing": {"member_id": "HHP-1"}}
        if d.get("bundle"):
            d.pop("bundle")  # a record's fields are rarely a bundle's; keep the decision simple
        return {**d, "record": record}


class Soak:
    """The client threads, and what they share: per-minute figures, latencies per call, error
    kinds, and every decision_id answered."""

    def __init__(self, port: int, key: str, minutes: int) -> None:
        self.traffic = Traffic()
        self.port, self.key, self.lock = port, key, threading.Lock()
        self.t0, self.last = time.monotonic(), max(minutes - 1, 0)
        self.samples: list[list[float]] = [[] for _ in range(minutes)]
        self.errors = [0] * minutes
        self.by_call: dict[str, list[float]] = {}
        self.kinds: dict[str, int] = {}
        self.decision_ids: list[str] = []
        self.outcomes: Counter[str] = Counter()

    def record(self, label: str, elapsed: float | None, error: str = "",
               body: bytes = b"") -> None:
        """Count one answer (or, without `elapsed`, one more error in an answer already
        counted) in its minute; print the first body of each kind of error."""
        minute = min(int((time.monotonic() - self.t0) // 60), self.last)
        with self.lock:
            if elapsed is not None:
                self.samples[minute].append(elapsed)
                self.by_call.setdefault(label, []).append(elapsed)
            if error:
                kind = f"{label} {error}"
                self.errors[minute] += 1
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
                if self.kinds[kind] == 1:
                    print(f"  ERROR {kind}: {body[:500]!r}", flush=True)

    def call(self, conn: http.client.HTTPConnection, method: str, path: str,
             body: dict | None = None, expect: int = 200) -> dict | None:
        """One request on a kept-alive connection: its JSON answer, or None (an error) for
        any status but `expect`."""
        label = f"{method} {re.sub(r'ovr_[0-9A-Za-z]+', 'ID', path.split('?')[0])}"
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        start = time.perf_counter()
        try:
            conn.request(method, path, json.dumps(body) if body else None, headers)
            response = conn.getresponse()
            raw, status = response.read(), response.status
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # the next request opens a new connection
            self.record(label, time.perf_counter() - start, type(exc).__name__,
                        str(exc).encode())
            return None
        elapsed = time.perf_counter() - start
        try:
            answer = json.loads(raw) if status == expect else None
        except ValueError:
            answer = None
        self.record(label, elapsed, "" if answer is not None else f"HTTP {status}", raw)
        return answer

    def answered(self, label: str, answers: list[dict]) -> None:
        """Keep the decision_ids of 200 answers; one without an id is an error."""
        ids = [a.get("decision_id") or a.get("context", {}).get("decision_id") for a in answers]
        with self.lock:
            self.decision_ids.extend(i for i in ids if i)
            self.outcomes.update(str(a.get("context", {}).get("outcome", a.get("decision")))
                                 for a in answers)
        if not all(ids) or not answers:
            self.record(label, None, "answered 200 without a decision_id for each item",
                        json.dumps(answers).encode())

    def client(self, seed: int, stop: threading.Event) -> None:
        """One client thread: a weighted mix of calls until `stop`."""
        rng, t = random.Random(seed), self.traffic
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not stop.is_set():
            kind = rng.choices(["decision", "batch", "filter", "override", "audit", "health"],
                               [60, 10, 15, 5, 5, 5])[0]
            if kind == "decision":
                if got := self.call(conn, "POST", "/api/v1/decisions", t.decision(rng)):
                    self.answered("decision", [got])
            elif kind == "batch":
                if got := self.call(conn, "POST", "/access/v1/evaluations", t.batch(rng)):
                    self.answered("batch", got.get("evaluations", []))
            elif kind == "filter":
                if got := self.call(conn, "POST", "/api/v1/filter", t.filter(rng)):
                    self.answered("filter", [got])
            elif kind == "override":
                self.override(rng, conn)
            elif kind == "audit":
                self.call(conn, "GET", "/api/v1/audit?limit=20")
            else:
                self.call(conn, "GET", "/healthz")
        conn.close()

    def override(self, rng: random.Random, conn: http.client.HTTPConnection) -> None:
        """A housing case manager asks; sam (housing supervisor) approves and the holder
        revokes it at once (so active overrides do not pile up), or sam denies. Each thread
        works on its own override, so there is no race and no 409/422 is expected."""
        actor = rng.choice(self.traffic.requesters)
        body = {"actor": actor, "program": "housing", "fields": ["clinical.diagnosis"],
                "actions": ["view"], "reason": "soak: covering a colleague's caseload",
                "minutes": 30}
        if not (got := self.call(conn, "POST", "/api/v1/overrides", body, 201)):
            return
        path = f"/api/v1/overrides/{got['id']}"
        if rng.random() < 0.5:
            self.call(conn, "POST", f"{path}/deny", {"actor": "sam", "note": "not needed"})
        elif self.call(conn, "POST", f"{path}/approve", {"actor": "sam"}):
            self.call(conn, "POST", f"{path}/revoke", {"actor": actor, "note": "done"})

    def minute_line(self, minute: int) -> str:
        with self.lock:
            samples, errors = self.samples[minute], self.errors[minute]
        return (f"  minute {minute + 1:3d}: {len(samples):7d} requests {errors:5d} errors  "
                f"{percentiles(samples)}")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples) or [math.nan]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {ordered[len(ordered) // 2] * 1e3:7.2f} ms  p99 {p99 * 1e3:7.2f} ms"


def missing_from_audit(dbname: str, decision_ids: list[str]) -> tuple[int, int, list[str]]:
    """Audit rows of kind 'decision', and the answered decision_ids with no row (anti-join on
    a temporary table, so a million ids need no Python set of the audit table)."""
    with psycopg.connect(f"{PG}/{dbname}") as conn:
        rows = conn.execute("SELECT count(*) FROM audit_event WHERE kind = 'decision'"
                            ).fetchone()[0]
        conn.execute("CREATE TEMP TABLE answered (ref text)")
        with conn.cursor().copy("COPY answered (ref) FROM STDIN") as copy:
            for decision_id in decision_ids:
                copy.write_row((decision_id,))
        missing = [r[0] for r in conn.execute(
            "SELECT a.ref FROM answered a WHERE NOT EXISTS (SELECT 1 FROM audit_event e "
            "WHERE e.ref = a.ref AND e.kind = 'decision')")]
    return rows, len(missing), missing[:5]


def serve(stack: ExitStack, env: dict[str, str], workers: int) -> tuple[int, str, int]:
    """Demo organisation, a key, and gunicorn with `workers` booted: (port, key, master pid)."""
    run([*FLASK, "demo"], env)
    key = run([*FLASK, "api-key", "create", "soak", "--scope", "decide", "--scope", "manage"],
              env).strip().splitlines()[-1]
    port = free_port()
    log = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "gunicorn.log"
    master = start(stack, [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(workers),
                           "--threads", "4", "--worker-class", "gthread", "--bind",
                           f"127.0.0.1:{port}", "wsgi:app"], log, port, "/healthz", env).pid
    deadline = time.monotonic() + 30
    while len(workers_of(master)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    return port, key, master


def drive(stack: ExitStack, soak: Soak, threads: int, duration: float,
          workers: list[int]) -> list[dict[int, float]]:
    """Run the clients for `duration` seconds, printing each minute as it ends; returns the
    workers' RSS after minute 1 and at the end."""
    stop = threading.Event()
    stack.callback(stop.set)  # on a failure too, before gunicorn stops
    clients = [threading.Thread(target=soak.client, args=(n, stop), daemon=True)
               for n in range(threads)]
    for client in clients:
        client.start()
    memory = []
    for minute in range(len(soak.samples) - 1):  # the last (maybe partial) prints after join
        time.sleep(max(0.0, soak.t0 + 60 * (minute + 1) - time.monotonic()))
        print(soak.minute_line(minute), flush=True)
        if minute == 0:
            memory.append(rss_mb(workers))
    time.sleep(max(0.0, soak.t0 + duration - time.monotonic()))
    stop.set()
    for client in clients:
        client.join()
    print(soak.minute_line(len(soak.samples) - 1), flush=True)
    memory.append(rss_mb(workers))
    return memory if len(memory) == 2 else memory * 2  # under a minute: minute 1 is the end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still drop the database
    with ExitStack() as stack:
        dbname = scratch_database(stack)
        env = {"GOVERNANCE_AUDIT_KEY": secrets.token_hex(16),  # a keyed chain, as in production
               **os.environ,
               "GOVERNANCE_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:5432/{dbname}"}
        port, key, master = serve(stack, env, args.workers)
        workers = workers_of(master)
        print(f"soak: {args.minutes:g} min, {args.threads} client threads, gunicorn "
              f"{args.workers} workers x 4 threads (pid {master}), database {dbname}; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
        memory = [rss_mb(workers)]
        soak = Soak(port, key, max(1, math.ceil(args.minutes)))
        memory += drive(stack, soak, args.threads, args.minutes * 60, workers)
        replaced = workers_of(master) != workers

        errors = sum(soak.errors)
        print(f"total: {sum(map(len, soak.samples))} requests, {errors} errors"
              + "".join(f"\n  {count:6d} x {kind}" for kind, count in sorted(soak.kinds.items())))
        for label, samples in sorted(soak.by_call.items()):
            print(f"  {label:34} {len(samples):7d}  {percentiles(samples)}")
        grew = False
        print("worker RSS MB: start / after minute 1 / end, change from minute 1")
        for pid in workers:
            first, one, end = (m.get(pid, math.nan) for m in memory)
            grew |= not (end - one) / one <= MEMORY_LIMIT  # NaN (a worker gone) counts
            print(f"  worker {pid}: {first:6.1f} / {one:6.1f} / {end:6.1f}  "
                  f"{(end - one) / one:+.1%}")
        if replaced:
            print(f"  WORKERS REPLACED: {workers} at start, {workers_of(master)} at the end")

        rows, missing, examples = missing_from_audit(dbname, soak.decision_ids)
        print(f"outcomes: {', '.join(f'{k} {n}' for k, n in soak.outcomes.most_common())}")
        print(f"decisions answered 200: {len(soak.decision_ids)}; audit rows kind='decision': "
              f"{rows}; answered without an audit row: {missing}"
              + (f" (e.g. {', '.join(examples)})" if examples else ""))
        verify = subprocess.run([*FLASK, "audit", "verify"], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        said = (verify.stdout + verify.stderr).strip().splitlines()[-5:]  # a traceback's end
        print(f"audit verify: exit {verify.returncode}: {chr(10).join(said)}")

        failed = [why for why, bad in (
            ("errors", errors > 0), ("decisions missing from the audit", missing > 0),
            ("chain does not verify", verify.returncode != 0), ("workers replaced", replaced),
            (f"memory grew more than {MEMORY_LIMIT:.0%} after minute 1",
             grew and args.minutes >= 3)) if bad]
        print(f"result: {'FAILED: ' + ', '.join(failed) if failed else 'ok'}")
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
