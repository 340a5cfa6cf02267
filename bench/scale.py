"""How apply, cold start, memory and decision latency grow with the organisation (target 4).

    .venv/bin/python bench/scale.py [--fractions 0.1 0.25 0.5 1.0] [--backend postgres|sqlite]

For each fraction of the county-network organisation (bench/scale_org.py: at 1.0, 10,000 users,
300 fields, 40 roles, 20 programs, 100,000 participants, 200,000 involvements, 100,000 consents):
a fresh database; `governance apply ORG.json` timed from the command line (with its progress
bar); a gunicorn instance started cold and timed until its first decision is answered (the
master compiles the snapshot before forking, see gunicorn.conf.py); a worker killed and timed
until its replacement answers; the worker's resident memory; and the median of 2,000
sequential 20-field view decisions over HTTP, compared with the same on the demo organisation.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import Client, database, figures, free_port, run, start  # noqa: E402
from bench.scale_org import build_scale_org  # noqa: E402
from governance.demo import build_demo_org  # noqa: E402

TARGETS = {"apply_s": 60.0, "restart_s": 3.0, "rss_mb": 400.0, "latency_ratio": 1.2}


def view_bodies(org: dict, count: int = 200) -> list[bytes]:
    """20-field view requests by case workers on participants of their own caseload."""
    rng = random.Random(3)
    today = date.today().isoformat()
    open_cases = [i for i in org["involvements"] if i.get("until", "9999") > today][:5000]
    fields = [f["id"] for f in org["fields"]]
    bodies = []
    for case in rng.sample(open_cases, min(count, len(open_cases))):
        start_at = rng.randrange(0, len(fields) - 20)
        bodies.append(json.dumps({
            "subject": case["user"], "action": "view", "participant": case["participant"],
            "program": case["program"], "fields": fields[start_at:start_at + 20]}).encode())
    return bodies


def worker_rss_mb(master_pid: int) -> float:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for line in Path(f"/proc/{children[0]}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def replace_worker(master_pid: int, client: Client, body: bytes) -> float:
    """Kill the worker; seconds until its replacement (forked from the warm master) answers."""
    worker = int(Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()[0])
    began = time.perf_counter()
    os.kill(worker, signal.SIGKILL)
    while True:
        try:
            client.post(body)
            return time.perf_counter() - began
        except (OSError, http.client.HTTPException):
            client.conn.close()
            time.sleep(0.01)


def measure(org: dict, backend: str, n: int) -> dict:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = database(stack, backend, tmp)
        env = {**os.environ, "GOVERNANCE_DATABASE_URL": url}
        flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "governance"]
        path = tmp / "org.json"
        path.write_text(json.dumps(org))
        began = time.perf_counter()
        subprocess.run([*flask, "apply", str(path)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        apply_s = time.perf_counter() - began
        key = run([*flask, "api-key", "create", "scale"], env).split()[-1]
        port = free_port()
        bodies = view_bodies(org)
        began = time.perf_counter()
        proc = start(stack, [str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b",
                             f"127.0.0.1:{port}", "wsgi:app"], tmp / "g.log", port,
                     "/.well-known/authzen-configuration", env)
        client = Client(port, "/api/v1/decisions", {"Authorization": f"Bearer {key}"})
        client.post(bodies[0])
        cold_s = time.perf_counter() - began
        rss = worker_rss_mb(proc.pid)
        restart_s = replace_worker(proc.pid, client, bodies[0])
        samples = [client.post(bodies[i % len(bodies)])[0] for i in range(n + n // 10)]
        p50, p99, _ = figures(samples[n // 10:])
        return {"apply_s": apply_s, "cold_s": cold_s, "restart_s": restart_s, "rss_mb": rss,
                "p50_ms": p50, "p99_ms": p99}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    demo = measure(build_demo_org(), args.backend, args.n)
    print(f"backend {args.backend}; demo organisation: p50 {demo['p50_ms']:.3f} ms, "
          f"cold start {demo['cold_s']:.2f} s, worker RSS {demo['rss_mb']:.0f} MB")
    print("| size | users | participants | involvements | consents | apply s | instance start s "
          "| worker restart s | worker RSS MB | decision p50 ms | p99 ms | p50 vs demo |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for fraction in args.fractions:
        org = build_scale_org(fraction)
        got = measure(org, args.backend, args.n)
        ratio = got["p50_ms"] / demo["p50_ms"]
        print(f"| {fraction:.0%} | {len(org['users']):,} | {len(org['participants']):,} | "
              f"{len(org['involvements']):,} | {len(org['consents']):,} | "
              f"{got['apply_s']:.1f} | {got['cold_s']:.2f} | {got['restart_s']:.2f} | "
              f"{got['rss_mb']:.0f} | "
              f"{got['p50_ms']:.3f} | {got['p99_ms']:.3f} | x{ratio:.2f} |", flush=True)
        if fraction == 1.0:
            misses = [k for k, limit in TARGETS.items()
                      if (ratio if k == "latency_ratio" else got[k]) > limit]
            print("targets at 100%: " + ("all met" if not misses else f"missed {misses}"))


if __name__ == "__main__":
    main()
