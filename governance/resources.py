"""Locate the non-Python folders (rbac_models, templates, migrations) in a checkout or a wheel."""
from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_path(folder: str, *parts: str) -> Path:
    """``folder`` inside the installed package (wheel) or beside it (source checkout)."""
    for base in (PACKAGE_DIR / folder, PACKAGE_DIR.parent / folder):
        if base.is_dir():
            return base.joinpath(*parts)
    raise FileNotFoundError(f"{folder}/ not found next to {PACKAGE_DIR}; is the package intact?")
