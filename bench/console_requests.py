"""The Requests and Approvals pages on the 10,000-user organisation (issue 15, items 1-2).

    .venv/bin/python bench/console_requests.py [--backend sqlite|postgres|both] [--n 20]
                                               [--fraction 1.0]

The organisation of bench/scale_org.py (10,000 users, 300 fields, 40 roles, 20 programs,
200,000 case involvements), plus an approver who approves overrides and escalations
organisation-wide, applied to a fresh database with the real apply. The queues are then filled
(bench setup, rows written directly): 1,000 pending override requests from people across the
programs, 200 that lapsed undecided yesterday, 200 pending escalations, 200 break-glass uses
awaiting review; and one case worker's history of 200 requests (pending, approved, denied,
expired, 3 in force). Through Flask's test client (the page rendered, as a browser gets it),
``--n`` runs after one warm-up of: the case worker's Requests page (page 1, and filtered), the
preview of a request for every field (300), sending a request, the approver's Approvals page
(page 1, the last page, one program), and approving one request. Prints the median, p95 and
worst wall-clock ms, the median CPU ms of this process (the server's own work; on a loaded
machine wall-clock includes waiting for a core) and the cold first call.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.access_explorer import timed  # noqa: E402
from bench.harness import database  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.ids import new_id  # noqa: E402
from governance.models import Escalation, Override, ReviewItem  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402

APPROVER, PASSWORD = "bench-approver", "a benchmark's long passphrase"
PROGRAM = "prog03"
BUDGET_MS = 200


def requests_org(fraction: float) -> dict:
    org = build_scale_org(fraction)
    org["roles"].append({"id": "bench_approver", "scope": "organization",
                         "approves": ["override", "escalation"],
                         "grants": {"view": [], "export": [], "disclose": []}})
    org["users"].append({"id": APPROVER, "name": "Bench Approver",
                         "roles": [{"role": "bench_approver"}]})
    return org


def case_worker(org: dict) -> tuple[str, str]:
    """A case worker in PROGRAM and one participant on their caseload."""
    case = next(i for i in org["involvements"] if i["program"] == PROGRAM
                and "until" not in i)
    return case["user"], case["participant"]


def fill_queues(app, org: dict, worker: str, participant: str) -> None:  # noqa: ANN001
    """The approver's queues and the case worker's history (bench setup: rows written
    directly, as the operations would have left them)."""
    rng, now = random.Random(15), utcnow()
    users = [u["id"] for u in org["users"] if u["id"] not in (APPROVER, worker)]
    fields = [f["id"] for f in org["fields"]]
    enrolled = {p["id"]: p["programs"] for p in org["participants"]}
    people = list(enrolled)

    def override(user: str, status: str, asked, kind: str = "override", **extra) -> dict:  # noqa: ANN001
        p = rng.choice(people)
        return {"id": new_id("brk" if kind == "break_glass" else "ovr"), "kind": kind,
                "user_id": user, "program_id": enrolled[p][0], "participant_id": p,
                "fields": rng.sample(fields, 3) if kind == "override" else ["*"],
                "actions": ["view"], "reason": "covering a colleague's caseload",
                "minutes": 120, "status": status, "requested_at": asked, **extra}

    rows = [override(rng.choice(users), "pending", now - timedelta(minutes=rng.randrange(600)))
            for _ in range(1000)]
    rows += [override(rng.choice(users), "pending", now - timedelta(hours=30)) for _ in range(200)]
    uses = [override(rng.choice(users), "approved", now - timedelta(hours=3), "break_glass",
                     approved_at=now - timedelta(hours=3), expires_at=now - timedelta(hours=2))
            for _ in range(200)]
    mine = []
    for n in range(200):
        asked = now - timedelta(hours=n + 1)
        status = ("approved", "denied", "expired", "pending")[n % 4] if n >= 3 else "approved"
        extra = {"approved_at": asked, "expires_at": asked + timedelta(minutes=120),
                 "resolved_by": APPROVER} if status == "approved" else {}
        row = override(worker, status, asked, **extra)
        row.update(program_id=PROGRAM, participant_id=participant)
        mine.append(row)
    escalations = [{"id": new_id("esc"), "decision_id": new_id("dec"), "user_id": rng.choice(users),
                    "participant_id": p, "program_id": enrolled[p][0],
                    "recipient_id": "partner01", "purpose_id": "purpose1", "action": "disclose",
                    "fields": rng.sample(fields, 2), "justification": "the referral needs it",
                    "status": "pending", "requested_at": now - timedelta(minutes=n)}
                   for n, p in enumerate(rng.sample(people, 200))]
    with app.app_context():
        session = state(app).session
        session.execute(insert(Override), rows + uses + mine)
        session.execute(insert(Escalation), escalations)
        session.execute(insert(ReviewItem), [
            {"id": new_id("rvi"), "kind": "break_glass", "user_id": u["user_id"],
             "override_id": u["id"], "program_id": u["program_id"], "status": "open",
             "created_at": u["requested_at"]} for u in uses])
        session.commit()


class Console:
    """A test client signed in as ``user``, with its session's CSRF token."""

    def __init__(self, app, user: str) -> None:  # noqa: ANN001
        self.client = app.test_client()
        answer = self.client.post("/console/sign-in", data={
            "user": user, "password": PASSWORD, "csrf_token": self.token("/console/sign-in")})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
        self.csrf = self.token("/console/")

    def token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def get(self, path: str, **query):  # noqa: ANN201
        def call() -> None:
            answer = self.client.get(path, query_string=query)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        return call

    def post(self, path: str, data, status: int = 200):  # noqa: ANN001, ANN201
        def call() -> None:
            body = data() if callable(data) else data
            answer = self.client.post(path, data={**body, "csrf_token": self.csrf})
            assert answer.status_code == status, answer.get_data(as_text=True)[-1500:]
        return call


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, Path(tmp)),
                          "GOVERNANCE_SECRET_KEY": "bench",
                          "GOVERNANCE_FRESH_SIGN_IN_MINUTES": 600,
                          "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                          "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
        org = requests_org(args.fraction)
        worker, participant = case_worker(org)
        with app.app_context():
            apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
            for user in (APPROVER, worker):
                SetPassword(user, PASSWORD, utcnow(), actor="bench").execute(
                    state(app).session)
        fill_queues(app, org, worker, participant)
        requester, approver = Console(app, worker), Console(app, APPROVER)
        ask = {"program": PROGRAM, "participant": participant, "fields": "*",
               "actions": "view", "reason": "covering the caseload this week", "minutes": "60"}

        def pending_one() -> dict:
            with app.app_context():
                found = state(app).session.scalar(select(Override.id).where(
                    Override.status == "pending", Override.kind == "override",
                    Override.user_id != APPROVER,
                    Override.requested_at > utcnow() - timedelta(hours=20)).limit(1))
                state(app).session.rollback()
            approver.next_id = found
            return {"verdict": "approve", "note": "fine"}

        def approve() -> None:
            body = pending_one()
            answer = approver.client.post(f"/console/approvals/overrides/{approver.next_id}",
                                          data={**body, "csrf_token": approver.csrf})
            assert answer.status_code == 302, answer.get_data(as_text=True)[-1500:]

        last = -(-1000 // 20)
        cases = [
            (f"Requests: {worker}'s page (200 requests, 3 in force)",
             requester.get("/console/requests")),
            ("Requests: filtered to denied, page 2", requester.get(
                "/console/requests", status="denied", page="2")),
            ("Requests: Preview of view on * (300 fields)", requester.post(
                "/console/requests", {**ask, "step": "preview"})),
            ("Requests: Request access (sent)", requester.post(
                "/console/requests", ask, status=302)),
            ("Approvals: page 1 (1,000 overrides, 200 escalations, 200 break-glass)",
             approver.get("/console/approvals")),
            (f"Approvals: last page of overrides ({last})",
             approver.get("/console/approvals", page=str(last))),
            (f"Approvals: one program ({PROGRAM})",
             approver.get("/console/approvals", **{"in": PROGRAM})),
            ("Approvals: Approve one request", approve),
        ]
        for name, call in cases:
            cold, warm, cpu = timed(call, args.n)
            p95 = sorted(warm)[min(len(warm) - 1, int(len(warm) * 0.95))]
            rows.append(f"| {backend} | {name} | {statistics.median(warm):.1f} | {p95:.1f} | "
                        f"{max(warm):.1f} | {statistics.median(cpu):.1f} | {cold:.0f} |")
            print(rows[-1], flush=True)
        with app.app_context():
            state(app).engine.close()
            state(app).session.remove()
            state(app).db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of the 10,000-user organisation (smaller for a quick check)")
    args = parser.parse_args()
    header = ["| backend | page | p50 ms | p95 ms | max ms | CPU p50 ms | cold ms |",
              "|---|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        rows += run_backend(backend, args)
    print("\n".join(["", f"Budget: {BUDGET_MS} ms a page. Load average while measured: "
                      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
                      f"{os.cpu_count()} cores.", *header, *rows]))


if __name__ == "__main__":
    main()
