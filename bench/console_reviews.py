"""The Reviews pages on the 10,000-user organisation (issue 15, item 3).

    .venv/bin/python bench/console_reviews.py [--backend sqlite|postgres|both] [--n 20]
                                              [--fraction 1.0]

The organisation of bench/scale_org.py (10,000 users, 40 roles of which 20 elevated, 20
programs), plus a reviewer who reviews everywhere (``console: [reviewer]``, approves overrides
organisation-wide), applied to a fresh database with the real apply. Every assignment is dated
90 days back and half of them used two days ago, so recommendations are mixed. The reviewer
then opens, through the console's form, one campaign of every elevated role (about 7,500 items)
and five of one program each. Through Flask's test client signed in as that reviewer (the page
rendered, as a browser gets it): ``--n`` loads of each page after one warm-up, and ``--n``
``Submit decisions`` of a whole page (50 items, half revoked). Prints the median, p95 and worst
wall-clock time in ms, the median CPU time of this process (the server's own work; on a loaded
machine wall-clock includes waiting for a core) and the cold first load; then the one-off
writes: opening the big campaign, and ``Accept recommendations`` for one program.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.access_explorer import timed  # noqa: E402
from bench.harness import database  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.models import ReviewCampaign, ReviewItem, RoleAssignment  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402

REVIEWER, PASSWORD = "bench-reviewer", "a benchmark's long passphrase"
BUDGET_MS = 200
PROGRAM = "prog03"


def review_org(fraction: float) -> dict:
    org = build_scale_org(fraction)
    org["roles"].append({"id": "bench_reviewer", "scope": "organization",
                         "console": ["reviewer"], "approves": ["override"],
                         "grants": {"view": [], "export": [], "disclose": []}})
    org["users"].append({"id": REVIEWER, "name": "Bench Reviewer",
                         "roles": [{"role": "bench_reviewer"}]})
    return org


def age_assignments(app) -> None:  # noqa: ANN001
    """Assignments made 90 days ago, half of them used two days ago (bench setup only)."""
    with app.app_context():
        session, now = state(app).session, utcnow()
        session.execute(update(RoleAssignment).values(created_at=now - timedelta(days=90)))
        ids = list(session.scalars(select(RoleAssignment.id)))
        session.execute(update(RoleAssignment).where(RoleAssignment.id.in_(ids[::2])).values(
            last_used_at=now - timedelta(days=2)))
        session.commit()


class Console:
    """The test client signed in as the reviewer, and its CSRF token."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.client = app.test_client()
        answer = self.client.post("/console/sign-in", data={
            "user": REVIEWER, "password": PASSWORD,
            "csrf_token": self.token("/console/sign-in")})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
        self.csrf = self.token("/console/")  # the session's token, for every form after

    def token(self, path: str) -> str:
        page = self.client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    def get(self, path: str, **query):  # noqa: ANN201
        def call() -> None:
            answer = self.client.get(path, query_string=query)
            assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        return call

    def post(self, path: str, data: dict, status: int = 302):  # noqa: ANN201
        answer = self.client.post(path, data={**data, "csrf_token": self.csrf})
        assert answer.status_code == status, answer.get_data(as_text=True)[-1500:]
        return answer


def open_campaigns(console: Console) -> tuple[str, float]:
    """The big campaign (every elevated role) and five one-program ones; the big one's id and
    the seconds its form post took."""
    due = (date.today() + timedelta(days=14)).isoformat()
    began = time.perf_counter()
    answer = console.post("/console/reviews/campaigns", {"due": due, "on_no_decision": "revoke",
                                                         "unused_days": "30"})
    opened = time.perf_counter() - began
    for n in range(5):
        console.post("/console/reviews/campaigns", {
            "programs": f"prog{10 + n:02d}", "due": due, "on_no_decision": "keep",
            "unused_days": "30"})
    return answer.headers["Location"].rsplit("/", 1)[1], opened


