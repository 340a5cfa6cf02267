"""Notifications: a small hook interface, a logging notifier and an SMTP one.

Operations ``deliver`` their notices through the notifier the front end hands them, after their
change commits. A host application may set ``state(app).notifier`` to any object with the same
method (a chat or ticketing bridge).
"""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.models import User

log = logging.getLogger("governance.notify")


@dataclass
class Notice:
    event: str  # override.requested, override.approved, override.expiring, ...
    recipients: list[str]  # user ids
    subject: str
    body: str
    data: dict = field(default_factory=dict)


class Notifier(Protocol):
    def notify(self, session: Session, notice: Notice) -> None: ...


class LoggingNotifier:
    def notify(self, session: Session, notice: Notice) -> None:
        log.info("%s to %s: %s", notice.event, ", ".join(notice.recipients) or "-",
                 notice.subject)


class MemoryNotifier:
    """Keeps what was sent (for an embedding application's own delivery, and for tests)."""

    def __init__(self) -> None:
        self.sent: list[Notice] = []

    def notify(self, session: Session, notice: Notice) -> None:
        self.sent.append(notice)


class SmtpNotifier:
    def __init__(self, host: str, port: int, user: str | None, password: str | None,
                 sender: str, starttls: bool) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.sender, self.starttls = sender, starttls

    def notify(self, session: Session, notice: Notice) -> None:
        addresses = [email for email in session.scalars(
            select(User.email).where(User.id.in_(notice.recipients))) if email]
        if not addresses:
            log.warning("%s: no e-mail address for %s", notice.event, notice.recipients)
            return
        message = EmailMessage()
        message["From"], message["To"] = self.sender, ", ".join(addresses)
        message["Subject"] = notice.subject
        message.set_content(notice.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException):
            # A lost e-mail must not undo the committed change; it is logged for follow-up.
            log.exception("%s: could not send to %s", notice.event, addresses)


def deliver(notifier: Notifier, session: Session, *notices: Notice) -> None:
    """Send after the commit: a notifier that fails is logged, never undoes the change."""
    for notice in notices:
        try:
            notifier.notify(session, notice)
        except Exception:  # noqa: BLE001 - the change is committed; the notice is lost, logged
            log.exception("%s: the notifier failed", notice.event)


def notifier_from_config(config: dict) -> Notifier:
    if not config.get("GOVERNANCE_SMTP_HOST"):
        return LoggingNotifier()
    return SmtpNotifier(config["GOVERNANCE_SMTP_HOST"], int(config["GOVERNANCE_SMTP_PORT"]),
                        config.get("GOVERNANCE_SMTP_USER"),
                        config.get("GOVERNANCE_SMTP_PASSWORD"),
                        config["GOVERNANCE_SMTP_FROM"],
                        str(config["GOVERNANCE_SMTP_STARTTLS"]).lower() == "true")
