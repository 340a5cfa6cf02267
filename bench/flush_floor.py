"""What a durable commit costs on this machine, below any code of ours.

    .venv/bin/python bench/flush_floor.py [--n 1500]

Target 1 allows a decision 1.5x a static request, i.e. half a static request (0.3-0.4 ms here)
for everything a decision adds. This prints, as medians over ``--n`` sequential operations:

1. ``fdatasync`` of a 4 kB overwrite in a temporary file (the disk's flush);
2. PostgreSQL: a one-column insert into a plain table, ``synchronous_commit`` off and on (the
   server's own price for a flushed commit, with no schema or code of ours);
3. our audit writer appending one decision-sized row alone, per backend and durability (what the
   decision endpoint pays for its row, without HTTP or the pipeline).

Each writer runs on an app of its own, so no connection tuned for one setting is reused by
another.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402

from bench.harness import PG, database  # noqa: E402
from governance import audit, create_app  # noqa: E402
from governance.audit_writer import AuditWriter  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.migrate import upgrade_database  # noqa: E402

PAYLOAD = {"padding": "x" * 1900}  # about a 20-field decision's payload


def median_us(operation: Callable[[int], None], n: int) -> float:
    samples = []
    for i in range(n):
        start = time.perf_counter()
        operation(i)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def disk_flush(n: int) -> float:
    with tempfile.TemporaryFile() as handle:
        fd, block = handle.fileno(), os.urandom(4096)
        os.pwrite(fd, bytes(4096 * 64), 0)
        os.fsync(fd)

        def flush(i: int) -> None:
            os.pwrite(fd, block, 4096 * (i % 64))
            os.fdatasync(fd)
        return median_us(flush, n)


def postgres_insert(n: int, url: str, synchronous: str) -> float:
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        table = f"probe_{uuid.uuid4().hex[:8]}"
        conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, payload text)")
        conn.execute(f"SET synchronous_commit = {synchronous}")
        statement = f"INSERT INTO {table} (payload) VALUES (%s)"
        text = PAYLOAD["padding"]
        return median_us(lambda _: conn.execute(statement, (text,), prepare=True), n)


def lone_append(n: int, url: str, durability: str) -> float:
    app = create_app({"GOVERNANCE_DATABASE_URL": url})
    with app.app_context():
        upgrade_database()
        engine, writer = state(app).db.engine, AuditWriter(durability)

        def append(i: int) -> None:
            writer.write(engine, [audit.new_row("decision", PAYLOAD, actor="bench",
                                                subject="alice", participant="p-100",
                                                ref=f"dec_{i}", at=utcnow())])
        for i in range(50):  # connect, prepare, warm the caches
            append(i)
        return median_us(append, n)  # the database goes with the stack (dropped WITH FORCE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500)
    args = parser.parse_args()
    print(f"medians of {args.n} sequential operations; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"  disk: fdatasync of a 4 kB overwrite                 {disk_flush(args.n):6.0f} us")
    with ExitStack() as stack:
        url = database(stack, "postgres", Path(stack.enter_context(tempfile.TemporaryDirectory())))
        for synchronous in ("off", "on"):
            print(f"  PostgreSQL: plain insert, synchronous_commit {synchronous:3}    "
                  f"{postgres_insert(args.n, url, synchronous):6.0f} us")
    for backend in ("sqlite", "postgres"):
        for durability in ("commit", "fsync"):
            with ExitStack() as stack:
                tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                url = database(stack, backend, tmp)
                print(f"  our writer, one decision row, {backend:8} {durability:6}      "
                      f"{lone_append(args.n, url, durability):6.0f} us")
    print(f"PostgreSQL server used: {PG}")


if __name__ == "__main__":
    main()
