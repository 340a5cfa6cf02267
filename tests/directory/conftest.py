"""Fixtures for the directory tests: each test gets its own real, private slapd.

Function-scoped: a server starts in well under a second (a temp folder, slapadd of the base
entries, slapd up), so no test sees another's entries and none has to clean up.
"""
from __future__ import annotations

import pytest

from .slapd import Slapd


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
