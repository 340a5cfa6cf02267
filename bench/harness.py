"""Shared pieces of the benchmarks: fresh databases, servers, a keep-alive client, figures."""
from __future__ import annotations

import http.client
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG = "postgresql://postgres@127.0.0.1:5432"


class Client:
    """One keep-alive connection; http.client reconnects by itself if the server closes."""

    def __init__(self, port: int, path: str, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.path, self.headers = path, {"Content-Type": "application/json", **headers}
        self.closed_by_server = 0

    def get(self) -> tuple[float, bytes]:
        return self.post(None)

    def post(self, body: bytes | None) -> tuple[float, bytes]:
        start = time.perf_counter()
        self.conn.request("POST" if body is not None else "GET", self.path, body, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"{self.path}: HTTP {response.status} {data[:300]!r}")
        self.closed_by_server += response.will_close
        return elapsed, data


def run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(argv[1:])} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(stack: ExitStack, argv: list[str], log: Path, port: int, health: str,
          env: dict[str, str]) -> subprocess.Popen:
    """Start a server, stop it (by its own pid) when the stack closes, wait for `health`."""
    env = {"GOVERNANCE_SECRET_KEY": secrets.token_hex(32), **env}  # a served app needs one
    out = stack.enter_context(log.open("wb"))
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stack.callback(stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", health)
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{argv[0]} did not come up; its log:\n{log.read_text()[-3000:]}")


def database(stack: ExitStack, backend: str, tmp: Path) -> str:
    """A fresh SQLite file or PostgreSQL database (dropped when the stack closes)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp}/x.sqlite"
    name = f"ntk_peer_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stack.callback(drop)
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def serve_ours(stack: ExitStack, tmp: Path, url: str, *, org: Path | None = None,
               gunicorn: tuple[str, ...] = ("-w", "1"), env: dict | None = None
               ) -> tuple[int, str]:
    """Load the demo org (or ``org``), create a key, start gunicorn (default: one sync
    worker); returns (port, key)."""
    env = {**os.environ, "GOVERNANCE_DATABASE_URL": url, **(env or {})}
    flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "governance"]
    run([*flask, "apply", str(org)] if org else [*flask, "demo"], env)
    key = run([*flask, "api-key", "create", f"bench-{uuid.uuid4().hex[:6]}", "--scope",
               "decide", "--scope", "manage"], env).split()[-1]
    port = free_port()
    start(stack, [str(ROOT / ".venv/bin/gunicorn"), *gunicorn, "-b", f"127.0.0.1:{port}",
                  "wsgi:app"], tmp / f"gunicorn-{port}.log", port, "/healthz", env)
    return port, key


def figures(samples: list[float]) -> list[float]:
    """Median and p99 in ms, and sequential throughput (requests over their summed time)."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return [statistics.median(ordered) * 1e3, p99 * 1e3, len(ordered) / sum(ordered)]


def console_bench_app(stack: ExitStack, backend: str, tmp: Path, org: dict):  # noqa: ANN201
    """A console app on a fresh database of ``backend`` with ``org`` applied by the real
    apply (sign-in limits lifted: a bench signs in often); the seconds the apply took."""
    from governance import create_app
    from governance.cli import apply_spec
    from governance.orgfile import validate

    app = create_app({"GOVERNANCE_DATABASE_URL": database(stack, backend, tmp),
                      "GOVERNANCE_SECRET_KEY": "bench",
                      "GOVERNANCE_SIGNIN_RATE_PER_ADDRESS": "1000 per minute",
                      "GOVERNANCE_SIGNIN_RATE_PER_USER": "1000 per minute"})
    with app.app_context():
        began = time.perf_counter()
        apply_spec(validate(org), actor="bench", dry_run=False, digest=None, label="scale")
    return app, time.perf_counter() - began


def page_row(backend: str, name: str, cold: float, wall: list[float], cpu: list[float]) -> str:
    """A console bench's table row: p50, p95 and worst wall-clock ms, p50 CPU ms, cold ms."""
    p95 = sorted(wall)[min(len(wall) - 1, int(len(wall) * 0.95))]
    return (f"| {backend} | {name} | {statistics.median(wall):.1f} | {p95:.1f} | "
            f"{max(wall):.1f} | {statistics.median(cpu):.1f} | {cold:.0f} |")


def close_app(app) -> None:  # noqa: ANN001
    """Let go of the app's snapshot listener, session and pool (its database is dropped next)."""
    from governance.extension import state

    with app.app_context():
        state(app).engine.close()
        state(app).session.remove()
        state(app).db.engine.dispose()
