#!/usr/bin/env bash
# Set up and run the whole test suite (SQLite and PostgreSQL; PostgreSQL must be reachable at
# GOVERNANCE_TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check governance tests bench
.venv/bin/python -m pytest "$@"
