"""Signing in and out of the console in a real browser, with axe and a screenshot of each."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS


def test_sign_in_shows_the_dashboard_and_sign_out_leaves(page_as, check_page):
    page = page_as(None)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    check_page(page, "sign-in")

    page = page_as("ada")
    expect(page.get_by_role("heading", level=1, name="Dashboard")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console").get_by_role(
        "link", name="Dashboard")).to_have_attribute("aria-current", "page")
    check_page(page, "dashboard-admin")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    page.goto("/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in"))


def test_check_page_catches_an_inline_style_the_policy_refuses(page_as, check_page):
    page = page_as(None)
    page.evaluate("""() => document.querySelector('main').insertAdjacentHTML(
        'beforeend', '<p style="color: red">inline</p>')""")
    page.wait_for_timeout(200)  # the console message arrives asynchronously
    try:
        check_page(page, "csp-refusal-self-test")
    except AssertionError as exc:
        assert "Content-Security-Policy" in str(exc)
    else:
        raise AssertionError("an inline style went unnoticed")
    finally:
        (SCREENSHOTS / "csp-refusal-self-test.png").unlink(missing_ok=True)  # not a page
