#!/usr/bin/env bash
# Create .venv and install Need-to-Know with its test tools (idempotent; quick when nothing
# changed since the last install, so a restart of the demo does not reinstall).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
STAMP=.venv/.need-to-know-installed
WANT=$(sha256sum pyproject.toml | cut -d ' ' -f 1)
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ] \
   || ! .venv/bin/python -c "import importlib.metadata as m; m.version('need-to-know')" \
        >/dev/null 2>&1; then
  .venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
  echo "$WANT" > "$STAMP"
fi
# Byte-code for our own modules, as a wheel install would write: every CLI command and server
# start otherwise compiles them again (a quarter of a second here) when PYTHONDONTWRITEBYTECODE
# is set. A stale file is never used: Python checks it against the source.
.venv/bin/python -m compileall -q -j 0 governance wsgi.py gunicorn.conf.py >/dev/null
