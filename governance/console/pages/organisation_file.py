"""The Organisation file page (contract section 9): download the current organisation (edits
included), upload a file, review its dry-run plan (every change and conflict, the counts, who
gains or loses access) and apply exactly that plan, audited as the signed-in administrator.

An upload that validates is kept by its SHA-256 (``org_file_upload``) and reviewed at its own
address, so the apply runs the reviewed text from any worker, even after a new sign-in. The
apply re-plans inside its transaction and writes nothing if the plan is no longer the one
reviewed (the store changed since): the page then shows the new plan.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import yaml
from flask import (
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import HiddenField, SubmitField
from wtforms.validators import DataRequired, Regexp

from governance.console import bp
from governance.extension import state
from governance.models import OrgFileUpload
from governance.operations.apply_organisation import ApplyOrganisation
from governance.operations.apply_plan import ApplyResult, PlanChanged
from governance.operations.organisation_file import KeepUploadedFile, RecordOrgExport, kept_upload
from governance.orgfile import OrgFileError, load_text, validate
from governance.orgfile.export import export_org, policy_version
from governance.orgfile.upload import read_upload
from governance.reads.apply_impact import plan_impact
from governance.signin.powers import ADMIN
from governance.signin.session import (
    SIGNED_IN_AT,
    fresh_sign_in,
    fresh_sign_in_required,
    power_required,
    signed_in_user,
)

PAGE, PLAN, APPLIED = (f"governance/console/organisation_file{suffix}.html"
                       for suffix in ("", "_plan", "_applied"))
LINES_SHOWN = 500  # change lines listed per section; the whole plan is a download away
DIGEST = r"^[0-9a-f]{64}$"


class UploadForm(FlaskForm):
    file = FileField("Organisation file (YAML or JSON)",
                     validators=[FileRequired("Choose an organisation file to upload.")])
    submit = SubmitField("Upload and review")


class ApplyForm(FlaskForm):
    plan = HiddenField(validators=[DataRequired(), Regexp(DIGEST)])
    submit = SubmitField("Apply")


@bp.get("/organisation-file")
@power_required(ADMIN)
def organisation_file():
    return _page(UploadForm())


@bp.get("/organisation-file/download")
@power_required(ADMIN)
def organisation_file_download():
    fmt = request.args.get("format", "yaml")
    if fmt not in ("yaml", "json"):
        abort(404)
    session_ = state().session
    org, version = export_org(session_), policy_version(session_)
    text = (json.dumps(org, indent=2, ensure_ascii=False) + "\n" if fmt == "json"
            else yaml.safe_dump(org, sort_keys=False, allow_unicode=True))
    RecordOrgExport(signed_in_user().id, fmt, version, state().clock()).execute(session_)
    name = f"organisation-{version[:12] or 'empty'}.{fmt}"
    return Response(text, mimetype="application/json" if fmt == "json" else "application/yaml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/organisation-file")
@power_required(ADMIN)
def organisation_file_upload():
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(form, errors=[e for errs in form.errors.values() for e in errs]), 400
    upload = form.file.data
    name = _file_name(upload.filename)
    limit = _upload_limit()
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        return _too_large(form)
    try:
        text, _spec = read_upload(data, name)
    except OrgFileError as exc:
        return _page(form, errors=exc.errors, file_name=name), 400
    digest = KeepUploadedFile(text, name, signed_in_user().id, state().clock()).execute(
        state().session)
    return redirect(url_for(".organisation_file_plan", digest=digest), 303)


@bp.get("/organisation-file/plans/<digest>")
@power_required(ADMIN)
def organisation_file_plan(digest: str):
    upload = _upload(digest)
    result = _dry_run(upload)
    return _plan(upload, result, _apply_form(result))


@bp.get("/organisation-file/plans/<digest>/plan.txt")
@power_required(ADMIN)
def organisation_file_plan_text(digest: str):
    upload = _upload(digest)
    result = _dry_run(upload)
    lines = [str(c) for c in result.changes] + result.conflicts + [
        f"{len(result.changes)} change(s), {len(result.conflicts)} conflict(s); nothing was "
        f"written (policy version would be {result.version})"]
    return Response("\n".join(lines) + "\n", mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="plan-{digest[:12]}.txt"'})


@bp.post("/organisation-file/plans/<digest>")
@power_required(ADMIN)
@fresh_sign_in_required
def organisation_file_apply(digest: str):
    upload = _upload(digest)
    form = ApplyForm()
    if not form.validate_on_submit():
        result = _dry_run(upload)
        return _plan(upload, result, _apply_form(result),
                     error="The form did not say which plan you reviewed: review it and "
                           "apply again."), 400
    spec = validate(load_text(upload.text, upload.name or "upload"))
    try:
        result = ApplyOrganisation(spec, actor=signed_in_user().id, file_digest=digest,
                                   reviewed_plan=form.plan.data,
                                   now=state().clock()).execute(state().session)
    except PlanChanged as changed:
        return _plan(upload, changed.result, _apply_form(changed.result),
                     error="The organisation changed after you reviewed this plan, so it "
                           "was not applied. Below is what applying the file would do now: "
                           "review it, then apply again."), 409
    return render_template(APPLIED, upload=upload, result=result,
                           summary=_summary(result))


@bp.errorhandler(RequestEntityTooLarge)
def _request_too_large(exc: RequestEntityTooLarge):
    """A body over the limit (the whole request is refused before its CSRF token is read)."""
    # The body stays unread: the page's forms (sign-out's too) must find empty form data
    # instead of trying to read it again.
    request.__dict__.update(form=ImmutableMultiDict(), files=ImmutableMultiDict())
    if request.endpoint == "governance_console.organisation_file_upload":
        return _too_large(UploadForm(formdata=None))
    return render_template("governance/console/error.html", status=413,
                           title="Too large", message=exc.description), 413


def _too_large(form: UploadForm):
    limit = _upload_limit()
    return _page(form, errors=[
        f"The file is larger than this page accepts ({_size(limit)}). Apply a larger file "
        "with `flask --app wsgi governance apply FILE`, or raise GOVERNANCE_MAX_BODY_BYTES."]
    ), 413


def _page(form: UploadForm, *, errors: list[str] | None = None, file_name: str | None = None):
    return render_template(PAGE, form=form, errors=errors or [], file_name=file_name,
                           limit=_size(_upload_limit()), fresh=fresh_sign_in(),
                           fresh_minutes=_fresh_minutes(),
                           version=policy_version(state().session))


def _plan(upload: OrgFileUpload, result: ApplyResult, form: ApplyForm, *,
          error: str | None = None):
    sections: dict[str, list[str]] = {}
    for change in result.changes:
        sections.setdefault(change.section, []).append(str(change))
    return render_template(
        PLAN, upload=upload, result=result, form=form, error=error, sections=sections,
        lines_shown=LINES_SHOWN, summary=_summary(result),
        impact=plan_impact(state().session, result),
        fresh_until=_fresh_until(), fresh_minutes=_fresh_minutes())


def _apply_form(result: ApplyResult) -> ApplyForm:
    """The Apply button for ``result``'s plan (never the plan a refused POST carried)."""
    return ApplyForm(formdata=None, plan=result.plan_digest())


