"""The console's Audit page on a long trail (issue 14: every list under 200 ms).

    .venv/bin/python bench/audit_console.py [--backend sqlite|postgres] [--rows 120000] [--n 20]

Applies the console's test organisation, appends ``--rows`` audit events through the real
chain writer (decisions with the payload a 6-field request gives, spread over 2,000 users,
20,000 participants and 30 days, with org changes and sign-ins between them), signs the
auditor in through the form and times the server rendering each page through Flask's test
client (each page view also writes its own ``audit.viewed`` row and commits it, as in
production). Prints the median and p95 per page; the integrity check and a CSV export are
timed once each.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database  # noqa: E402
from governance import audit, create_app  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.migrate import upgrade_database  # noqa: E402
from governance.models import AuditEvent  # noqa: E402
from governance.operations.apply_organisation import ApplyOrganisation  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.orgfile import validate  # noqa: E402
from tests.console.conftest import console_org  # noqa: E402
from tests.signin.conftest import PASSWORD, sign_in  # noqa: E402

USERS, PARTICIPANTS, DAYS = 2000, 20_000, 30
FIELDS = ["identity.name", "identity.dob", "contact.phone", "contact.address",
          "risk.safety_note", "clinical.diagnosis"]
START = datetime(2026, 10, 24, 8, 0)
LIMIT_MS = 200


def synthetic_rows(count: int, seed: int = 7):
    """Audit rows as the service writes them, oldest first (``at`` grows with ``seq``)."""
    rng = random.Random(seed)
    step = timedelta(days=DAYS) / count
    for i in range(count):
        at = START + step * i
        user = f"u{rng.randrange(USERS):04d}"
        participant = f"p-{rng.randrange(PARTICIPANTS):05d}"
        roll = rng.random()
        if roll < 0.9:
            allowed = FIELDS[:rng.randrange(1, 6)]
            denied = {f: "no_role_grant" for f in FIELDS if f not in allowed}
            payload = {"request": {"subject": user, "action": "view",
                                   "participant": participant, "program": "housing",
                                   "fields": FIELDS},
                       "decision_id": f"dec_{i:026d}", "decision": "partial",
                       "allowed": allowed, "denied": denied, "obligations": [],
                       "policy_version": "0123456789abcdef",
                       "basis": {f: [f"assignment:{rng.randrange(1, 3000)}"] for f in allowed},
                       "caller": "ehr", "via": "api"}
            yield audit.new_row("decision", payload, actor="ehr", subject=user,
                                participant=participant, ref=payload["decision_id"], at=at)
        elif roll < 0.97:
            yield audit.new_row("signin", {"user": user, "address": "10.0.0.7"},
                                actor=user, subject=user, ref=user, at=at)
        else:
            yield audit.new_row("org.change", {"section": "involvements", "op": "create",
                                               "key": f"{user} {participant} housing - -"},
                                actor="cli", subject=user, participant=participant, at=at)


def build(url: str, rows: int):
    app = create_app({"GOVERNANCE_DATABASE_URL": url, "GOVERNANCE_SECRET_KEY": "bench",
                      "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "100000 per minute",
                      "GOVERNANCE_SIGNIN_RATE_PER_USER": "100000 per minute"})
    with app.app_context():
        upgrade_database()
        session = state(app).session
        ApplyOrganisation(validate(console_org()), actor="bench", now=START).execute(session)
        started, batch = time.perf_counter(), []
        for row in synthetic_rows(rows):
            batch.append(row)
            if len(batch) == 5000:
                audit.append_rows(session, batch)
                session.commit()
                batch = []
        audit.append_rows(session, batch)
        session.commit()
        print(f"appended {rows:,} audit rows in {time.perf_counter() - started:.1f} s")
        SetPassword("cora", PASSWORD, datetime.now(), actor="bench").execute(session)
        if session.get_bind().dialect.name == "postgresql":
            session.connection().exec_driver_sql("ANALYZE audit_event")
            session.commit()
    return app


def timed(client, path: str, n: int) -> tuple[float, float, int]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        samples.append(time.perf_counter() - start)
        if response.status_code != 200:
            sys.exit(f"{path}: HTTP {response.status_code} {body[:300]!r}")
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1e3,
            ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1e3, len(body))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=120_000)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        app = build(database(stack, args.backend, Path(tmp)), args.rows)
        client = app.test_client()
        if sign_in(client, "cora").status_code != 302:
            sys.exit("the auditor could not sign in")
        with app.app_context():
            session = state(app).session
            middle = args.rows // 2
            decision = session.scalar(
                AuditEvent.__table__.select().with_only_columns(AuditEvent.seq)
                .where(AuditEvent.kind == "decision", AuditEvent.seq > middle).limit(1))
            session.rollback()
        day = (START + timedelta(days=DAYS // 2)).date().isoformat()
        pages = [
            ("newest events", "/console/audit"),
            ("page in the middle (before=)", f"/console/audit?before={middle}"),
            ("newer from the middle (after=)", f"/console/audit?after={middle}"),
            ("user u0042 (actor or subject)", "/console/audit?user=u0042"),
            ("user ehr (actor of 90%)", "/console/audit?user=ehr"),
            ("participant p-01234", "/console/audit?participant=p-01234"),
            ("kind decision", "/console/audit?kind=decision"),
            ("kind family org.*", "/console/audit?kind=org.*"),
            ("one day, mid-trail", f"/console/audit?since={day}&until={day}"),
            ("user u0042 + kind signin", "/console/audit?user=u0042&kind=signin"),
            ("event detail (a decision)", f"/console/audit/events/{decision}"),
        ]
        print(f"\nAudit page, {args.backend}, {args.rows:,} events, {args.n} runs each "
              f"(goal: under {LIMIT_MS} ms)")
        print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'bytes':>8}")
        slow = []
        for label, path in pages:
            median, p95, size = timed(client, path, args.n)
            print(f"{label:34} {median:10.1f} {p95:8.1f} {size:8,}")
            if p95 > LIMIT_MS:
                slow.append(label)
        for label, path in (("CSV, participant p-01234", "/console/audit/export.csv?"
                                                         "participant=p-01234"),
                            ("CSV, one day", f"/console/audit/export.csv?since={day}"
                                             f"&until={day}")):
            median, _p95, size = timed(client, path, 1)
            print(f"{label:34} {median:10.1f} {'':8} {size:8,}")
        token_page = client.get("/console/audit").get_data(as_text=True)
        token = token_page.split('name="csrf_token" type="hidden" value="', 1)[1].split('"')[0]
        start = time.perf_counter()
        response = client.post("/console/audit/verify", data={"csrf_token": token})
        print(f"{'integrity check (whole chain)':34} "
              f"{(time.perf_counter() - start) * 1e3:10.1f}  "
              f"{'intact' if b'is intact' in response.data else 'NOT INTACT'}")
        if slow:
            print(f"\nover {LIMIT_MS} ms at p95: {', '.join(slow)}")


if __name__ == "__main__":
    main()
