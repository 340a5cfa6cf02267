"""Notifications in a real browser, two people in two contexts: nick asks for an override and
sam's header counts it; sam opens it from the list (which marks it read and takes him where he
can act) and approves; nick's header then counts the decision, which names sam; "Mark all read"
and the filters. axe finds nothing serious on any of it; each state is a screenshot."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

REQUEST = {"actor": "nick", "program": "housing", "participant": "p-100",
           "fields": ["contact.*"], "actions": ["view"], "reason": "covering for alice",
           "minutes": 45}


@pytest.fixture
def page_server(fresh_console_server):
    """Its own database: the notices sent here would show in other tests' headers."""
    return fresh_console_server


def inbox_link(page, count: int | None):  # noqa: ANN001, ANN201
    name = f"Notifications ({count}) unread" if count else "Notifications"
    return page.get_by_role("banner").get_by_role("link", name=name, exact=True)


def test_a_request_reaches_the_approver_and_the_decision_the_requester(page_as, page_server,
                                                                       check_page):
    key = page_server.api_key("manage")
    sam, nick = page_as("sam"), page_as("nick")
    expect(inbox_link(sam, None)).to_be_visible()
    sam.get_by_role("banner").get_by_role("link", name="Notifications").click()
    expect(sam.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    expect(sam.get_by_role("status")).to_have_text("Nothing has been sent to you yet.")
    check_page(sam, "notifications-empty")

    status, override = page_server.api("POST", "/api/v1/overrides", REQUEST, key)
    assert status == 201, override
    sam.reload()
    expect(inbox_link(sam, 1)).to_be_visible()
    item = sam.locator(".inbox-list li").first
    expect(item).to_contain_text("New")
    expect(item).to_contain_text("Requests to decide")
    expect(item).to_contain_text("nick asks to view contact.* in housing on p-100 for 45 "
                                 "minutes. Reason: covering for alice.")
    expect(item).to_contain_text("Now: waiting for a decision")
    check_page(sam, "notifications-unread")

    sam.get_by_role("link", name="nick asks for an override in housing").click()
    expect(inbox_link(sam, None)).to_be_visible()  # opening it marked it read
    assert not sam.url.endswith("/notifications")  # ...and went where sam can act
    check_page(sam, "notifications-opened-target")

    status, _ = page_server.api("POST", f"/api/v1/overrides/{override['id']}/approve",
                                {"actor": "sam", "note": "ok for today"}, key)
    assert status == 200
    sam.goto("/console/notifications")
    read = sam.locator(".inbox-list li").first
    expect(read).not_to_contain_text("New")
    expect(read).to_contain_text("Now: approved by sam, active until")
    check_page(sam, "notifications-read")

    nick.reload()
    expect(inbox_link(nick, 1)).to_be_visible()
    inbox_link(nick, 1).click()
    expect(nick.locator(".inbox-list li").first).to_contain_text(
        "Your override request in housing was approved by sam")
    expect(nick.locator(".inbox-list li").first).to_contain_text("Note: ok for today")
    check_page(nick, "notifications-decision")


def test_mark_all_read_and_the_filters(page_as, page_server, check_page):
    key = page_server.api_key("manage")
    for who in ("nick", "alice"):
        status, _ = page_server.api("POST", "/api/v1/overrides", {**REQUEST, "actor": who}, key)
        assert status == 201
    sam = page_as("sam")
    expect(inbox_link(sam, 2)).to_be_visible()
    inbox_link(sam, 2).click()
    sam.get_by_label("About").select_option(label="Decisions on my requests")
    sam.get_by_role("button", name="Show notifications").click()
    expect(sam.get_by_role("status")).to_have_text("No notification matches these filters.")
    check_page(sam, "notifications-filtered-empty")

    sam.get_by_label("About").select_option(label="Requests to decide")
    sam.get_by_label("Show").select_option(label="Unread only")
    sam.get_by_role("button", name="Show notifications").click()
    expect(sam.locator(".inbox-list li")).to_have_count(2)
    sam.get_by_role("button", name="Mark all read").click()
    expect(sam.get_by_role("status").first).to_have_text("2 notifications marked read.")
    expect(inbox_link(sam, None)).to_be_visible()
    expect(sam.get_by_role("button", name="Mark all read")).to_have_count(0)
    assert re.search(r"about=decide", sam.url)
    check_page(sam, "notifications-all-read")