def _dry_run(upload: OrgFileUpload) -> ApplyResult:
    spec = validate(load_text(upload.text, upload.name or "upload"))
    return ApplyOrganisation(spec, actor=signed_in_user().id, dry_run=True,
                             file_digest=upload.digest, now=state().clock()
                             ).execute(state().session)


def _upload(digest: str) -> OrgFileUpload:
    upload = kept_upload(state().session, digest, state().clock()) if len(digest) == 64 else None
    if upload is None:
        abort(404, "This upload is no longer kept (uploads are kept for a day after they are "
                   "made). Upload the file again to review it.")
    return upload


def _summary(result: ApplyResult) -> list[tuple[str, str, int]]:
    """(section, change, count) rows, in the order the apply makes them."""
    order = list(dict.fromkeys(c.section for c in result.changes))
    counts = result.summary()
    return [(section, op, counts[f"{section}.{op}"]) for section in order
            for op in dict.fromkeys(c.op for c in result.changes if c.section == section)]


def _file_name(name: str | None) -> str:
    """The uploaded file's own name, for people to recognise (never used as a path)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in name if c.isprintable())[:200] or "upload"


def _upload_limit() -> int:
    return int(current_app.config["GOVERNANCE_MAX_BODY_BYTES"])


def _fresh_minutes() -> int:
    return int(current_app.config["GOVERNANCE_FRESH_SIGN_IN_MINUTES"])


def _fresh_until() -> datetime | None:
    """Until when this sign-in is recent enough to apply (None: it already is not)."""
    try:
        signed_in = datetime.fromisoformat(str(session.get(SIGNED_IN_AT)))
    except ValueError:
        return None
    until = signed_in + timedelta(minutes=_fresh_minutes())
    return until if until > state().clock() else None


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit // 1024} KiB"
