"""How a role-matrix draft rewrites a role's grant patterns (governance/policy/matrix.py):
unchecking one field of a pattern keeps the pattern's other fields, by id."""
from __future__ import annotations

import pytest

from governance.policy.matrix import opened, rewrite

FIELDS = ("contact.address", "contact.email", "contact.phone", "identity.dob", "identity.name",
          "risk.flag")


@pytest.mark.parametrize("patterns,grant,revoke,after,replaced", [
    # Unchecking one field of contact.* keeps the others, each by id.
    (["contact.*", "identity.*"], [], ["contact.phone"],
     ["contact.address", "contact.email", "identity.*"],
     {"contact.*": ("contact.address", "contact.email")}),
    # A field granted by id is simply dropped.
    (["identity.name", "risk.flag"], [], ["risk.flag"], ["identity.name"], {"risk.flag": ()}),
    # * gives way to every other field.
    (["*"], [], ["risk.flag"], ["contact.address", "contact.email", "contact.phone",
                                "identity.dob", "identity.name"],
     {"*": FIELDS[:5]}),
    # Two patterns covering the field both give way; nothing is listed twice.
    (["*", "contact.*"], [], ["contact.phone"],
     ["contact.address", "contact.email", "identity.dob", "identity.name", "risk.flag"],
     {"*": ("contact.address", "contact.email", "identity.dob", "identity.name", "risk.flag"),
      "contact.*": ("contact.address", "contact.email")}),
    # Checking a field is a grant by id; one a kept pattern covers adds nothing.
    (["identity.*"], ["risk.flag", "identity.dob"], [], ["identity.*", "risk.flag"], {}),
    # A pattern that names no catalogued field (a retired one) is left alone.
    (["clinical.*", "contact.phone"], [], ["contact.phone"], ["clinical.*"],
     {"contact.phone": ()}),
    # Grant and revoke in one draft: the revoked field of a broken pattern is not re-added.
    (["contact.*"], ["risk.flag"], ["contact.email"],
     ["contact.address", "contact.phone", "risk.flag"],
     {"contact.*": ("contact.address", "contact.phone")}),
])
def test_rewrite(patterns, grant, revoke, after, replaced):
    result = rewrite("r", patterns, FIELDS, grant, revoke)
    assert list(result.after) == after
    assert result.replaced == replaced
    before = opened(patterns, FIELDS)
    assert opened(result.after, FIELDS) == (before | set(grant)) - set(revoke)


def test_added_and_removed_lines():
    result = rewrite("r", ["contact.*", "identity.*"], FIELDS, [], ["contact.phone"])
    assert result.removed == ["contact.*"]
    assert result.added == ["contact.address", "contact.email"]
    assert result.changed
    assert not rewrite("r", ["contact.*"], FIELDS, ["contact.phone"], []).changed
