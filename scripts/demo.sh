#!/usr/bin/env bash
# First run: set up, load the demo organisation into the default database (the one every
# `flask --app wsgi governance ...` command uses), create an administrator and an API key
# (each shown once) and serve the API and the console on 127.0.0.1:PORT (default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-5000}
ADDRESS="http://127.0.0.1:$PORT"
ADMIN=admin

# A busy port is found before anything is set up or loaded.
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  echo "PORT must be a port number (1-65535), not '$PORT'." >&2
  exit 2
fi
if ! "${PYTHON:-python3}" - "$PORT" <<'PY'
import socket, sys
probe = socket.socket()
probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
try:
    probe.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
then
  echo "Port $PORT is already in use (another program, or a demo that is still running)." >&2
  echo "Stop it, or serve the demo on another port: PORT=$((PORT == 65535 ? 5001 : PORT + 1)) bash scripts/demo.sh" >&2
  exit 1
fi

bash scripts/setup.sh
mkdir -p instance
export GOVERNANCE_BASE_URL=${GOVERNANCE_BASE_URL:-$ADDRESS}
# One secret key for both workers and every restart, so console sessions survive them.
if [ -z "${GOVERNANCE_SECRET_KEY:-}" ]; then
  if [ ! -s instance/secret_key ]; then
    (umask 077 && .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" \
      > instance/secret_key)
  fi
  GOVERNANCE_SECRET_KEY=$(cat instance/secret_key)
  export GOVERNANCE_SECRET_KEY
fi
flask() { .venv/bin/flask --app wsgi "$@"; }
flask governance demo
KEY=$(flask governance api-key create "demo-$(date +%Y%m%d%H%M%S)" --scope decide --scope manage | tail -n 1)
# The administrator's password: random, on standard input only, printed once below. A later
# run gives the same account a new one.
PASSWORD=$(.venv/bin/python -c "import secrets; print(secrets.token_urlsafe(18))")
if ! created=$(printf '%s\n' "$PASSWORD" | flask governance user create-admin "$ADMIN" \
               --name "Demo administrator" --password-stdin 2>&1); then
  case $created in
    *"already exists"*)
      printf '%s\n' "$PASSWORD" | flask governance user set-password "$ADMIN" --password-stdin \
        >/dev/null ;;
    *) echo "$created" >&2; exit 1 ;;
  esac
fi
cat <<MSG

Need-to-Know demo is starting on $ADDRESS

Console:  $ADDRESS/console/
  User:      $ADMIN
  Password:  $PASSWORD
  (shown once; set another with .venv/bin/flask --app wsgi governance user set-password $ADMIN)
API key (shown once):  $KEY
Try:
  curl -s $ADDRESS/api/v1/decisions -H "Authorization: Bearer $KEY" \\
    -H 'Content-Type: application/json' -d '{"subject":"alice","action":"disclose",
    "participant":"p-100","program":"housing","fields":["identity.name","contact.phone",
    "clinical.diagnosis"],"purpose":"housing_referral","recipient":"city_housing",
    "bundle":"housing_referral_standard"}'
The command line works on the same database: .venv/bin/flask --app wsgi governance export

MSG
exec .venv/bin/gunicorn --workers 2 --bind "127.0.0.1:$PORT" wsgi:app
