"""The console's navigation (contract section 9): links named exactly as the contract says, each
shown to those whose powers allow it. A page that is not built (its endpoint not registered)
is not linked. The powers are checked again by every page itself, on the server."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for

from governance.signin.powers import (
    ADMIN,
    APPROVER,
    AUDITOR,
    OWN_ACCESS,
    REQUEST_ACCESS,
    REVIEWER,
    Powers,
)


@dataclass(frozen=True)
class Link:
    label: str
    endpoint: str
    powers: tuple[str, ...]  # any one of them shows the link (empty: every signed-in user)


NAV = (
    Link("Dashboard", "governance_console.home", ()),
    Link("Role matrix", "governance_console.role_matrix", (ADMIN,)),
    Link("Access explorer", "governance_console.access_explorer", (ADMIN, AUDITOR)),
    Link("Simulator", "governance_console.simulator", (ADMIN, AUDITOR)),
    Link("Requests", "governance_console.requests", (REQUEST_ACCESS, OWN_ACCESS)),
    Link("Approvals", "governance_console.approvals", (APPROVER, REVIEWER)),
    Link("Reviews", "governance_console.reviews", (REVIEWER,)),
    Link("Consents", "governance_console.consents", (ADMIN, AUDITOR, APPROVER)),
    Link("Disclosures", "governance_console.disclosures", (AUDITOR,)),
    Link("Audit", "governance_console.audit", (AUDITOR,)),
    Link("Organisation file", "governance_console.organisation_file", (ADMIN,)),
    Link("Directory", "governance_console.directory", (ADMIN,)),
)


def links_for(powers: Powers) -> list[dict]:
    """The links this user sees: label, href and whether it is the current page."""
    built = current_app.view_functions
    return [{"label": link.label, "href": url_for(link.endpoint),
             "current": request.endpoint == link.endpoint}
            for link in NAV
            if link.endpoint in built and (not link.powers
                                           or any(p in powers for p in link.powers))]
