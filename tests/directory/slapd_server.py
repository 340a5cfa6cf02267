"""The private slapd's process (tests/directory/slapd.py): the ``Slapd`` class with its
folders, ports, start, stop and clean-up, so that no slapd outlives the tests."""
from __future__ import annotations

import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .slapd_config import AD_TEST_SCHEMA, SlapdConfig
from .slapd_constants import (
    ADMIN_DN,
    BASE_DN,
    GROUPS_DN,
    PEOPLE_DN,
    POLICY_DN,
    READER_DN,
    SLAPD,
    SlapdError,
)
from .slapd_entries import SlapdEntries
from .slapd_tls import tls_material

try:
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: rely on stop() and atexit alone
    _LIBC = None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL slapd when the process (strictly: the thread) that
    started it dies, even by SIGKILL, when atexit never runs."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


# -- every live server is ended when the interpreter exits ---------------------------------------
_LIVE: set[Slapd] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _end_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop(final=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Slapd(SlapdEntries, SlapdConfig):
    """One private slapd; see the docstring of tests/directory/slapd.py
    for its tree, ACLs, schemas and limits."""

    base_dn = BASE_DN
    people_dn = PEOPLE_DN
    groups_dn = GROUPS_DN
    policy_dn = POLICY_DN
    admin_dn = ADMIN_DN
    reader_dn = READER_DN

    def __init__(self, size_limit: int | None = None, *, max_page_size: int | None = None,
                 admin_password: str = "admin-secret", reader_password: str = "reader-secret",
                 start: bool = True) -> None:
        for name, value in (("size_limit", size_limit), ("max_page_size", max_page_size)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be a positive number of entries")
        self.size_limit = size_limit
        self.max_page_size = max_page_size
        self.admin_password = admin_password
        self.reader_password = reader_password
        self.root = Path(tempfile.mkdtemp(prefix="ntk-slapd-"))
        self.data_dir = self.root / "data"
        self.data_dir.mkdir()
        self.conf = self.root / "slapd.conf"
        self.log_file = self.root / "slapd.log"
        tls = tls_material()
        self.ca_file = str(tls / "ca.pem")
        self.other_ca_file = str(tls / "other-ca.pem")
        self._tls = tls
        self.usn = 0  # the last uSNChanged the harness gave out
        self.port, self.ldaps_port = self._free_ports()
        self._process: subprocess.Popen | None = None
        self._final = False
        with _LIVE_LOCK:
            _LIVE.add(self)
        try:
            if not os.access(SLAPD, os.X_OK):
                raise SlapdError(f"{SLAPD} is missing: apt-get install slapd ldap-utils "
                                 "(.ci/run does)")
            (self.root / "adtest.schema").write_text(AD_TEST_SCHEMA)
            self.conf.write_text(self._config())
            self._slapadd(self._base_ldif())
            if start:
                self._first_start()
        except BaseException:
            self.stop(final=True)
            raise

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @staticmethod
    def user_dn(uid: str) -> str:
        return f"uid={uid},{PEOPLE_DN}"

    @staticmethod
    def group_dn(cn: str) -> str:
        return f"cn={cn},{GROUPS_DN}"

    # -- the server's life -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @staticmethod
    def _free_ports() -> tuple[int, int]:
        while True:
            ports = _free_port(), _free_port()
            if ports[0] != ports[1]:
                return ports

    def _first_start(self) -> None:
        """Start; should a port be taken between choosing and binding it, retry on others."""
        for attempt in range(3):
            try:
                self.start()
                return
            except SlapdError:
                if attempt == 2:
                    raise
                self.port, self.ldaps_port = self._free_ports()

    def start(self, timeout: float = 10.0) -> None:
        """Start (again) on the same ports with the same data; returns once it answers."""
        if self._final:
            raise SlapdError("this server was stopped for good")
        if self.running:
            return
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [SLAPD, "-f", str(self.conf), "-h", f"{self.url}/ {self.ldaps_url}/",
                 "-d", "none"], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise SlapdError(f"slapd exited on start:\n{self._diagnose()}")
            if self._answers():
                return
            time.sleep(0.01)
        self._kill()
        raise SlapdError(f"slapd did not answer within {timeout}s:\n{self._diagnose()}")

    def stop(self, final: bool = False, timeout: float = 10.0) -> None:
        """Stop the server (clients' connections drop); ``final`` also removes its folder."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._kill()
        self._process = None
        if final and not self._final:
            self._final = True
            shutil.rmtree(self.root, ignore_errors=True)
            with _LIVE_LOCK:
                _LIVE.discard(self)

    def close(self) -> None:
        self.stop(final=True)

    def __enter__(self) -> Slapd:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop(final=True)

    def _kill(self) -> None:
        """SIGKILL slapd's process group (its own session) while slapd is not yet reaped: after
        that its id may belong to someone else."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            pass

    def _answers(self) -> bool:
        """True once slapd reads and answers an LDAP request (an anonymous bind)."""
        # BindRequest, messageID 1, version 3, empty name, simple empty password.
        request = bytes.fromhex("300c020101600702010304008000")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(request)
                return sock.recv(64)[:1] == b"\x30"
        except OSError:
            return False

    def _diagnose(self) -> str:
        check = subprocess.run(["/usr/sbin/slaptest", "-u", "-f", str(self.conf)],
                               capture_output=True, text=True, timeout=30)
        log = self.log_file.read_text(errors="replace")[-4000:]
        return f"slaptest: {check.stdout}{check.stderr}\nlog:\n{log}"
