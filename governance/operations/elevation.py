"""Time-bounded overrides and break-glass.

An override is requested with a reason, approved by someone else who approves overrides in the
program, and active from approval for its minutes; the decision pipeline checks the window on
every request, so expiry needs no job. Break-glass is activated by the user alone, for at most an
hour, and always opens an after-the-fact review item.

The operations live in ``override_requests`` and ``break_glass``, what both share in
``overrides``. ``governance/api/elevation.py`` and ``governance/api/users.py`` still import them
from here (those files are being edited elsewhere); once they import from the three modules,
this one goes.
"""
from __future__ import annotations

from governance.operations.break_glass import (  # noqa: F401
    BreakGlass,
    BreakGlassRequest,
    CloseReviewItem,
    break_glass_document,
    closed_review_document,
)
from governance.operations.override_requests import (  # noqa: F401
    DecideOverride,
    OverrideRequest,
    RequestOverride,
    RevokeOverride,
)
from governance.operations.overrides import override_document  # noqa: F401
