"""A private PostgreSQL 15 cluster for fault tests: stopping it disturbs nobody else.

initdb refuses to run as root; then the data directory belongs to the ``postgres`` system user
and every server command runs through ``runuser -u postgres --``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

BIN = Path("/usr/lib/postgresql/15/bin")
SERVICE_USER = "postgres"


class Cluster:
    def __init__(self, port: int) -> None:
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="ntk-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVICE_USER, SERVICE_USER)

    # -- the server's life ------------------------------------------------------------------
    def init(self) -> None:
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "--no-sync")

    def start(self) -> None:
        self._pg_ctl("start", "-w", "-l", self.log, "-o",
                     f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                     "-c max_connections=200")

    def stop(self, mode: str = "fast") -> None:
        """``fast``: disconnect clients and shut down cleanly; ``immediate``: as a crash."""
        self._pg_ctl("stop", "-w", "-m", mode)

    def running(self) -> bool:
        return self._pg_ctl("status", check=False).returncode == 0

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases ------------------------------------------------------------------------
    def url(self, database: str = "postgres", **params: str) -> str:
        """The application's SQLAlchemy URL (``application_name=...`` tags a process)."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return (f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"
                + (f"?{query}" if query else ""))

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=True, connect_timeout=5)

    def query(self, sql: str, params: tuple = (), database: str = "postgres") -> list[tuple]:
        with self.connect(database) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        self.query(f'CREATE DATABASE "{name}"{clause}')
        return name

    # -- helpers ---------------------------------------------------------------------------
    def _pg_ctl(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        return self._run(BIN / "pg_ctl", "-D", self.data, *args, check=check)

    def _run(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVICE_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}): "
                               f"{result.stdout}{result.stderr}")
        return result
