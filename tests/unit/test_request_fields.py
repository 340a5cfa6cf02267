"""The field list of a decision request: checked once per distinct list, the same answer after."""
from __future__ import annotations

import pytest

from governance.policy.request import (
    CACHED_FIELD_LISTS_UP_TO,
    RequestError,
    parse_decision_request,
)

BASE = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing"}


def fields_of(fields: object) -> tuple[str, ...]:
    return parse_decision_request({**BASE, "fields": fields}).fields


def errors_of(fields: object) -> dict[str, str]:
    with pytest.raises(RequestError) as caught:
        parse_decision_request({**BASE, "fields": fields})
    return caught.value.details


@pytest.mark.parametrize("size", [3, CACHED_FIELD_LISTS_UP_TO + 5])  # looked up; checked anew
def test_repeats_are_dropped_in_order_the_first_time_and_every_time_after(size):
    fields = [f"group.field_{i}" for i in range(size)] + ["group.field_0", "clinical.*"]
    for _ in range(3):
        assert fields_of(list(fields)) == (*fields[:size], "clinical.*")


@pytest.mark.parametrize("bad,where", [
    (42, "fields[1]"), (["x.y"], "fields[1]"), ({"id": "x.y"}, "fields[1]"),
    ("bad field!", "fields[1]"), (True, "fields[1]"),
])
def test_a_bad_item_is_named_even_when_its_neighbours_were_seen_before(bad, where):
    assert fields_of(["identity.name", "contact.phone"]) == ("identity.name", "contact.phone")
    for _ in range(2):
        assert list(errors_of(["identity.name", bad])) == [where]


def test_a_good_list_is_not_accepted_beside_another_member_that_is_wrong():
    fields_of(["identity.name"])  # now known to be a good list
    with pytest.raises(RequestError) as caught:
        parse_decision_request({**BASE, "action": "delete", "fields": ["identity.name"]})
    assert list(caught.value.details) == ["action"]
