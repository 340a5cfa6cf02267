"""The console's navigation shows each signed-in user the links their powers allow."""
from __future__ import annotations

import re

import pytest


def nav_labels(client) -> list[str]:
    return nav_labels_of(client.get("/console/").get_data(as_text=True))


def nav_labels_of(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Console">(.*?)</nav>', page, re.S).group(1)
    return re.findall(r">([^<]+)</a>", nav)


def test_every_user_sees_the_dashboard_and_only_links_of_their_powers(signed_in):
    assert nav_labels(signed_in("alice"))[0] == "Dashboard"
    for user in ("alice", "ada", "cora", "sam"):
        labels = nav_labels(signed_in(user))
        assert "Dashboard" in labels
        if user != "ada":
            assert "Role matrix" not in labels and "Organisation file" not in labels
        if user != "cora":
            assert "Audit" not in labels


@pytest.mark.parametrize(("method", "path", "status"), [
    ("get", "/console/audit/verify", 405),  # the integrity check's address, opened as a link
    ("get", "/console/sign-out", 405),
    ("get", "/console/no-such-page", 404),
    ("post", "/console/approvals", 405),  # a page only for reading
])
def test_an_address_under_the_console_no_route_answers_is_a_console_page(signed_in, method,
                                                                         path, status):
    response = getattr(signed_in("cora"), method)(path)
    page = response.get_data(as_text=True)
    assert response.status_code == status and response.mimetype == "text/html"
    assert ">Sign out</button>" in page and nav_labels_of(page)[0] == "Dashboard"
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]  # its stylesheet
    if status == 405 and method == "get":
        assert "POST" in response.headers["Allow"] and "use its button" in page
    elif status == 405:
        assert "POST" not in response.headers["Allow"] and "only for reading" in page


def test_an_api_address_no_route_answers_is_still_json(signed_in):
    response = signed_in("cora").get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
