"""Workflow latency and SQL statements per call at county-network scale (issue 12, item 4).

    .venv/bin/python bench/workflows.py [--backend sqlite|postgres|both] [--n 200] [--budget 30]
                                        [--fraction 1.0] [--only WORD ...] [--no-check]

On the 10,000-user organisation of bench/scale_org.py (the one bench/scale.py measures; here a
few of its roles approve, since the generated file has no approvers: role20-22 approve
overrides and role23-24 escalations in their program, organisation-wide role34 both), applied
to a fresh database, times through Flask's test client (manage key, the audit row and commit
included): ``POST /api/v1/break-glass``, ``POST /api/v1/overrides`` (request) and
``POST /api/v1/overrides/ID/approve`` (on pending requests put in place beforehand), the
escalation queue ``GET /api/v1/escalations?approver=`` (200 pending escalations across the 20
programs), and, at operation level, who may approve an override or an escalation in a program
(``approvers()``, which a request's notice and break-glass's reviewers use). Each workflow runs
``--n`` calls after a warm-up call, or fewer if ``--budget`` seconds run out first (at least
three). Prints median and p95 in ms and the SQL statements of a call (counted with SQLAlchemy's
``before_cursor_execute`` on this thread), and a digest of every program's approvers, so two
trees can be checked to find the same people.
"""
from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.ids import new_id  # noqa: E402
from governance.models import Escalation, Override  # noqa: E402
from governance.operations.api_keys import CreateApiKey  # noqa: E402
from governance.operations.approvers import approvers  # noqa: E402
from governance.orgfile import validate  # noqa: E402

APPROVER_ROLES = {"role20": ["override"], "role21": ["override"], "role22": ["override"],
                  "role23": ["escalation"], "role24": ["escalation"],
                  "role34": ["override", "escalation"]}
WARMUP, MIN_CALLS, PENDING_ESCALATIONS = 1, 3, 200


def workflow_org(fraction: float) -> dict:
    org = build_scale_org(fraction)
    for role in org["roles"]:
        if role["id"] in APPROVER_ROLES:
            role["approves"] = APPROVER_ROLES[role["id"]]
    return org


class Cast:
    """Who can do what in the generated organisation (read from the org dict, not the store)."""

    def __init__(self, org: dict) -> None:
        scope = {r["id"]: r["scope"] for r in org["roles"]}
        programs = [p["id"] for p in org["programs"]]
        self.programs = programs
        self.enrolled: dict[str, list[str]] = {p: [] for p in programs}
        for participant in org["participants"]:
            for program in participant["programs"]:
                self.enrolled[program].append(participant["id"])
        self.workers: list[tuple[str, str]] = []  # (user, program) with a role there
        self.approvers = {what: {p: set() for p in programs} for what in ("override", "escalation")}
        for user in org["users"]:
            for held in user["roles"]:
                where = programs if scope[held["role"]] == "organization" else [held["program"]]
                self.workers.append((user["id"], where[int(user["id"][1:]) % len(where)]))
                for what in APPROVER_ROLES.get(held["role"], []):
                    for program in where:
                        self.approvers[what][program].add(user["id"])


class Counter:
    """SQL statements executed on this thread since the last reset."""

    def __init__(self, engine) -> None:
        self.thread, self.count = threading.get_ident(), 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args) -> None:
        if threading.get_ident() == self.thread:
            self.count += 1


def measure(counter: Counter, call: Callable[[int], None], n: int, budget: float
            ) -> tuple[list[float], list[int]]:
    """Warm up, then time calls until ``n`` are done or the budget is spent (at least three)."""
    for i in range(WARMUP):
        call(i)
    times, statements = [], []
    deadline = time.monotonic() + budget
    i = WARMUP
    while len(times) < n and (len(times) < MIN_CALLS or time.monotonic() < deadline):
        counter.count = 0
        began = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - began)
        statements.append(counter.count)
        i += 1
    return times, statements


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def prepare(app, cast: Cast, rng: random.Random, n: int) -> tuple[list, str]:
    """Pending overrides to approve and pending escalations to queue; a manage key."""
    now = utcnow()
    session = state(app).session
    to_approve = []
    while len(to_approve) < n + WARMUP:
        user, program = rng.choice(cast.workers)
        deciders = sorted(cast.approvers["override"][program] - {user})
        row = Override(id=new_id("ovr"), kind="override", user_id=user, program_id=program,
                       fields=["g00.*"], actions=["view"], reason="bench", minutes=60,
                       status="pending", requested_at=now - timedelta(minutes=1))
        session.add(row)
        to_approve.append((row.id, rng.choice(deciders)))
    for i in range(PENDING_ESCALATIONS):
        user, program = rng.choice(cast.workers)
        session.add(Escalation(
            id=new_id("esc"), decision_id=new_id("dec"), user_id=user,
            participant_id=rng.choice(cast.enrolled[program]), program_id=program,
            action="disclose", fields=["g01.f1"], justification="bench", status="pending",
            requested_at=now - timedelta(minutes=i + 1)))
    session.commit()
    key = CreateApiKey("bench-workflows", ("manage",)).execute(session)
    return to_approve, key


