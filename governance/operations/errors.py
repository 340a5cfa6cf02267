"""The refusals an operation gives (the one hierarchy of governance.errors)."""
from __future__ import annotations

from governance.errors import Conflict, GovernanceError, Invalid, NotFound, Refused

OperationError = GovernanceError

__all__ = ["Conflict", "Invalid", "NotFound", "OperationError", "Refused"]
