"""Argon2 password hashes for local accounts (directory users' passwords live in the directory).
"""
from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults (RFC 9106, low-memory profile): about 0.2 s and 64 MiB a hash.
HASHER = PasswordHasher()


MAX_PASSWORD_CHARS = 1024  # longer input is refused before hashing (no 1 MB hash requests)


def hash_password(password: str) -> str:
    """A new argon2id hash of ``password`` with the current parameters."""
    return HASHER.hash(password)


def check_password(stored_hash: str | None, password: str) -> tuple[bool, str | None]:
    """(matches, new hash to store when the parameters changed since ``stored_hash`` was made).

    Without a stored hash the dummy is verified, so the answer takes as long as a real one.
    """
    if not stored_hash:
        burn_time(password)
        return False, None
    try:
        HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, hash_password(password) if HASHER.check_needs_rehash(stored_hash) else None


def burn_time(password: str) -> None:
    """Do the work of one verification, for a refusal that had nothing real to verify."""
    try:
        HASHER.verify(_dummy_hash(HASHER), password)
    except VerificationError:
        pass


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when there is no real hash to check (an unknown user, an account
    without a password), so that a refusal takes as long whatever the reason. Made on first
    use with the hasher's own parameters, not at import: every CLI command would pay for it."""
    return hasher.hash("need-to-know: no such account")
