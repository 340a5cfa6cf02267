"""A real SMTP server for the e-mail tests: aiosmtpd on a free loopback port, keeping every
message it accepts (optionally asking for a login, or refusing every message)."""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "mailer", "s3cret-relay-passphrase"


@dataclass
class Received:
    """What the server accepted: each message with the envelope's recipients."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: bool = False

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        if self.refuse:
            return "554 5.7.1 relaying refused for this test"
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


def _check_login(server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class MailServer:
    port: int
    received: Received

    def config(self, **extra: str) -> dict:
        """The app's GOVERNANCE_SMTP_* settings for this server (no TLS on loopback)."""
        return {"GOVERNANCE_SMTP_HOST": "127.0.0.1", "GOVERNANCE_SMTP_PORT": str(self.port),
                "GOVERNANCE_SMTP_FROM": "need-to-know@example.org",
                "GOVERNANCE_SMTP_STARTTLS": "false", **extra}


@contextmanager
def running_mail_server(*, login: bool = False, refuse: bool = False) -> Iterator[MailServer]:
    received = Received(refuse=refuse)
    port = free_port()
    options = {"authenticator": _check_login, "auth_require_tls": False,
               "auth_required": True} if login else {}
    controller = Controller(received, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer(port, received)
    finally:
        controller.stop()
