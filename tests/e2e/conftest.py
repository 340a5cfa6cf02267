"""The end-to-end tests also start a real slapd (tests/directory/slapd.py)."""
from tests.directory.conftest import slapd  # noqa: F401 - the fixture, shared
