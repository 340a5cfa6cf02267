"""Notifications: a small hook interface, the in-app inbox, a logging notifier and an SMTP one.

Operations ``deliver`` their notices through the notifier the front end hands them, after their
change commits. The configured notifier (``notifier_from_config``) keeps every notice in the
in-app inbox (one ``Notification`` row per recipient: the console's Notifications page), then
e-mails it when ``GOVERNANCE_SMTP_HOST`` is set, or logs it. A host application may set
``state(app).notifier`` to any object with the same method (a chat or ticketing bridge);
``Notifiers(InboxNotifier(), bridge)`` keeps the inbox beside it.

Why the inbox row is written after the operation's commit, not inside its transaction: the
change is what matters, and it must never depend on telling anyone (a failing insert, or a slow
recipient lookup holding the write lock, would otherwise block or undo a decision, and the API
would behave differently with the inbox than without it). A notice is a pointer, not the work:
every queue it points to (Approvals, Reviews, Requests) is read from the store itself, so a
notice lost to a crash between the two commits hides nothing that the pages do not show. And
there stays one hook, the one a host may replace, for every way of telling people.
"""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from governance.clock import utcnow
from governance.db import release_session
from governance.ids import new_id
from governance.models import Notification, User
from governance.reads.notifications import ACT_ON, CATEGORY_OF

log = logging.getLogger("governance.notify")


@dataclass
class Notice:
    event: str  # override.requested, override.approved, override.expiring, ...
    recipients: list[str]  # user ids: the people who can act on it (or whom it is about)
    subject: str
    body: str
    data: dict = field(default_factory=dict)
    at: datetime | None = None  # the operation's time (default: now, when delivered)
    ref: str | None = None  # the object it is about (default: ``data["id"]``)

    @property
    def about(self) -> str | None:
        return self.ref or self.data.get("id")


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


class InboxNotifier:
    """One unread ``Notification`` per recipient, committed on its own (see the module's
    docstring for why after the operation's commit)."""

    def notify(self, session: Session, notice: Notice) -> None:
        if not notice.recipients:  # nobody to tell: no commit (which would expire the view's rows)
            return
        at = notice.at or utcnow()
        session.add_all(Notification(id=new_id("ntf"), user_id=user, event=notice.event,
                                     subject=notice.subject[:1000], body=notice.body[:4000],
                                     ref=notice.about, created_at=at)
                        for user in sorted(set(notice.recipients)))
        try:
            session.commit()
        except Exception:
            release_session(session)  # the operation's change is committed; only this is lost
            raise


class Notifiers:
    """Several notifiers in turn; one that fails is logged and the others still run (the
    inbox row stays when the mail relay is down)."""

    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    def notify(self, session: Session, notice: Notice) -> None:
        for notifier in self.notifiers:
            try:
                notifier.notify(session, notice)
            except Exception:  # noqa: BLE001 - the change is committed; this channel is lost
                log.exception("%s: %s failed", notice.event, type(notifier).__name__)


class SmtpNotifier:
    """One message per recipient, to the address on their user record (nobody sees the other
    recipients' addresses), over one connection. A failure is logged with the event and the
    user ids, never the password or the message."""

    def __init__(self, host: str, port: int, user: str | None, password: str | None,
                 sender: str, starttls: bool, console_url: str | None = None) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.sender, self.starttls = sender, starttls
        self.console_url = console_url  # GOVERNANCE_BASE_URL and the console's prefix, or None

    def __repr__(self) -> str:  # never the password, whoever prints this object
        return f"SmtpNotifier({self.host}:{self.port}, from {self.sender})"

    def notify(self, session: Session, notice: Notice) -> None:
        addresses = {user: email for user, email in session.execute(
            select(User.id, User.email).where(User.id.in_(sorted(set(notice.recipients))),
                                              User.email.is_not(None), User.email != ""))}
        if not addresses:
            log.warning("%s: no e-mail address for %s", notice.event,
                        ", ".join(notice.recipients) or "anyone")
            return
        try:
            with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                for user_id, address in sorted(addresses.items()):
                    self._send(smtp, notice, user_id, address)
        except (OSError, smtplib.SMTPException) as exc:
            # A lost e-mail must not undo the committed change; it is logged for follow-up.
            log.error("%s: could not e-mail %s: %s", notice.event,
                      ", ".join(sorted(addresses)), type(exc).__name__)

    def _send(self, smtp: smtplib.SMTP, notice: Notice, user_id: str, address: str) -> None:
        message = EmailMessage()
        message["From"], message["To"] = self.sender, address
        message["Subject"] = notice.subject
        message.set_content(notice.body + self._link(notice))
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:  # this one address; the others still go
            log.error("%s: the mail server refused the address of %s", notice.event, user_id)

    def _link(self, notice: Notice) -> str:
        """Where to act on it, on the public address (never a request's Host): the page of
        its category, else the console's Notifications page."""
        if not self.console_url:
            return ""
        page = ACT_ON.get(CATEGORY_OF.get(notice.event), ("notifications", ""))[0]
        return f"\n\nOpen it in Need-to-Know: {self.console_url.rstrip('/')}/{page}\n"


def deliver(notifier: Notifier, session: Session, *notices: Notice) -> None:
    """Send after the commit: a notifier that fails is logged, never undoes the change."""
    for notice in notices:
        try:
            notifier.notify(session, notice)
        except Exception:  # noqa: BLE001 - the change is committed; the notice is lost, logged
            log.exception("%s: the notifier failed", notice.event)


def notifier_from_config(config: dict, console_prefix: str | None = None) -> Notifier:
    """The in-app inbox, then e-mail when ``GOVERNANCE_SMTP_HOST`` is set (else a log line);
    e-mails link to the console when it is mounted (at ``console_prefix``)."""
    if not config.get("GOVERNANCE_SMTP_HOST"):
        return Notifiers(InboxNotifier(), LoggingNotifier())
    return Notifiers(InboxNotifier(), SmtpNotifier(
        config["GOVERNANCE_SMTP_HOST"], int(config["GOVERNANCE_SMTP_PORT"]),
        config.get("GOVERNANCE_SMTP_USER"), config.get("GOVERNANCE_SMTP_PASSWORD"),
        config["GOVERNANCE_SMTP_FROM"], str(config["GOVERNANCE_SMTP_STARTTLS"]).lower() == "true",
        str(config["GOVERNANCE_BASE_URL"]).rstrip("/") + console_prefix if console_prefix
        else None))
