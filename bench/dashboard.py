"""The dashboard's server time on a big audit trail (issue 14, item 2).

    .venv/bin/python bench/dashboard.py [--backend sqlite|postgres|both] [--decisions 100000]
                                        [--older 100000] [--n 10]

A fresh database with the console's test organisation (tests/console/conftest.py), then a
trail of ``--decisions`` decision rows spread over the dashboard's 14 days and ``--older``
rows from the year before (outside the window, which the charts must not pay for). The rows
are real decisions: payloads made by the decision pipeline for the ten request shapes of
tests/browser/activity.py, then stamped at spread-out times and chained with the trail's own
digest and link, so ``audit verify`` passes on the result. Prints the median and worst of
``--n`` runs of each chart's read and of the whole page (``GET /console/`` as the compliance
officer, who sees every card and chart), through Flask's test client, both with the past days'
counts kept (every load after a worker's first of the day) and with nothing kept.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database  # noqa: E402
from governance import audit, create_app  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.decisions import decide_unrecorded  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.ids import new_id  # noqa: E402
from governance.migrate import upgrade_database  # noqa: E402
from governance.models import AuditEvent, AuditHead  # noqa: E402
from governance.operations.apply_organisation import ApplyOrganisation  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402
from governance.policy.request import parse_decision_request  # noqa: E402
from governance.reads.dashboard import (  # noqa: E402
    Window,
    days_seen,
    elevation_per_program,
    trail_figures,
)
from tests.browser.activity import REQUESTS  # noqa: E402
from tests.console.conftest import console_org  # noqa: E402

PASSWORD = "a benchmark's long passphrase"
CHUNK = 5000


def templates(app, now) -> list[dict]:  # noqa: ANN001
    """One real decision row per request shape."""
    snapshot = state(app).snapshot()
    rows = []
    for subject, action, participant, program, fields, extra in REQUESTS:
        request = parse_decision_request({"subject": subject, "action": action,
                                          "participant": participant, "program": program,
                                          "fields": fields, **extra})
        _, row = decide_unrecorded(snapshot, request, now, caller="bench", via="decisions")
        rows.append(row)
    return rows


def fill_trail(app, now, decisions: int, older: int) -> None:  # noqa: ANN001
    """Append ``decisions`` rows in the window and ``older`` before it, chained."""
    shapes = templates(app, now)
    rng = random.Random(14)
    window = 14 * 24 * 3600 - 60
    moments = sorted(
        [now - timedelta(days=380) + timedelta(seconds=rng.randrange(360 * 24 * 3600))
         for _ in range(older)]
        + [now - timedelta(seconds=rng.randrange(window)) for _ in range(decisions)])
    session = state(app).session
    head = session.scalars(select(AuditHead)).one()
    seq, prev = head.seq, head.hash
    batch = []
    for at in moments:
        shape = shapes[rng.randrange(len(shapes))]
        ref = new_id("dec")  # every decision has its own id, so no two payloads are the same
        payload = shape["payload"].replace(shape["ref"], ref)
        seq += 1
        digest = audit.content_digest(at, "decision", shape["actor"], shape["subject"],
                                      shape["participant"], ref, payload)
        linked = audit.link(prev, seq, digest)
        batch.append({"seq": seq, "at": at, "kind": "decision", "actor": shape["actor"],
                      "subject": shape["subject"], "participant": shape["participant"],
                      "ref": ref, "payload": payload, "prev_hash": prev,
                      "hash": linked})
        prev = linked
        if len(batch) == CHUNK:
            _write(session, batch)
            batch = []
    _write(session, batch)
    session.execute(update(AuditHead).values(seq=seq, hash=prev))
    session.commit()


def _write(session, batch: list[dict]) -> None:  # noqa: ANN001
    if batch:
        session.execute(insert(AuditEvent), batch)
        session.commit()


def timed(call, n: int) -> tuple[float, float]:  # noqa: ANN001
    call()  # warm-up: connections, the policy snapshot, template compilation
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1e3, max(samples) * 1e3


def run(backend: str, decisions: int, older: int, n: int) -> list[tuple[str, float, float]]:
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = database(stack, backend, tmp)
        app = create_app({"GOVERNANCE_DATABASE_URL": url, "GOVERNANCE_SECRET_KEY": "bench",
                          "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                          "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
        now = utcnow()
        with app.app_context():
            upgrade_database()
            session = state(app).session
            ApplyOrganisation(validate(console_org()), actor="bench", now=now).execute(session)
            SetPassword("cora", PASSWORD, now, actor="bench").execute(session)
            began = time.perf_counter()
            fill_trail(app, now, decisions, older)
            print(f"  {backend}: {decisions:,} + {older:,} rows written in "
                  f"{time.perf_counter() - began:.0f} s", file=sys.stderr)
            window = Window.ending(now)
            days = trail_figures(session, window).days
            print(f"  {backend}: {sum(d.withheld for d in days):,} of "
                  f"{sum(d.total for d in days):,} decisions withheld a field", file=sys.stderr)

            def cold(session=session, window=window) -> None:
                days_seen.clear()
                trail_figures(session, window)

            figures = [("trail, no day kept yet", *timed(cold, n)),
                       ("trail, past days kept", *timed(
                           lambda: trail_figures(session, window), n)),
                       ("overrides per program", *timed(
                           lambda: elevation_per_program(session, window), n))]
            session.remove()
        client = app.test_client()
        page = client.get("/console/sign-in").get_data(as_text=True)
        token = page.split('name="csrf_token"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
        signed = client.post("/console/sign-in", data={"user": "cora", "password": PASSWORD,
                                                       "csrf_token": token})
        assert signed.status_code == 302, signed.get_data(as_text=True)[:500]

        def page_call() -> None:
            answer = client.get("/console/")
            assert answer.status_code == 200 and b"Decisions per day" in answer.data

        figures.append(("whole page, GET /console/", *timed(page_call, n)))
        days_seen.clear()
        figures.append(("whole page, no day kept", *timed(
            lambda: (days_seen.clear(), page_call()), n)))
        with app.app_context():
            state(app).engine.close()
            state(app).session.remove()
            state(app).db.engine.dispose()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--decisions", type=int, default=100_000)
    parser.add_argument("--older", type=int, default=100_000)
    parser.add_argument("--n", type=int, default=10)
    args = parser.parse_args()
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    print(f"Dashboard on {args.decisions:,} decisions in the last 14 days "
          f"(+{args.older:,} older), median and worst of {args.n}, ms")
    for backend in backends:
        for name, median, worst in run(backend, args.decisions, args.older, args.n):
            print(f"  {backend:9} {name:28} {median:8.1f} {worst:8.1f}")


if __name__ == "__main__":
    main()
