"""TLS material for the private slapd (tests/directory/slapd.py): a test CA, a second CA that
signed nothing, and a server certificate for loopback, made once per process."""
from __future__ import annotations

import atexit
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .slapd_constants import SlapdError

# -- TLS material: made once per process with the openssl CLI ------------------------------------
_TLS_DIR: Path | None = None
_TLS_LOCK = threading.Lock()


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise SlapdError(f"openssl {' '.join(args)} failed: {result.stderr}")


def _make_ca(folder: Path, name: str) -> None:
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
             "-subj", f"/O=Need-to-Know tests/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)


def tls_material() -> Path:
    """A folder with ``ca.pem``, ``other-ca.pem`` and ``server.pem``/``server.key`` (signed by
    ca, for 127.0.0.1, ::1 and localhost); EC P-256 keys, so making them takes milliseconds."""
    global _TLS_DIR
    with _TLS_LOCK:
        if _TLS_DIR is None:
            folder = Path(tempfile.mkdtemp(prefix="ntk-slapd-tls-"))
            atexit.register(shutil.rmtree, folder, True)
            _make_ca(folder, "ca")
            _make_ca(folder, "other-ca")
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-nodes", "-keyout", "server.key", "-out", "server.csr",
                     "-subj", "/O=Need-to-Know tests/CN=localhost", cwd=folder)
            (folder / "server.ext").write_text(
                "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                "basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
            _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", "server.pem", "-days", "30",
                     "-extfile", "server.ext", cwd=folder)
            _TLS_DIR = folder
        return _TLS_DIR
