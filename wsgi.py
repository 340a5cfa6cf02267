"""Standalone entry point: ``flask --app wsgi governance ...`` or ``gunicorn wsgi:app``."""
import sys

from governance import create_app

try:
    app = create_app()
except RuntimeError as exc:  # a setting that cannot work: one line naming it, not a traceback
    sys.exit(f"Error: {exc}")
