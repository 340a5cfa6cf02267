#!/usr/bin/env bash
# Set up, load the demo organisation into SQLite, create an API key and serve on :5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GOVERNANCE_DATABASE_URL=${GOVERNANCE_DATABASE_URL:-sqlite:///$PWD/instance/demo.sqlite}
export GOVERNANCE_BASE_URL=${GOVERNANCE_BASE_URL:-http://127.0.0.1:${PORT:-5000}}
mkdir -p instance
flask() { .venv/bin/flask --app wsgi "$@"; }
flask governance demo
KEY=$(flask governance api-key create "demo-$(date +%Y%m%d%H%M%S)" --scope decide --scope manage | tail -n 1)
cat <<MSG

Need-to-Know demo is starting on http://127.0.0.1:${PORT:-5000}
API key (shown once):  $KEY
Try:
  curl -s http://127.0.0.1:${PORT:-5000}/api/v1/decisions -H "Authorization: Bearer $KEY" \\
    -H 'Content-Type: application/json' -d '{"subject":"alice","action":"disclose",
    "participant":"p-100","program":"housing","fields":["identity.name","contact.phone",
    "clinical.diagnosis"],"purpose":"housing_referral","recipient":"city_housing",
    "bundle":"housing_referral_standard"}'

MSG
exec .venv/bin/gunicorn --workers 2 --bind "127.0.0.1:${PORT:-5000}" wsgi:app