def submit_a_page(console: Console, app, campaign: str):  # noqa: ANN001, ANN201
    """``Submit decisions`` for the first 50 open items of the big campaign: half revoked."""
    def call() -> None:
        with app.app_context():
            session = state(app).session
            ids = list(session.scalars(select(ReviewItem.id).where(
                ReviewItem.campaign_id == campaign, ReviewItem.status == "open",
                ReviewItem.user_id != REVIEWER).order_by(ReviewItem.user_id).limit(50)))
            session.rollback()
        data = {"item": ids}
        for index, item_id in enumerate(ids):
            data[f"decision-{item_id}"] = "revoke" if index % 2 else "keep"
            data[f"note-{item_id}"] = "bench"
        answer = console.client.post(f"/console/reviews/decisions?campaign={campaign}",
                                     data={**data, "csrf_token": console.csrf})
        assert answer.status_code == 302, answer.get_data(as_text=True)[-1500:]
    return call


def run_backend(backend: str, args: argparse.Namespace) -> tuple[list[str], list[str]]:
    rows, once = [], []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, Path(tmp)),
                          "GOVERNANCE_SECRET_KEY": "bench",
                          "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                          "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
        org = review_org(args.fraction)
        with app.app_context():
            began = time.perf_counter()
            apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
            print(f"{backend}: applied {len(org['users']):,} users in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
            SetPassword(REVIEWER, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
        age_assignments(app)
        console = Console(app)
        campaign, opened_s = open_campaigns(console)
        with app.app_context():
            big = len(state(app).session.scalars(select(ReviewItem.id).where(
                ReviewItem.campaign_id == campaign)).all())
            campaigns = len(state(app).session.scalars(select(ReviewCampaign.id)).all())
            state(app).session.rollback()
        once.append(f"| {backend} | open a campaign of every elevated role ({big:,} items), "
                    f"form post | {opened_s * 1e3:.0f} |")
        decide = submit_a_page(console, app, campaign)
        decide()  # some progress before the pages are read
        last = -(-big // 50)
        cases = [
            (f"my items, page 1 ({big:,} open in {campaigns} campaigns)",
             console.get("/console/reviews")),
            (f"my items, last page ({last})", console.get("/console/reviews", page=str(last))),
            (f"my items, {PROGRAM}, recommended revoke",
             console.get("/console/reviews", program=PROGRAM, recommendation="revoke")),
            ("my items, person contains 'u012'", console.get("/console/reviews",
                                                              person="u012")),
            (f"campaigns list ({campaigns}, with the progress chart)",
             console.get("/console/reviews/campaigns")),
            ("the big campaign, its chart per program and items page 1",
             console.get(f"/console/reviews/campaigns/{campaign}")),
            ("the big campaign, revoked items only",
             console.get(f"/console/reviews/campaigns/{campaign}", state="revoke")),
            ("dashboard (review items due, overdue campaigns)", console.get("/console/")),
            ("Submit decisions, 50 items (25 revoked)", decide),
        ]
        for name, call in cases:
            cold, warm, cpu = timed(call, args.n)
            p95 = sorted(warm)[min(len(warm) - 1, int(len(warm) * 0.95))]
            rows.append(f"| {backend} | {name} | {statistics.median(warm):.1f} | {p95:.1f} | "
                        f"{max(warm):.1f} | {statistics.median(cpu):.1f} | {cold:.0f} |")
            print(rows[-1], flush=True)
        page = console.client.get("/console/reviews", query_string={"program": PROGRAM})
        shown = re.search(r'name="fingerprint" value="([0-9a-f]+)".*?revokes ([\d,]+) item',
                          page.get_data(as_text=True), re.S)
        if shown:
            began = time.perf_counter()
            console.client.post(f"/console/reviews/accept-recommendations?program={PROGRAM}",
                                data={"justification": "unused for 30 days",
                                      "fingerprint": shown.group(1),
                                      "csrf_token": console.csrf})
            once.append(f"| {backend} | Accept recommendations in {PROGRAM} "
                        f"({shown.group(2)} items revoked) | "
                        f"{(time.perf_counter() - began) * 1e3:.0f} |")
        with app.app_context():
            state(app).engine.close()
            state(app).session.remove()
            state(app).db.engine.dispose()
    return rows, once


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
    rows, once = [], []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        found = run_backend(backend, args)
        rows += found[0]
        once += found[1]
    print("\n".join(["", f"Budget: {BUDGET_MS} ms a page. Load average while measured: "
                      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
                      f"{os.cpu_count()} cores.", *header, *rows, "",
                      "| backend | one-off write | ms |", "|---|---|---|", *once]))


if __name__ == "__main__":
    main()
