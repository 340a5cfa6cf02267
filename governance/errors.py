"""The one hierarchy of refusals, for every layer and every front end.

Each error carries its HTTP status, a stable code, a message and ``details`` (each offending
member -> what is wrong with it). The API maps them in one handler; the CLI prints the message;
the console shows the details beside the form's fields. No Flask here: the policy engine and
the operations raise these too.
"""
from __future__ import annotations


class GovernanceError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, message: str, details: dict | None = None, *,
                 status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message, self.details = message, details or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class Invalid(GovernanceError):
    """Malformed or inconsistent input (400), each problem named in ``details``."""

    @classmethod
    def naming(cls, details: dict[str, str]) -> Invalid:
        """One refusal listing every problem: ``member: what is wrong; ...``."""
        return cls(listing(details), details)


def listing(details: dict) -> str:
    return "; ".join(f"{k}: {v}" for k, v in details.items())


class NotFound(GovernanceError):
    status, code = 404, "not_found"


class Conflict(GovernanceError):
    """The object is no longer in a state that allows this (409)."""

    status, code = 409, "conflict"


class Refused(GovernanceError):
    """A rule refuses the request (422): self-approval, a field the decision did not allow."""

    status, code = 422, "refused"


class Unavailable(GovernanceError):
    """The store (or the audit trail) could not be read or written in time: fail closed (503)."""

    status, code = 503, "store_unavailable"