class Workflows:
    """One call of each workflow on an app holding the organisation (``i``: the call's index)."""

    def __init__(self, app, cast: Cast, rng: random.Random, n: int) -> None:
        self.cast, self.rng, self.session = cast, rng, state(app).session
        self.to_approve, key = prepare(app, cast, rng, n)
        self.client = app.test_client()
        self.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
        self.queue_owners = sorted({u for p in cast.programs
                                    for u in cast.approvers["escalation"][p]})

    def calls(self) -> dict[str, Callable[[int], None]]:
        return {"POST /api/v1/break-glass": self.break_glass,
                "POST /api/v1/overrides": self.request_override,
                "POST /api/v1/overrides/ID/approve": self.approve_override,
                "GET /api/v1/escalations?approver=": self.escalation_queue,
                "approvers(override, program)": lambda i: self.find("override", i),
                "approvers(escalation, program)": lambda i: self.find("escalation", i)}

    def _post(self, path: str, body: dict, status: int) -> None:
        response = self.client.post(path, json=body)
        if response.status_code != status:
            raise RuntimeError(f"{path}: {response.status_code} {response.json}")

    def break_glass(self, _i: int) -> None:
        user, program = self.rng.choice(self.cast.workers)
        self._post("/api/v1/break-glass", {
            "actor": user, "program": program, "reason": "bench emergency",
            "participant": self.rng.choice(self.cast.enrolled[program])}, 201)

    def request_override(self, _i: int) -> None:
        user, program = self.rng.choice(self.cast.workers)
        self._post("/api/v1/overrides", {"actor": user, "program": program,
                                         "fields": ["g00.*"], "actions": ["view"],
                                         "reason": "bench cover", "minutes": 60}, 201)

    def approve_override(self, i: int) -> None:
        override_id, approver = self.to_approve[i]
        self._post(f"/api/v1/overrides/{override_id}/approve", {"actor": approver}, 200)

    def escalation_queue(self, _i: int) -> None:
        response = self.client.get("/api/v1/escalations",
                                   query_string={"approver": self.rng.choice(self.queue_owners)})
        if response.status_code != 200:
            raise RuntimeError(f"queue: {response.status_code} {response.json}")

    def find(self, what: str, i: int) -> None:
        approvers(self.session, what, self.cast.programs[i % len(self.cast.programs)], utcnow())
        self.session.rollback()

    def check(self) -> str:
        """Every program's approvers are the organisation file's; a digest to compare trees."""
        digest = hashlib.sha256()
        for what in ("override", "escalation"):
            for program in self.cast.programs:
                found = approvers(self.session, what, program, utcnow())
                if set(found) != self.cast.approvers[what][program]:
                    raise RuntimeError(f"approvers({what}, {program}) differ from the org")
                digest.update(repr((what, program, sorted(found))).encode())
        self.session.rollback()
        return digest.hexdigest()[:16]


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, Path(tmp))})
        org = workflow_org(args.fraction)
        with app.app_context():
            began = time.perf_counter()
            apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
            print(f"{backend}: applied {len(org['users']):,} users in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
            workflows = Workflows(app, Cast(org), random.Random(12), args.n)
            counter = Counter(state(app).db.engine)
            for name, call in workflows.calls().items():
                if args.only and not any(word in name for word in args.only):
                    continue
                times, statements = measure(counter, call, args.n, args.budget)
                rows.append(f"| {backend} | {name} | {len(times)} | "
                            f"{statistics.median(statements):g} (max {max(statements)}) | "
                            f"{statistics.median(times) * 1e3:.2f} | {p95(times) * 1e3:.2f} |")
                print(rows[-1], flush=True)
            if args.check:
                rows.append(f"{backend}: approvers of all 20 programs match the organisation "
                            f"file; digest {workflows.check()}")
            state(app).engine.close()
            workflows.session.remove()
            state(app).db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds per workflow before it stops short of --n")
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of the 10,000-user organisation (smaller for a quick check)")
    parser.add_argument("--only", nargs="+", metavar="WORD",
                        help="only the workflows whose name contains one of these words")
    parser.add_argument("--no-check", dest="check", action="store_false",
                        help="skip comparing every program's approvers with the org file")
    args = parser.parse_args()
    header = ["| backend | workflow | calls | SQL statements per call | p50 ms | p95 ms |",
              "|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        rows += run_backend(backend, args)
    print("\n".join(["", *header, *rows]))


if __name__ == "__main__":
    main()
