"""Numbers and dates a person (or a crafted link) can put in a console address or form: a digit
that is not ASCII ("²" passes ``str.isdigit`` but not ``int``), zero, a huge number, the last
day a date can have. Each is read as the default or answered with its message; never a 500,
never a store error (a negative OFFSET is one on PostgreSQL)."""
from __future__ import annotations

import re

import pytest

from tests.signin.conftest import csrf_token

ODD = ("²", "0", "-1", "99999999999999999999", " 7 ", "١")

PAGES = [  # (who, path with {odd} where the odd value goes)
    ("alice", "/console/requests?page={odd}"),
    ("alice", "/console/requests?escalations_page={odd}"),
    ("sam", "/console/approvals?page={odd}"),
    ("sam", "/console/approvals?overrides_page={odd}&escalations_page={odd}"),
    ("sam", "/console/reviews?page={odd}"),
    ("sam", "/console/reviews/campaigns?page={odd}"),
    ("ada", "/console/directory?page={odd}"),
    ("cora", "/console/consents?page={odd}"),
    ("cora", "/console/consents/renew?within={odd}"),
    ("cora", "/console/disclosures?page={odd}"),
    ("cora", "/console/disclosures/sampling?size={odd}"),
    ("cora", "/console/disclosures/sampling?seed={odd}"),
    ("cora", "/console/notifications?page={odd}"),
    ("cora", "/console/access-explorer?field=identity.name&page={odd}"),
]


@pytest.mark.parametrize(("user", "path"), PAGES)
def test_odd_numbers_in_an_address(signed_in, user, path):
    client = signed_in(user)
    for odd in ODD:
        answer = client.get(path.format(odd=odd))
        assert answer.status_code in (200, 400), (odd, answer.status_code,
                                                  answer.get_data(as_text=True)[-800:])


@pytest.mark.parametrize("path", [
    "/console/disclosures/accounting?participant=p-100&until=9999-12-31",
    "/console/disclosures/accounting?participant=p-100&since=9999-12-31",
    "/console/disclosures/sampling?month=9999-12",
])
def test_the_last_day_there_is(signed_in, path):
    answer = signed_in("cora").get(path)
    assert answer.status_code == 400, answer.get_data(as_text=True)[-800:]
    assert re.search(r"a (date|month) such as", answer.get_data(as_text=True))


def test_odd_minutes_in_a_request_are_named(signed_in):
    alice = signed_in("alice")
    token = csrf_token(alice, "/console/requests")
    for odd in ("²", "0", "99999999999999999999"):
        answer = alice.post("/console/requests", data={
            "csrf_token": token, "program": "housing", "participant": "p-100",
            "fields": "clinical.diagnosis", "actions": "view", "reason": "care plan",
            "minutes": odd})
        assert answer.status_code == 400, (odd, answer.status_code)
        assert "a whole number of minutes" in answer.get_data(as_text=True)
