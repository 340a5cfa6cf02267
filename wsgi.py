"""Standalone entry point: ``flask --app wsgi governance ...`` or ``gunicorn wsgi:app``."""
from governance import create_app

app = create_app()
