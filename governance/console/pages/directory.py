"""The Directory page (contract sections 8 and 9, power ``admin``): how the service reads the
LDAP directory, where the last sync left off, which groups give which roles, the people the
service knows (with where each came from and why an account is disabled), and a sync from the
console: ``Preview sync`` shows the plan and writes nothing; ``Sync now`` (a fresh sign-in)
reads the directory again and applies, through the same operation as the CLI, audited with the
directory as actor and the signed-in administrator named as the one who ran it."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField

from governance.console import bp
from governance.console.paged import page_number, query_text
from governance.directory.connection import (
    REQUIRED_SETTINGS,
    DirectoryConfigError,
    DirectorySettings,
)
from governance.errors import GovernanceError
from governance.extension import state
from governance.operations.directory_sync import SyncDirectory, SyncResult
from governance.reads.directory import (
    STATUSES,
    UserFilter,
    group_mappings,
    last_sync,
    user_page,
    user_sources,
)
from governance.signin.powers import ADMIN, AUDITOR
from governance.signin.session import (
    fresh_sign_in,
    fresh_sign_in_required,
    power_required,
    signed_in_powers,
    signed_in_user,
)

PAGE, PLAN = "governance/console/directory.html", "governance/console/directory_sync.html"
PER_PAGE = 50
LINES_SHOWN = 500  # plan lines listed; the CLI's dry run prints them all


class SyncForm(FlaskForm):
    changed_only = BooleanField("Only entries changed since the last sync")
    allow_mass_leave = BooleanField("Apply even if more people would leave than the limit "
                                    "allows")
    preview = SubmitField("Preview sync")
    run = SubmitField("Sync now")


@bp.get("/directory")
@power_required(ADMIN)
def directory():
    return _overview(SyncForm(formdata=None))


@bp.post("/directory/preview")
@power_required(ADMIN)
def directory_preview():
    return _sync(dry_run=True)


@bp.post("/directory/sync")
@power_required(ADMIN)
@fresh_sign_in_required
def directory_sync():
    return _sync(dry_run=False)


@bp.get("/directory/sync")
@power_required(ADMIN)
def directory_sync_again():
    """Where a fresh sign-in returns to: the page, to run the sync again."""
    return redirect(url_for(".directory"))


def _sync(*, dry_run: bool):
    form = SyncForm()
    if not form.validate_on_submit():
        return _overview(form, error="The form was not accepted: "
                         + "; ".join(e for errs in form.errors.values() for e in errs)), 400
    try:
        settings = DirectorySettings.from_config(current_app.config)
    except DirectoryConfigError as exc:
        return _overview(form, error=f"No sync: {exc}."), 409
    began = state().clock()
    operation = SyncDirectory(settings, began, dry_run=dry_run,
                              changed_only=form.changed_only.data,
                              allow_mass_leave=form.allow_mass_leave.data,
                              started_by=signed_in_user().id)
    try:
        result = operation.execute(state().session)
    except GovernanceError as exc:
        state().session.rollback()
        return _overview(form, error=f"Nothing was changed: {exc.message}."), exc.status
    if not dry_run:
        flash(_summary_line(result))
    return render_template(PLAN, result=result, form=SyncForm(formdata=None, **{
        "changed_only": form.changed_only.data}), lines_shown=LINES_SHOWN,
        counts=_counts(result), fresh=fresh_sign_in())


def _overview(form: SyncForm, *, error: str | None = None):
    session, now = state().session, state().clock()
    wanted = UserFilter(text=query_text("q"), source=query_text("source"),
                        status=query_text("status") if query_text("status") in STATUSES else "")
    users = user_page(session, wanted, now, page_number(), PER_PAGE)
    try:
        settings, config_error = DirectorySettings.from_config(current_app.config), None
    except DirectoryConfigError as exc:
        settings, config_error = None, exc
    return render_template(
        PAGE, form=form, error=error, settings=settings, config_error=config_error,
        required=REQUIRED_SETTINGS,
        transport=_transport(settings), mark=last_sync(session),
        mappings=group_mappings(session), users=users, wanted=wanted,
        sources=user_sources(session), statuses=STATUSES, now=now, fresh=fresh_sign_in(),
        can_audit=AUDITOR in signed_in_powers(),
        page_url=lambda n: url_for(".directory", q=wanted.text or None,
                                   source=wanted.source or None,
                                   status=wanted.status or None, page=n))


def _transport(settings: DirectorySettings | None) -> tuple[str, bool] | None:
    """How the connection is protected, and whether that is safe."""
    if settings is None:
        return None
    if settings.url.lower().startswith("ldaps://"):
        return "LDAPS (TLS from the first byte), certificate checked", True
    if settings.start_tls:
        return "StartTLS, certificate checked", True
    return ("Not encrypted: entries and the read-only bind's password cross the network in "
            "clear. Use ldaps:// or set GOVERNANCE_LDAP_START_TLS."), False


def _counts(result: SyncResult) -> list[tuple[str, int]]:
    return [(op, n) for op, n in result.plan.summary().items() if n]


def _summary_line(result: SyncResult) -> str:
    counts = ", ".join(f"{op}: {n}" for op, n in _counts(result)) or "no changes"
    kind = "Full" if result.full else "Changed-only"
    return f"{kind} directory sync applied: {len(result.plan.steps)} change(s) ({counts})."
