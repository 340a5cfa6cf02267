"""Refusals an operation can give; the API maps each to its status code."""
from __future__ import annotations


class OperationError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message, self.details = message, details or {}


class Invalid(OperationError):
    """Malformed or inconsistent input (400), each problem named in ``details``."""


class NotFound(OperationError):
    status, code = 404, "not_found"


class Conflict(OperationError):
    """The object is no longer in a state that allows this (409)."""

    status, code = 409, "conflict"


class Refused(OperationError):
    """A rule refuses the request (422): self-approval, a field the decision did not allow."""

    status, code = 422, "refused"
