"""E-mail notifications against a real SMTP server (aiosmtpd on loopback): one message per
recipient, to the address on their user record, with the notice's subject and body; a login
when configured, its password never in a log line; a mail server that is down or refuses the
message fails nothing: the operation stands and the in-app row is there."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, update

from governance.extension import state
from governance.models import Notification, User
from governance.notify import InboxNotifier, Notice, Notifiers, SmtpNotifier
from tests.conftest import apply_file, new_key
from tests.mail_server import PASSWORD, USER, free_port, running_mail_server

OVERRIDE = {"actor": "nick", "program": "housing", "participant": "p-100",
            "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
            "minutes": 30}
ADDRESSES = {"sam": "sam.ortiz@example.org", "nick": "nick.shah@example.org",
             "alice": "alice.ng@example.org"}


@pytest.fixture
def mail():
    with running_mail_server() as server:
        yield server


def org_with_mail(make_app, **config):
    app = make_app("sqlite", **config)
    apply_file(app)
    with app.app_context():
        for user, address in ADDRESSES.items():
            state(app).session.execute(update(User).where(User.id == user).values(email=address))
        state(app).session.commit()
    return app


def api_for(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'manage')}"
    return client


def inbox(app, user: str) -> list[str]:
    with app.app_context():
        return list(state(app).session.scalars(select(Notification.event).where(
            Notification.user_id == user)))


def test_an_override_request_mails_its_approver_and_keeps_the_inbox_row(make_app, mail):
    app = org_with_mail(make_app, **mail.config())
    response = api_for(app).post("/api/v1/overrides", json=OVERRIDE)
    assert response.status_code == 201, response.json
    [(rcpts, message)] = mail.received.messages
    assert rcpts == ["sam.ortiz@example.org"]
    assert message["To"] == "sam.ortiz@example.org"
    assert message["From"] == "need-to-know@example.org"
    assert message["Subject"] == "nick asks for an override in housing"
    body = message.get_content()
    assert "nick asks to view identity.* in housing on p-100 for 30 minutes" in body
    assert "covering for alice" in body
    assert inbox(app, "sam") == ["override.requested"]


def test_the_message_links_to_the_page_to_act_on_at_the_public_address(make_app, mail):
    app = org_with_mail(make_app, **mail.config(), GOVERNANCE_BASE_URL="https://ntk.example.org")
    assert api_for(app).post("/api/v1/overrides", json=OVERRIDE,
                             headers={"Host": "127.0.0.1"}).status_code == 201
    with app.app_context():  # an event of a host's own, in no category: the inbox page
        state(app).notifier.notify(state(app).session, Notice("host.reminder", ["sam"], "S", "B"))
    approvals, other = (m.get_content() for _, m in mail.received.messages)
    assert "Open it in Need-to-Know: https://ntk.example.org/console/approvals" in approvals
    assert "Open it in Need-to-Know: https://ntk.example.org/console/notifications" in other


def test_each_recipient_gets_their_own_message_and_those_without_an_address_none(make_app,
                                                                                  mail):
    app = org_with_mail(make_app)
    notifier = SmtpNotifier("127.0.0.1", mail.port, None, None, "ntk@example.org", False)
    with app.app_context():
        notifier.notify(state(app).session, Notice("review.item_assigned",
                                                   ["sam", "alice", "rita"], "Review", "Body"))
    assert sorted(r for rcpts, _ in mail.received.messages for r in rcpts) == [
        "alice.ng@example.org", "sam.ortiz@example.org"]  # rita has no address
    assert all(m["To"] in rcpts for rcpts, m in mail.received.messages)  # nobody else's


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_login_is_used_and_its_password_never_logged(make_app, caplog):
    caplog.set_level(logging.DEBUG)
    with running_mail_server(login=True) as server:
        app = org_with_mail(make_app, **server.config(GOVERNANCE_SMTP_USER=USER,
                                                      GOVERNANCE_SMTP_PASSWORD=PASSWORD))
        assert api_for(app).post("/api/v1/overrides", json=OVERRIDE).status_code == 201
        assert [r for r, _ in server.received.messages] == [["sam.ortiz@example.org"]]
        wrong = SmtpNotifier("127.0.0.1", server.port, USER, "wrong-" + PASSWORD,
                             "ntk@example.org", False)
        with app.app_context():
            wrong.notify(state(app).session, Notice("override.requested", ["sam"], "S", "B"))
    assert "override.requested: could not e-mail sam: SMTP" in caplog.text  # the class only
    assert PASSWORD not in caplog.text and PASSWORD not in repr(wrong)
    assert "covering for alice" not in caplog.text.split("could not e-mail")[-1]


@pytest.mark.parametrize("server", ["down", "refusing"])
def test_a_failing_mail_server_fails_nothing(make_app, server, caplog):
    if server == "down":
        app = org_with_mail(make_app, GOVERNANCE_SMTP_HOST="127.0.0.1",
                            GOVERNANCE_SMTP_PORT=str(free_port()),
                            GOVERNANCE_SMTP_STARTTLS="false")
        response = api_for(app).post("/api/v1/overrides", json=OVERRIDE)
    else:
        with running_mail_server(refuse=True) as refusing:
            app = org_with_mail(make_app, **refusing.config())
            response = api_for(app).post("/api/v1/overrides", json=OVERRIDE)
            assert refusing.received.messages == []
    assert response.status_code == 201, response.json
    assert api_for(app).get(f"/api/v1/overrides/{response.json['id']}").json["status"] == \
        "pending"
    assert inbox(app, "sam") == ["override.requested"]  # the in-app row is there all the same
    assert "override.requested: could not e-mail sam" in caplog.text


def test_the_inbox_comes_first_and_stays_when_mail_raises(make_app, caplog):
    class Exploding:
        def notify(self, session, notice):
            raise RuntimeError("relay on fire")

    app = org_with_mail(make_app)
    with app.app_context():
        Notifiers(InboxNotifier(), Exploding()).notify(
            state(app).session, Notice("override.expiring", ["nick"], "Ends soon", "Body"))
    assert inbox(app, "nick") == ["override.expiring"]
    assert "override.expiring: Exploding failed" in caplog.text


def test_the_configured_notifier_is_the_inbox_beside_mail_or_the_log(make_app, mail):
    with_mail = make_app("sqlite", **mail.config()).extensions["governance"].notifier
    without = make_app("sqlite").extensions["governance"].notifier
    assert [type(n).__name__ for n in with_mail.notifiers] == ["InboxNotifier", "SmtpNotifier"]
    assert [type(n).__name__ for n in without.notifiers] == ["InboxNotifier", "LoggingNotifier"]
