"""In-process decision latency on the demo organisation (20-field requests).

    .venv/bin/python bench/decision_latency.py [--backend sqlite|postgres] [--n 2000]

Prints p50/p99 for: the pure pipeline (snapshot lookup + rules), and the full API call through
Flask's test client, including the durable audit row and its commit.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from governance import create_app  # noqa: E402
from governance.cli import apply_spec  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.demo import build_demo_org  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.operations.api_keys import CreateApiKey  # noqa: E402
from governance.orgfile import validate  # noqa: E402
from governance.policy.pipeline import decide  # noqa: E402
from governance.policy.request import parse_decision_request  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def requests_for(org: dict) -> dict[str, dict]:
    """View, export and disclose requests of 20 fields each (the record's first 20, as a
    screen or referral would ask for them), by demo users with real work on p-100."""
    fields = [f["id"] for f in org["fields"][:20]]
    base = {"participant": "p-100", "program": "housing", "fields": fields}
    return {
        "view": {**base, "subject": "alice", "action": "view"},
        "export": {**base, "subject": "sam", "action": "export", "purpose": "operations"},
        "disclose": {**base, "subject": "alice", "action": "disclose",
                     "purpose": "housing_referral", "recipient": "city_housing",
                     "bundle": "housing_referral_standard"},
    }


def percentiles(samples: list[float]) -> str:
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(len(samples) * 0.99) - 1]
    return f"p50 {p50 * 1000:7.3f} ms   p99 {p99 * 1000:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    if args.backend == "sqlite":
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    else:
        name = f"ntk_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = PG.rsplit("/", 1)[0] + "/" + name
    app = create_app({"GOVERNANCE_DATABASE_URL": url})
    org = build_demo_org()
    with app.app_context():
        apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="demo")
        key = CreateApiKey("bench", ("decide",)).execute(state(app).session)
        snapshot = state(app).engine.snapshot(state(app).session)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    print(f"backend={args.backend} fields={len(snapshot.field_ids)} n={args.n}")
    for action, body in requests_for(org).items():
        request = parse_decision_request(body)
        pure = []
        for _ in range(args.n):
            start = time.perf_counter()
            outcome = decide(snapshot, request, utcnow())
            pure.append(time.perf_counter() - start)
        full = []
        for _ in range(args.n):
            start = time.perf_counter()
            response = client.post("/api/v1/decisions", json=body, headers=headers)
            full.append(time.perf_counter() - start)
            assert response.status_code == 200
        assert response.json["allowed"] == outcome.allowed  # the API answers as the pipeline
        print(f"{action:9} decision={outcome.decision:8} pipeline {percentiles(pure)}   "
              f"API+audit {percentiles(full)}")
    if args.backend == "postgres":
        state(app).engine.close()
        with app.app_context():
            state(app).db.engine.dispose()
        with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
