"""Faults with real processes on a private PostgreSQL cluster (issue 11, item 6).

The store stopped under load, the change listener's connection killed, a worker killed in the
middle of an AuthZEN batch, an apply racing decisions, and CLI processes killed in the middle of
their transaction. Every test ends with the same checks: nothing half-applied, ``governance audit
verify`` exits 0, every decision answered 200 has its audit row, and the service recovered by
itself (no restart of gunicorn).

The cluster is these tests' own (``tests/faults/cluster.py``), so stopping it disturbs nobody;
one, started once, serves every test module here (the package-scoped fixtures below). The
helpers are in ``tests/faults/helpers.py``.
Each test works on its own copy of one database loaded with the demo organisation.
"""
from __future__ import annotations

import copy
import os
import re
import subprocess
import sys

import pytest

from tests.e2e.test_cli_and_server import ROOT, cli, free_port
from tests.faults.cluster import Cluster
from tests.faults.helpers import (
    Database,
    Demo,
    Server,
    export,
    send,
    wait_for,
    write_org,
)


@pytest.fixture(scope="package")
def cluster():
    pg = Cluster(free_port())
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()


@pytest.fixture(scope="package")
def demo(cluster, tmp_path_factory) -> Demo:
    database = Database(cluster, cluster.create_database("demo_template"))
    cli(database.url(), "demo")
    key = cli(database.url(), "api-key", "create", "faults", "--scope", "decide",
              "--scope", "manage").stdout.strip().splitlines()[-1]
    org = export(database.url())
    folder = tmp_path_factory.mktemp("orgfiles")
    narrow = copy.deepcopy(org)
    case_manager = next(r for r in narrow["roles"] if r["id"] == "case_manager")
    for action in ("view", "disclose"):
        case_manager["grants"][action].remove("contact.*")
    return Demo(database, key, org, write_org(folder / "base.yaml", org),
                write_org(folder / "narrow.yaml", narrow))


@pytest.fixture
def db(cluster, demo, request) -> Database:
    """This test's own copy of the demo database (the cluster up, whatever an earlier test did)."""
    if not cluster.running():
        cluster.start()
    name = re.sub(r"\W", "_", request.node.name)[:50].lower()
    return Database(cluster, cluster.create_database(name, template=demo.database.name))


@pytest.fixture
def server(db, tmp_path):
    """A real gunicorn on this test's database, as the README runs it."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        master = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--worker-class", "gthread",
             "--threads", "4", "--no-control-socket", "--bind", f"127.0.0.1:{port}",
             "wsgi:app"], cwd=ROOT, env={**os.environ, "GOVERNANCE_DATABASE_URL": db.url()},
            stdout=out, stderr=subprocess.STDOUT)
    running = Server(f"http://127.0.0.1:{port}", port, master, log)
    try:
        wait_for(lambda: send(running.base, "/healthz", timeout=1)[0] == 200, 60,
                 "gunicorn answering /healthz")
        yield running
    finally:
        master.terminate()
        try:
            master.wait(timeout=15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait()
