"""End to end: a real gunicorn server configured with GOVERNANCE_SMTP_* pointing at a real SMTP
server (aiosmtpd on loopback). An override request through the API leaves the approver an
in-app notification (seen through the console after signing in) and an e-mail at the address
of their user record; the requester gets neither."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import running_console_server
from tests.console.conftest import console_org
from tests.e2e.test_console_server import Browser
from tests.mail_server import running_mail_server
from tests.signin.conftest import PASSWORD

pytestmark = pytest.mark.e2e
ADDRESSES = {"sam": "sam.ortiz@example.org", "nick": "nick.shah@example.org"}


def org_with_addresses() -> dict:
    org = console_org()
    for user in org["users"]:
        if user["id"] in ADDRESSES:
            user["email"] = ADDRESSES[user["id"]]
    return org


def test_an_override_request_notifies_the_approver_in_the_console_and_by_mail(tmp_path):
    with running_mail_server() as mail, running_console_server(
            tmp_path / "server", org_with_addresses(), mail.config()) as server:
        status, override = server.api("POST", "/api/v1/overrides", {
            "actor": "nick", "program": "housing", "participant": "p-100",
            "fields": ["contact.*"], "actions": ["view"], "reason": "covering for alice",
            "minutes": 45}, server.api_key("manage"))
        assert status == 201, override

        [(rcpts, message)] = mail.received.messages
        assert rcpts == ["sam.ortiz@example.org"]
        assert message["Subject"] == "nick asks for an override in housing"
        assert "for 45 minutes. Reason: covering for alice." in message.get_content()

        server.set_password("sam")
        sam = Browser(server.base_url)
        status, headers, _ = sam.request("/console/sign-in", {
            "user": "sam", "password": PASSWORD, "csrf_token": sam.token("/console/sign-in")})
        assert status == 302, headers
        _, _, page = sam.request("/console/notifications")
        assert "nick asks for an override in housing" in page
        assert re.search(r'class="inbox-link"[^>]*>Notifications \(1\)', page)
        assert mail.received.to("nick.shah@example.org") == []
