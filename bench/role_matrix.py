"""The role matrix page at county-network scale (issue 14 item 3: the page under 300 ms, the
impact of a one-cell change under 2 s).

    .venv/bin/python bench/role_matrix.py [--backend sqlite|postgres|both] [--n 20]
                                          [--fraction 1.0]

On the 10,000-user organisation of bench/scale_org.py (40 roles, 300 fields, 20 programs),
applied to a fresh database as bench/workflows.py does, with the organisation-wide role34 also
giving the console's admin power to one more user who signs in through the real form. Times,
through Flask's test client with that signed-in session: the grid ``GET /console/role-matrix``
(40 roles x 300 fields, and for one program), ``POST /console/role-matrix/review`` with the whole
grid and one cell unchecked (parsing the 12,000 cells, the diff, the impact from the live
assignments, the page), for the role with the most holders and for an organisation-wide one, and
the impact computation alone. Each runs ``--n`` times after a warm-up; prints median and p95 in
ms, and the page sizes. On PostgreSQL the database is ANALYZEd after the load, as autovacuum
would (the test server runs with it off).
"""
from __future__ import annotations

import argparse
import html
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402
from governance.policy.matrix import opened  # noqa: E402
from governance.reads.matrix_impact import impact  # noqa: E402
from governance.reads.role_matrix import changes_from_grid, load_state, rewrites  # noqa: E402

ADMIN, ADMIN_ROLE, PASSWORD = "bench_admin", "role34", "bench password, long enough"


def matrix_org(fraction: float) -> dict:
    org = build_scale_org(fraction)
    for role in org["roles"]:
        if role["id"] == ADMIN_ROLE:
            role["console"] = ["admin"]
    org["users"].append({"id": ADMIN, "name": "Bench Admin", "roles": [{"role": ADMIN_ROLE}]})
    return org


def signed_in_client(app):
    client = app.test_client()
    page = client.get("/console/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/console/sign-in", data={"user": ADMIN, "password": PASSWORD,
                                                     "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    return client


def grid_form(page: str) -> dict[str, list[str]]:
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        data[name] = [html.unescape(value)]
    data["grant"] = re.findall(r'name="grant" value="([^"]+)"[^>]*checked>', page)
    return data


def measure(call: Callable[[], object], n: int) -> list[float]:
    call()  # warm-up
    times = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows: list[str] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, Path(tmp)),
                          "GOVERNANCE_SECRET_KEY": "bench-secret",
                          "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                          "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
        org = matrix_org(args.fraction)
        with app.app_context():
            began = time.perf_counter()
            apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
            print(f"{backend}: applied {len(org['users']):,} users in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
            SetPassword(ADMIN, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
            if backend == "postgres":  # as autovacuum would after the bulk load (off on the
                with state(app).db.engine.connect() as connection:  # test server)
                    connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                        "ANALYZE")
        client = signed_in_client(app)

        def row(what: str, times: list[float], note: str = "") -> None:
            rows.append(f"| {backend} | {what} | {len(times)} | "
                        f"{statistics.median(times) * 1e3:.1f} | {p95(times) * 1e3:.1f} | "
                        f"{note} |")
            print(rows[-1], flush=True)

        def get(path: str) -> Callable[[], bytes]:
            def call() -> bytes:
                response = client.get(path)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code}")
                return response.data
            return call

        full = get("/console/role-matrix?action=view")
        page = full().decode()
        cells = len(re.findall(r'type="checkbox" name="grant"', page))
        row("grid, all programs", measure(full, args.n),
            f"{cells:,} cells, {len(page) / 1024:,.0f} KiB")
        one = get("/console/role-matrix?action=view&program=prog03")
        shown = len(re.findall(r'type="checkbox" name="grant"', one().decode()))
        row("grid, one program (prog03)", measure(one, args.n), f"{shown:,} cells")

        form = grid_form(page)
        holders = held_counts(org)
        scopes = {r["id"]: r["scope"] for r in org["roles"]}
        in_programs = max((r for r in holders if scopes[r] != "organization"), key=holders.get)
        org_wide = max((r for r in holders if scopes[r] == "organization"), key=holders.get)
        for role in (in_programs, org_wide):
            review_one_cell(app, client, form, role, scopes[role], holders[role], args.n, row)
        row("apply one cell (once)", [apply_one_cell(app, in_programs)], "")
        state(app).engine.close()
        with app.app_context():
            state(app).session.remove()
            state(app).db.engine.dispose()
    return rows


def review_one_cell(app, client, form: dict, role: str, scope: str,  # noqa: ANN001
                    holders: int, n: int, row: Callable) -> None:
    """Uncheck one cell of ``role``: the whole review request, then the impact alone."""
    cell = next(c for c in form["grant"] if c.startswith(role + " "))
    data = {**form, "grant": [c for c in form["grant"] if c != cell]}

    def review() -> bytes:
        response = client.post("/console/role-matrix/review", data=data)
        if response.status_code != 200:
            raise RuntimeError(f"review: {response.status_code}")
        return response.data

    text = review().decode()
    found = re.search(r"Of the ([\d,]+) users? holding", text)
    row(f"review of one cell ({cell}, {scope} role, {holders} holders)", measure(review, n),
        f"{found.group(1) if found else 0} holders now; {len(text) / 1024:,.0f} KiB")
    with app.app_context():
        session = state(app).session
        matrix = load_state(session, "view")
        changes = changes_from_grid(matrix, form["shown_roles"][0].split(),
                                    form["shown_fields"][0].split(),
                                    {tuple(c.split(" ", 1)) for c in data["grant"]})
        after = {r.role: opened(r.after, matrix.field_ids) for r in rewrites(matrix, changes)}
        result = impact(session, matrix, after, utcnow())
        row(f"impact() alone ({cell})",
            measure(lambda: impact(session, matrix, after, utcnow()), n),
            f"{result.people} users affected")
        session.rollback()


def apply_one_cell(app, role: str) -> float:  # noqa: ANN001
    """Review and apply one unchecked cell, signed in afresh; the apply request's time."""
    client = signed_in_client(app)
    form = grid_form(client.get("/console/role-matrix?action=view").get_data(as_text=True))
    cell = next(c for c in form["grant"] if c.startswith(role + " "))
    page = client.post("/console/role-matrix/review", data={
        **form, "grant": [c for c in form["grant"] if c != cell]}).get_data(as_text=True)
    apply_form = page[page.index('action="/console/role-matrix/apply"'):]
    apply_form = apply_form[:apply_form.index("</form>")]
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                  apply_form):
        data.setdefault(name, []).append(html.unescape(value))
    began = time.perf_counter()
    response = client.post("/console/role-matrix/apply", data=data)
    elapsed = time.perf_counter() - began
    if response.status_code != 302:
        raise RuntimeError(f"apply: {response.status_code}")
    return elapsed


def held_counts(org: dict) -> Counter:
    return Counter(a["role"] for u in org["users"] for a in u["roles"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of the 10,000-user organisation (smaller for a quick check)")
    args = parser.parse_args()
    header = ["| backend | what | calls | p50 ms | p95 ms | note |", "|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        rows += run_backend(backend, args)
    print("\n".join(["", *header, *rows]))


if __name__ == "__main__":
    main()
