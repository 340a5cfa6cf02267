"""Notifications (issue 15, item 6): what concerns me, newest first, from the in-app inbox that
every operation's notices fill (``governance.notify.InboxNotifier``), with the unread count in
the header of every page.

Opening a notification marks it read: its link goes through ``/notifications/ID/open``, which
marks it and sends me on to the page where I can act. The list itself marks nothing, so what
is new stays marked "New" until I have opened it or used "Mark all read" (a form, with its
CSRF token). Marking read writes nothing anyone else sees, and a notice already read writes
nothing at all, so the opening link may be a plain GET that works without JavaScript.
"""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from wtforms import SelectField, SubmitField

from governance.console import bp
from governance.db import CONSOLE, release_session
from governance.extension import state
from governance.models import Notification
from governance.operations.notifications import MarkNotificationsRead
from governance.reads import notifications as inbox
from governance.signin.session import sign_in_required, signed_in_user

PAGE_SIZE = 25
ENDPOINT = f"{bp.name}.notifications"
SHOW_CHOICES = [("", "All"), ("unread", "Unread only")]
ABOUT_CHOICES = [("", "Everything")] + [(key, label) for key, (label, _) in inbox.ABOUT.items()]


class InboxFilterForm(FlaskForm):
    """The filters, read from the query string (a search: no CSRF token, nothing written)."""

    class Meta:
        csrf = False

    show = SelectField("Show", choices=SHOW_CHOICES, default="")
    about = SelectField("About", choices=ABOUT_CHOICES, default="")


class MarkAllReadForm(FlaskForm):
    submit = SubmitField("Mark all read")


@bp.context_processor
def _inbox_link() -> dict:
    """The header's link, "Notifications (3)", on every page of a signed-in user."""
    user = signed_in_user()
    if user is None:
        return {}
    try:
        unread = inbox.unread_count(state().session, user.id)
    except SQLAlchemyError:  # an error page for a store that is down still renders
        release_session(state().session)
        unread = None
    return {"inbox": {"href": url_for(ENDPOINT), "unread": unread,
                      "current": request.endpoint == ENDPOINT}}


def target(notification: Notification) -> tuple[str, str]:
    """The page to act on it (label, address); the dashboard while that page is not built."""
    endpoint, label = inbox.ACT_ON.get(inbox.CATEGORY_OF.get(notification.event), ("home", ""))
    full = f"{bp.name}.{endpoint}"
    if full not in current_app.view_functions:
        full, label = f"{bp.name}.home", "Dashboard"
    return label or "Dashboard", url_for(full)


@bp.get("/notifications")
@sign_in_required
def notifications():
    """My notifications, newest first, filtered, in pages of PAGE_SIZE."""
    session, user = state().session, signed_in_user()
    form = InboxFilterForm(formdata=request.args)
    errors = {}
    if request.args and not form.validate():
        errors = {getattr(form, name).label.text: "not one of the choices offered"
                  for name in form.errors}
    wanted = inbox.InboxFilter(unread_only=form.show.data == "unread",
                               about=form.about.data or None) if not errors else None
    before = _cursor(user.id)
    rows, older = [], False
    if wanted is not None:
        rows = inbox.inbox_page(session, user.id, wanted, PAGE_SIZE + 1, before)
        older, rows = len(rows) > PAGE_SIZE, rows[:PAGE_SIZE]
    links = {k: v for k, v in (("show", form.show.data), ("about", form.about.data)) if v}
    unread = inbox.unread_count(session, user.id)
    return render_template(
        "governance/console/notifications.html", form=form, errors=errors, unread=unread,
        matching=inbox.count(session, user.id, wanted) if wanted is not None else 0,
        items=[(n, inbox.CATEGORY_OF.get(n.event), target(n)) for n in rows],
        about=inbox.ABOUT, filtered=bool(links), filter_args=links,
        outcomes=inbox.outcomes(session, {n.ref for n in rows if n.ref}, state().clock()),
        mark_all=MarkAllReadForm() if unread else None,
        older_url=url_for(ENDPOINT, **links, before=rows[-1].id) if older else None,
        newest_url=url_for(ENDPOINT, **links) if before is not None else None,
    ), 400 if errors else 200


@bp.get("/notifications/<notification_id>/open")
@sign_in_required
def notification_open(notification_id: str):
    """Mark it read, then go where I can act on it."""
    user = signed_in_user()
    notification = inbox.own(state().session, user.id, notification_id)
    if notification is None:
        abort(404, "There is no such notification of yours.")
    _label, href = target(notification)
    MarkNotificationsRead(user.id, state().clock(), (notification.id,), via=CONSOLE).execute(
        state().session)
    return redirect(href)


@bp.post("/notifications/read")
@sign_in_required
def notifications_read_all():
    MarkAllReadForm().validate_on_submit()  # the token was checked before the view (400 if not)
    marked = MarkNotificationsRead(signed_in_user().id, state().clock(), via=CONSOLE).execute(
        state().session)
    flash(f"{marked} notification{'' if marked == 1 else 's'} marked read." if marked
          else "Nothing was unread.")
    return redirect(url_for(ENDPOINT, **{k: v for k, v in request.args.items()
                                          if k in ("show", "about")}))


def _cursor(user: str) -> Notification | None:
    """``?before=ID``: one of my notifications to page on from (anything else is a 400)."""
    value = request.args.get("before")
    if value is None:
        return None
    row = inbox.own(state().session, user, value)
    if row is None:
        abort(400, "That page of notifications does not exist; start again from the newest.")
    return row
