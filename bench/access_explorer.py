"""The access explorer and the simulator on the 10,000-user organisation (issue 14, items 4-5).

    .venv/bin/python bench/access_explorer.py [--backend sqlite|postgres|both] [--n 20]
                                              [--fraction 1.0]

The organisation of bench/scale_org.py (10,000 users, 40 roles, 300 fields, 20 programs,
200,000 case involvements), plus a console administrator, applied to a fresh database with the
real apply, as bench/workflows.py does. Then, through Flask's test client signed in as that
administrator (the page rendered, as a browser gets it), ``--n`` loads of each page after one
warm-up: who can view the field most people can view in a program (its first page, its last
page, narrowed to case roles, and searched by name), the same for a field few can, and what one
user holding an organisation-wide role can act on (every program). Prints the holders found,
the median, p95 and worst wall-clock time in ms of each, the median CPU time of this process
(the server's own work: on a shared, loaded machine the wall-clock figures include waiting for
a core), the cold first load (snapshot and indexes built), and the same for a simulated
decision (form post, audited) and ``POST /api/v1/decisions/explain``.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.operations.api_keys import CreateApiKey  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402
from governance.reads.access import who_can_act  # noqa: E402

ADMIN, PASSWORD = "bench-admin", "a benchmark's long passphrase"
URL = "/console/access-explorer"
BUDGET_MS = 200


def explorer_org(fraction: float) -> dict:
    org = build_scale_org(fraction)
    org["roles"].append({"id": "console_admin", "scope": "organization", "console": ["admin"],
                         "grants": {"view": [], "export": [], "disclose": []}})
    org["users"].append({"id": ADMIN, "name": "Bench Admin",
                         "roles": [{"role": "console_admin"}]})
    return org


def signed_in_client(app):  # noqa: ANN001
    client = app.test_client()
    page = client.get("/console/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    answer = client.post("/console/sign-in", data={"user": ADMIN, "password": PASSWORD,
                                                   "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return client


def timed(call, n: int) -> tuple[float, list[float], list[float]]:  # noqa: ANN001
    """The cold first call and ``n`` warm ones, in ms: wall-clock, and this process's CPU
    (the server's own work, which a loaded machine's waiting does not inflate; on PostgreSQL
    it leaves out the database server's share)."""
    began = time.perf_counter()
    call()
    cold = (time.perf_counter() - began) * 1e3
    wall, cpu = [], []
    for _ in range(n):
        began, began_cpu = time.perf_counter(), time.process_time()
        call()
        wall.append((time.perf_counter() - began) * 1e3)
        cpu.append((time.process_time() - began_cpu) * 1e3)
    return cold, wall, cpu


def get(client, query: dict) -> callable:  # noqa: ANN001
    def call() -> None:
        answer = client.get(URL, query_string=query)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return call


def busiest_and_quietest(app, program: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """The field most and fewest people can view in ``program`` (at least one)."""
    with app.app_context():
        session, snap, now = state(app).session, state(app).snapshot(), state(app).clock()
        counts = Counter({f: who_can_act(session, snap, now, field_id=f, action="view",
                                         program=program, per_page=1).holders.total
                          for f in snap.field_ids[::10]})
        session.rollback()
    ranked = [fc for fc in counts.most_common() if fc[1]]
    return ranked[0], ranked[-1]


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, Path(tmp)),
                          "GOVERNANCE_SECRET_KEY": "bench",
                          "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                          "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
        org = explorer_org(args.fraction)
        with app.app_context():
            began = time.perf_counter()
            apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
            print(f"{backend}: applied {len(org['users']):,} users in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
            SetPassword(ADMIN, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
            key = CreateApiKey(f"bench-{backend}", ("decide",)).execute(state(app).session)
        client = signed_in_client(app)
        program = "prog03"
        (busy, busy_n), (quiet, quiet_n) = busiest_and_quietest(app, program)
        last = -(-busy_n // 50)
        org_user = next(u["id"] for u in org["users"] if any(
            r["role"] in {x["id"] for x in org["roles"] if x["scope"] == "organization"}
            for r in u["roles"]) and u["id"] != ADMIN)
        case_worker = next(i["user"] for i in org["involvements"] if i["program"] == program)
        participant = next(i["participant"] for i in org["involvements"]
                           if i["user"] == case_worker and i["program"] == program)
        base = {"field": busy, "action": "view", "program": program}
        cases = [
            (f"who can view {busy} in {program}, page 1", busy_n, get(client, base)),
            (f"the same, last page ({last})", busy_n, get(client, {**base, "page": last})),
            ("the same, case roles only", None, get(client, {**base, "via": "case_role"})),
            ("the same, name contains '00'", None, get(client, {**base, "q": "00"})),
            (f"who can view {quiet} in {program}", quiet_n,
             get(client, {**base, "field": quiet})),
            (f"what {org_user} (organisation-wide role) can act on, page 1", None,
             get(client, {"mode": "user", "user": org_user})),
            (f"what {case_worker} can view in {program}", None,
             get(client, {"mode": "user", "user": case_worker, "program": program,
                          "action": "view"})),
        ]
        form = {"user": case_worker, "participant": participant, "program": program,
                "action": "view", "fields": "*"}
        page = client.get("/console/simulator").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

        def simulate() -> None:
            answer = client.post("/console/simulator", data={**form, "csrf_token": token})
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]

        api = app.test_client()

        def explain() -> None:
            answer = api.post("/api/v1/decisions/explain", headers={
                "Authorization": f"Bearer {key}"}, json={
                "subject": case_worker, "participant": participant, "program": program,
                "action": "view", "fields": "*"})
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]

        cases += [(f"simulator: {case_worker} views * of {participant} (300 fields)", None,
                   simulate),
                  ("POST /api/v1/decisions/explain, the same request", None, explain)]
        for name, holders, call in cases:
            cold, warm, cpu = timed(call, args.n)
            p95 = sorted(warm)[min(len(warm) - 1, int(len(warm) * 0.95))]
            rows.append(f"| {backend} | {name} | {'' if holders is None else f'{holders:,}'} | "
                        f"{statistics.median(warm):.1f} | {p95:.1f} | {max(warm):.1f} | "
                        f"{statistics.median(cpu):.1f} | {cold:.0f} |")
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
    header = ["| backend | page | holders | p50 ms | p95 ms | max ms | CPU p50 ms | cold ms |",
              "|---|---|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        rows += run_backend(backend, args)
    print("\n".join(["", f"Budget: {BUDGET_MS} ms a page. Load average while measured: "
                      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
                      f"{os.cpu_count()} cores.", *header, *rows]))


if __name__ == "__main__":
    main()
