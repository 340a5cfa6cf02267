"""Fixtures for the directory tests: each test gets its own real, private slapd.

Function-scoped: a server starts in well under a second (a temp folder, slapadd of the base
entries, slapd up), so no test sees another's entries and none has to clean up.
``directory`` is the sync tests' app on its own slapd (see tests/directory/sync_support.py).
"""
from __future__ import annotations

import pytest

from tests.conftest import apply_file

from .slapd import Slapd
from .sync_support import MAPPED, Directory, ldap_config


@pytest.fixture
def slapd():
    """A private slapd with no size limit (see tests/directory/slapd.py)."""
    with Slapd() as server:
        yield server


@pytest.fixture
def slapd_small_limit():
    """A private slapd whose searches return at most 5 entries; paged ones return them all."""
    with Slapd(size_limit=5) as server:
        yield server


@pytest.fixture
def directory(slapd, make_app, backend):
    """The app, its org file applied, and the slapd it syncs from (the mapped groups empty)."""
    app = make_app(backend, **ldap_config(slapd))
    apply_file(app, "directory_org.yaml")
    for cn in MAPPED:
        slapd.add_group(cn)
    return Directory(app, slapd)
