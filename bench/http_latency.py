"""Decision latency over HTTP under gunicorn, against a static JSON endpoint of the same app.

    .venv/bin/python bench/http_latency.py [--backend sqlite|postgres|both] [--n 2000]
        [--durability fsync|commit|both] [--worker sync|gthread]

For each backend: a fresh database with the demo organisation, one gunicorn worker, and a client
on the same machine that interleaves GET /.well-known/authzen-configuration (static JSON) with
20-field view, export and disclose decisions, each answered only after its audit row commits.
Before timing, the reference cases of tests/unit/test_decision_rules.py are sent to a server
loaded with tests/fixtures/org.yaml: the served fast path must answer every one as the tests do.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Client, database, figures, serve_ours  # noqa: E402
from governance.demo import build_demo_org  # noqa: E402

TARGET_RATIO, TARGET_P99_MS = 1.5, 5.0


def bodies() -> dict[str, bytes]:
    fields = [f["id"] for f in build_demo_org()["fields"][:20]]
    base = {"participant": "p-100", "program": "housing", "fields": fields}
    requests = {
        "view": {**base, "subject": "alice", "action": "view"},
        "export": {**base, "subject": "sam", "action": "export", "purpose": "operations"},
        "disclose": {**base, "subject": "alice", "action": "disclose",
                     "purpose": "housing_referral", "recipient": "city_housing",
                     "bundle": "housing_referral_standard"},
    }
    return {name: json.dumps(body).encode() for name, body in requests.items()}


def verify_reference(stack: ExitStack, tmp: Path, backend: str, gunicorn: tuple) -> str:
    """Every reference case, over HTTP, answers exactly as the rule tests expect."""
    from tests.unit.test_decision_rules import CASES

    url = database(stack, backend, tmp)
    port, key = serve_ours(stack, tmp, url, org=ROOT / "tests/fixtures/org.yaml",
                           gunicorn=gunicorn)
    client = Client(port, "/api/v1/decisions", {"Authorization": f"Bearer {key}"})
    wrong = []
    for case in CASES:
        request, expect, allowed, denied, obligations = case.values
        _, raw = client.post(json.dumps(request).encode())
        got = json.loads(raw)
        if (got["decision"], got["allowed"], got["denied"], got["obligations"]) != (
                expect, allowed, denied, obligations):
            wrong.append(case.id)
    if wrong:
        sys.exit(f"reference cases answered differently over HTTP: {wrong}")
    return f"{len(CASES)}/{len(CASES)} reference cases agree"


def measure(stack: ExitStack, tmp: Path, backend: str, durability: str, gunicorn: tuple,
            n: int) -> None:
    url = database(stack, backend, tmp)
    port, key = serve_ours(stack, tmp, url, gunicorn=gunicorn,
                           env={"GOVERNANCE_AUDIT_DURABILITY": durability})
    static = Client(port, "/.well-known/authzen-configuration", {})
    decide = Client(port, "/api/v1/decisions", {"Authorization": f"Bearer {key}"})
    samples: dict[str, list[float]] = {"static": [], "view": [], "export": [], "disclose": []}
    requests = bodies()
    for i in range(n + n // 10):
        for name, body in requests.items():
            t_static, _ = static.get()
            t_decide, _ = decide.post(body)
            if i >= n // 10:  # the first tenth warms up
                samples["static"].append(t_static)
                samples[name].append(t_decide)
    base = statistics.median(samples["static"]) * 1e3
    for name, values in samples.items():
        p50, p99, _ = figures(values)
        ok = "" if name == "static" else (
            "  ok" if p50 <= TARGET_RATIO * base and p99 < TARGET_P99_MS else "  MISSED")
        print(f"  {backend:9} {durability:6} {name:9} p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  "
              f"x{p50 / base:4.2f} static{ok}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--durability", choices=["fsync", "commit", "both"], default="both")
    parser.add_argument("--worker", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    gunicorn = ("-w", "1") if args.worker == "sync" else ("-w", "1", "-k", "gthread",
                                                           "--threads", "4")
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    modes = ["fsync", "commit"] if args.durability == "both" else [args.durability]
    print(f"gunicorn {' '.join(gunicorn)}; target: p50 <= {TARGET_RATIO}x static, "
          f"p99 < {TARGET_P99_MS} ms")
    for backend in backends:
        with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
            print(f"  {backend}: {verify_reference(stack, Path(tmp), backend, gunicorn)}")
        for mode in modes:
            with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
                measure(stack, Path(tmp), backend, mode, gunicorn, args.n)


if __name__ == "__main__":
    main()
