"""The console's navigation shows each signed-in user the links their powers allow."""
from __future__ import annotations

import re


def nav_labels(client) -> list[str]:
    page = client.get("/console/").get_data(as_text=True)
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
