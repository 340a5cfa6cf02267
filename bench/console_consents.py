"""The Consents and Disclosures pages on the 10,000-user organisation (issue 15, items 4-5).

    .venv/bin/python bench/console_consents.py [--backend sqlite|postgres|both] [--n 20]
                                               [--fraction 1.0] [--disclosures 20000]

The organisation of bench/scale_org.py (10,000 users, 100,000 participants each with a consent,
50 partners, 20 bundles, 300 fields), plus the console administrator of bench/access_explorer.py
(who may open both pages), applied to a fresh database with the real apply; then
``--disclosures`` disclosure rows over the last 60 days (one participant with 60 of them, so
their accounting has pages) and one real disclose decision made through the API. Through
Flask's test client signed in as that administrator (each page rendered, as a browser gets it):
``--n`` loads of each page after one warm-up, and ``--n`` renewals and revocations through
their forms (each on another consent). Prints the median, p95 and worst wall-clock time in ms,
the median CPU time of this process (the server's own work: on a shared, loaded machine the
wall-clock figures include waiting for a core) and the cold first load.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import sys
import tempfile
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

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
from governance.ids import new_id  # noqa: E402
from governance.models import Consent, Disclosure  # noqa: E402
from governance.operations.api_keys import CreateApiKey  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402

BUDGET_MS = 200
BUSY = "p000042"  # the participant with many disclosures


def add_disclosures(app, org: dict, count: int) -> list[str]:  # noqa: ANN001
    """``count`` disclosure rows over the last 60 days; their ids."""
    rng = random.Random(15)
    now = utcnow()
    participants = [p["id"] for p in org["participants"]]
    partners = [p["id"] for p in org["partners"]]
    purposes = [(p["id"], p["basis"]) for p in org["purposes"]]
    fields = [f["id"] for f in org["fields"]]
    rows = []
    for i in range(count):
        purpose, basis = rng.choice(purposes)
        emergency = basis == "emergency"
        rows.append({
            "id": new_id("dsc"), "decision_id": new_id("dec"),
            "at": now - timedelta(seconds=rng.randrange(60 * 24 * 3600)),
            "actor": f"u{rng.randrange(len(org['users']) - 1):05d}",
            "participant_id": BUSY if i < 60 else rng.choice(participants),
            "program_id": "prog00", "recipient_id": rng.choice(partners),
            "purpose_id": purpose, "basis": basis, "bundle_id": None,
            "channel": "secure_portal", "fields": rng.sample(fields, 3),
            "withheld": {rng.choice(fields): "no_consent"},
            "permission": {"consents": [], "escalations": [],
                           "legal_basis": basis},
            "justification": "bench" if emergency else None,
            "accountable": basis not in ("treatment", "payment", "operations",
                                         "authorization"),
            "obligations": [], "review_status": "pending" if emergency and i % 50 == 0
            else None})
    with app.app_context():
        session = state(app).session
        for start in range(0, len(rows), 5000):
            session.execute(insert(Disclosure), rows[start:start + 5000])
        session.commit()
    return [r["id"] for r in rows]


def get(client, url: str):  # noqa: ANN001, ANN201
    def call() -> None:
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:500])
    return call


def posts(client, urls: list[str], form: dict, token: str):  # noqa: ANN001, ANN201
    """Each call posts ``form`` to the next of ``urls`` (a write on another consent)."""
    pending = iter(urls)

    def call() -> None:
        answer = client.post(next(pending), data={**form, "csrf_token": token})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return call


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        org = explorer_org(args.fraction)
        app, took = console_bench_app(stack, backend, Path(tmp), org)
        print(f"{backend}: applied {len(org['users']):,} users, "
              f"{len(org['participants']):,} participants in {took:.1f} s", file=sys.stderr)
        with app.app_context():
            SetPassword(ADMIN, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
            key = CreateApiKey(f"bench-{backend}", ("decide",)).execute(state(app).session)
            consents = list(state(app).session.scalars(
                select(Consent.id).where(Consent.ended_at.is_(None)).order_by(Consent.id)
                .limit(2 * args.n + 10)))
            state(app).session.rollback()
        disclosures = add_disclosures(app, org, args.disclosures)
        decision = app.test_client().post("/api/v1/decisions", headers={
            "Authorization": f"Bearer {key}"}, json={
            "subject": "u00001", "action": "disclose", "participant": BUSY,
            "program": "prog00", "fields": ["g00.f0", "g01.f1"], "purpose": "purpose1",
            "recipient": "partner01"}).get_json()["decision_id"]
        client = signed_in_client(app)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(
            f"/console/consents/{consents[0]}").get_data(as_text=True)).group(1)
        month = utcnow().strftime("%Y-%m")
        cases = [
            ("Consents: participants whose id contains '0123'", get(client,
             "/console/consents?q=0123")),
            ("Consents: every participant, page 1 (100,000)", get(client, "/console/consents")),
            ("Consents: every participant, page 4,000", get(client,
             "/console/consents?page=4000")),
            ("Consents: participants of prog03", get(client, "/console/consents?program=prog03")),
            (f"a participant's consents ({BUSY}), summary and previews", get(
                client, f"/console/consents/participants/{BUSY}")),
            ("a consent: versions, previews, forms", get(
                client, f"/console/consents/{consents[0]}")),
            ("the consent form (50 partners)", get(client, "/console/consents/new")),
            ("consents to renew within 30 days, page 1", get(client, "/console/consents/renew")),
            ("consents to renew within 365 days, page 20", get(
                client, "/console/consents/renew?within=365&page=20")),
            ("renew a consent (form post)", posts(
                client, [f"/console/consents/{c}/renew" for c in consents[1:args.n + 2]],
                {"until": (utcnow() + timedelta(days=400)).date().isoformat()}, token)),
            ("revoke a consent (form post)", posts(
                client, [f"/console/consents/{c}/revoke"
                         for c in consents[args.n + 2:2 * args.n + 3]],
                {"reason": "bench"}, token)),
            (f"Disclosures: page 1 of {args.disclosures:,}", get(client, "/console/disclosures")),
            ("Disclosures: to partner07, page 2", get(
                client, "/console/disclosures?recipient=partner07&page=2")),
            (f"accounting of {BUSY} (60 entries), page 1", get(
                client, f"/console/disclosures/accounting?participant={BUSY}")),
            (f"Download CSV of {BUSY}'s accounting", get(
                client, f"/console/disclosures/accounting.csv?participant={BUSY}")),
            (f"sampling audit of {month}, 20 drawn", get(
                client, f"/console/disclosures/sampling?month={month}&size=20&seed=7")),
            ("a cover sheet", get(client, f"/console/disclosures/{disclosures[0]}/cover-sheet")),
            ("record a disclosure: the decision shown", get(
                client, f"/console/disclosures/record?decision={decision}")),
        ]
        for name, call in cases:
            rows.append(page_row(backend, name, *timed(call, args.n)))
            print(rows[-1], flush=True)
        close_app(app)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of the 10,000-user organisation (smaller for a quick check)")
    parser.add_argument("--disclosures", type=int, default=20_000)
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
