"""The console's Directory page on the 10,000-user organisation (issue 14: every list under
200 ms).

    .venv/bin/python bench/console_directory.py [--backend sqlite|postgres|both] [--n 20]

The organisation of bench/scale_org.py with a console administrator (as
bench/access_explorer.py builds it), applied to a fresh database; then, through Flask's test
client signed in as that administrator, ``--n`` loads of the page after one warm-up: the first
page of people, the last page, a search by name, the disabled ones. No directory is configured,
so the page reads only the store (the connection panel says so). Prints the median, p95 and
worst wall-clock ms and the median CPU ms of this process (on a loaded machine the wall-clock
includes waiting for a core).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.access_explorer import (  # noqa: E402
    ADMIN,
    PASSWORD,
    explorer_org,
    signed_in_client,
    timed,
)
from bench.harness import close_app, console_bench_app, page_row  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402

URL, PER_PAGE, BUDGET_MS = "/console/directory", 50, 200


def load(client, query: dict):  # noqa: ANN001, ANN201
    def call() -> None:
        answer = client.get(URL, query_string=query)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return call


def run_backend(backend: str, n: int) -> list[str]:
    org = explorer_org(1.0)
    for user in org["users"][::100]:  # 1% disabled, as leavers not yet removed
        if user["id"] != ADMIN:
            user["active"] = False
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app, seconds = console_bench_app(stack, backend, Path(tmp), org)
        print(f"{backend}: applied {len(org['users']):,} users in {seconds:.1f} s",
              file=sys.stderr)
        with app.app_context():
            SetPassword(ADMIN, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
        client = signed_in_client(app)
        last = -(-len(org["users"]) // PER_PAGE)
        cases = [("people, page 1", {}), (f"people, last page ({last})", {"page": last}),
                 ("name, id or e-mail contains '00'", {"q": "00"}),
                 ("disabled people", {"status": "disabled"})]
        rows = [page_row(backend, what, *timed(load(client, query), n))
                for what, query in cases]
        close_app(app)
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    rows = [row for backend in backends for row in run_backend(backend, args.n)]
    print(f"Directory page, {args.n} loads each (goal: under {BUDGET_MS} ms at the median)")
    print("| backend | page | median ms | p95 ms | worst ms | CPU ms (median) | first ms |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
