"""The ``flask governance`` command group (contract section 6)."""
from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path

import click
import yaml
from flask.cli import with_appcontext
from sqlalchemy.exc import OperationalError

from governance import audit
from governance.db import CLI
from governance.directory.commands import directory_group
from governance.extension import state
from governance.migrate import upgrade_database
from governance.operations.api_keys import (
    SCOPES,
    CreateApiKey,
    RevokeApiKey,
    list_keys,
)
from governance.operations.apply_organisation import ApplyOrganisation
from governance.operations.apply_plan import ApplyResult
from governance.operations.errors import OperationError
from governance.operations.users import DisableUser, EnableUser
from governance.orgfile import OrgFileError, validate
from governance.orgfile.export import export_org
from governance.orgfile.upload import read_upload

PROGRESS_THRESHOLD = 1000  # items in a file before a progress bar is worth showing


class _Commands(click.Group):
    """Every command: a database that cannot be reached (or fails under it) is one line naming
    it, with exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context):  # noqa: ANN201 - whatever the command returns
        try:
            return super().invoke(ctx)
        except OperationalError as exc:
            raise click.ClickException(f"the database failed (GOVERNANCE_DATABASE_URL): "
                                       f"{exc.orig or exc}") from None


@click.group("governance", cls=_Commands)
def governance_cli() -> None:
    """Need-to-Know: organisation files, API keys, audit."""


governance_cli.add_command(directory_group)


@governance_cli.command("apply")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Print the changes without writing anything.")
@click.option("--actor", default="cli", show_default=True, help="Who is applying (audited).")
@click.option("--replace-console-edits", is_flag=True,
              help="Grant lines edited in the console's role matrix take the file's version "
                   "(without it they stay as edited and are listed as conflicts).")
@with_appcontext
def apply_command(path: str, dry_run: bool, actor: str, replace_console_edits: bool) -> None:
    """Load a whole organisation from a YAML or JSON org file."""
    try:  # as strictly as the console reads an upload: UTF-8, not empty, no alias bombs
        text, spec = read_upload(_read(path), path)
    except OrgFileError as exc:
        raise click.ClickException(exc.message) from None
    result = apply_spec(spec, actor=actor, dry_run=dry_run,
                        digest=hashlib.sha256(text.encode()).hexdigest(), label=path,
                        replace_console_edits=replace_console_edits)
    report(result, path)


def apply_spec(spec, *, actor: str, dry_run: bool, digest: str | None, label: str,
               replace_console_edits: bool = False) -> ApplyResult:
    """Apply with a progress bar for large files (shared by ``apply`` and ``demo``)."""
    upgrade_database()
    total = sum(len(getattr(spec, s)) for s in ("fields", "roles", "users", "participants",
                                                  "involvements", "consents"))
    operation = ApplyOrganisation(spec, actor=actor, dry_run=dry_run, file_digest=digest,
                                  replace_console_edits=replace_console_edits)
    session = state().session
    if total < PROGRESS_THRESHOLD:
        return operation.execute(session)
    with click.progressbar(length=total, label=f"Applying {label}", file=sys.stderr,
                           show_pos=True) as bar:
        operation.progress = lambda _section, n: bar.update(n)
        return operation.execute(session)


def report(result: ApplyResult, path: str) -> None:
    changes = result.changes
    if result.dry_run:
        for change in changes:
            click.echo(str(change))
    for line in result.conflicts:  # listed in the file, but something else ended it
        click.echo(line)
    conflicts = (f" {len(result.conflicts)} conflict(s): left as they are."
                 if result.conflicts else "")
    if result.dry_run:
        click.echo(f"Dry run: {len(changes)} change(s) would be made; nothing was written "
                   f"(policy version would be {result.version}).{conflicts}")
    elif not changes:
        click.echo(f"No changes: the store already matches {path} "
                   f"(policy version {result.version}).{conflicts}")
    else:
        for key, count in sorted(result.summary().items()):
            click.echo(f"  {key:28} {count}")
        click.echo(f"Applied {len(changes)} change(s); policy version {result.version}."
                   f"{conflicts}")


@governance_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to a file.")
@with_appcontext
def export_command(fmt: str, output: str | None) -> None:
    """Print the current organisation as an org file."""
    upgrade_database()
    org = export_org(state().session)
    text = (json.dumps(org, indent=2) + "\n" if fmt == "json"
            else yaml.safe_dump(org, sort_keys=False, allow_unicode=True))
    if output:
        _write(output, text)
        click.echo(f"Wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@governance_cli.command("demo")
@click.option("--participants", default=300, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--seed", default=7, show_default=True, type=int)
@with_appcontext
def demo_command(participants: int, seed: int) -> None:
    """Load the sample organisation (housing, behavioral health, county contract)."""
    from governance.demo import build_demo_org

    spec = validate(build_demo_org(seed=seed, participants=participants))
    result = apply_spec(spec, actor="demo", dry_run=False, digest=None, label="demo")
    report(result, "the demo organisation")


@governance_cli.group("api-key")
def api_key_group() -> None:
    """Create, list and revoke API keys of calling applications."""


@api_key_group.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(SCOPES),
              help="decide (decisions, AuthZEN, filter) and/or manage (workflows, audit). "
                   "Default: decide.")
@with_appcontext
def api_key_create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; it is printed once, alone on the last line."""
    upgrade_database()
    try:
        key = CreateApiKey(name, scopes or ("decide",)).execute(state().session)
    except OperationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Created key '{name}' with scopes {', '.join(scopes or ('decide',))}. "
               "Store it now; it cannot be shown again:", err=True)
    click.echo(key)


@api_key_group.command("list")
@with_appcontext
def api_key_list() -> None:
    """List keys (names, scopes, state; never the keys)."""
    upgrade_database()
    for key in list_keys(state().session):
        status = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        click.echo(f"{key.name:24} {','.join(key.scopes):16} {key.prefix}  "
                   f"created {key.created_at:%Y-%m-%d %H:%M}  {status}")


@api_key_group.command("revoke")
@click.argument("name")
@with_appcontext
def api_key_revoke(name: str) -> None:
    """Revoke a key at once."""
    upgrade_database()
    try:
        RevokeApiKey(name).execute(state().session)
    except OperationError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"Revoked key '{name}'.")


@governance_cli.group("user")
def user_group() -> None:
    """Disable or enable a person's account by hand."""


@user_group.command("disable")
@click.argument("user_id")
@click.option("--reason", required=True, help="Why (audited, shown to reviewers).")
@click.option("--actor", default="cli", show_default=True, help="Who is disabling (audited).")
@with_appcontext
def user_disable(user_id: str, reason: str, actor: str) -> None:
    """Disable at once: overrides revoked, pending requests refused. No apply or sync enables
    the account again; only `user enable` does."""
    change = _run(DisableUser(user_id, actor, reason, state().clock(), via=CLI))
    click.echo(f"Disabled {user_id}: {len(change.revoked_overrides)} override(s) revoked, "
               f"{len(change.refused_requests) + len(change.refused_escalations)} pending "
               "request(s) refused.")


@user_group.command("enable")
@click.argument("user_id")
@click.option("--reason", help="Why (audited).")
@click.option("--actor", default="cli", show_default=True, help="Who is enabling (audited).")
@with_appcontext
def user_enable(user_id: str, reason: str | None, actor: str) -> None:
    """Enable an account that was disabled; nothing revoked comes back."""
    _run(EnableUser(user_id, actor, reason, state().clock(), via=CLI))
    click.echo(f"Enabled {user_id}.")


def _run(operation):  # noqa: ANN001, ANN202 - any operation
    """Run an operation for the CLI: its refusal becomes a one-line error, exit status 1."""
    upgrade_database()
    try:
        return operation.execute(state().session)
    except OperationError as exc:
        raise click.ClickException(exc.message) from None


@governance_cli.group("audit")
def audit_group() -> None:
    """The tamper-evident audit trail."""


@audit_group.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(dir_okay=False, exists=True),
              help="A file written by `audit checkpoint`: the chain must still reach it.")
@with_appcontext
def audit_verify(checkpoint_file: str | None) -> None:
    """Check the hash chain; exit 1 naming every edited, deleted or reordered row."""
    checkpoint = _read_checkpoint(checkpoint_file) if checkpoint_file else None
    upgrade_database()
    key = state().audit_key
    result = audit.verify(state().session, key)
    problems = list(result.problems)
    if checkpoint:
        problems += audit.check_checkpoint(state().session, checkpoint, key)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED {problem}", err=True)
        raise click.ClickException(f"audit chain broken: {len(problems)} problem(s) "
                                   f"in {result.rows} rows")
    click.echo(f"Audit chain intact: {result.rows} event(s) verified.")
    if result.keyed_from is None:
        click.echo("Warning: the chain is not keyed (GOVERNANCE_AUDIT_KEY unset when it was "
                   "written): someone able to write the database could re-chain it.", err=True)
    elif result.keyed_from > 1:
        click.echo(f"Rows 1-{result.keyed_from - 1} predate the key (plain SHA-256 links).")
    if checkpoint_file:
        click.echo(f"The chain still reaches the checkpoint ({checkpoint_file}).")


def _read_checkpoint(path: str) -> audit.Checkpoint:
    """The checkpoint in ``path``, read before the chain is: a file that is not one is bad
    input (exit 1 naming what is wrong), never reported as tampering."""
    try:
        text = Path(path).read_text()
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read checkpoint {path}: {exc}") from None
    try:
        return audit.Checkpoint.read(json.loads(text))
    except (json.JSONDecodeError, audit.NotACheckpoint) as exc:
        what = f"not JSON ({exc})" if isinstance(exc, json.JSONDecodeError) else exc
        raise click.ClickException(
            f"{path} is not a checkpoint file (as `audit checkpoint` writes): {what}; "
            "the chain was not checked against it") from None


@audit_group.command("checkpoint")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the checkpoint (keep it outside the database).")
@with_appcontext
def audit_checkpoint(output: str) -> None:
    """Write the chain's current head, signed with GOVERNANCE_AUDIT_KEY, after verifying it."""
    upgrade_database()
    key = state().audit_key
    result = audit.verify(state().session, key)
    if result.problems:
        for problem in result.problems:
            click.echo(f"TAMPERED {problem}", err=True)
        raise click.ClickException("audit chain broken: no checkpoint written")
    document = audit.checkpoint(result, key, state().clock())
    _write(output, json.dumps(document, indent=2) + "\n")
    click.echo(f"Checkpoint of row {document['seq']} written to {output}"
               + ("" if key else " (unsigned: GOVERNANCE_AUDIT_KEY is not set)") + ".")


@governance_cli.group("reviews")
def reviews_group() -> None:
    """Access reviews and elevated-access deadlines."""


@reviews_group.command("run-due")
@with_appcontext
def reviews_run_due() -> None:
    """Apply deadlines: lapse pending overrides, expire ended ones, close due campaigns, open
    scheduled ones. Safe to run from cron every minute, even twice at once."""
    from governance.operations.reviews import RunDue

    upgrade_database()
    st = state()
    done = RunDue(st.clock(), st.config["GOVERNANCE_PENDING_OVERRIDE_MINUTES"],
                  notifier=st.notifier).execute(st.session)
    click.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in done.items()))


@governance_cli.group("disclosures")
def disclosures_group() -> None:
    """Disclosure log checks."""


@disclosures_group.command("sample")
@click.option("--month", help="YYYY-MM (default: last month).")
@click.option("--size", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--seed", type=int, help="Repeat a draw exactly.")
@with_appcontext
def disclosures_sample(month: str | None, size: int, seed: int | None) -> None:
    """Check a random sample of a month's disclosures; exit 1 if any has exceptions."""
    from governance.operations.accounting import sampling_audit

    upgrade_database()
    if month is not None:
        try:
            if datetime.strptime(month, "%Y-%m").year >= 9999:
                raise ValueError(month)
        except ValueError:
            raise click.BadParameter("use YYYY-MM, before 9999-12",
                                     param_hint="--month") from None
    report = sampling_audit(state().session, month, size, state().clock(), seed)
    click.echo(f"{report['month']}: sampled {report['sampled']} of {report['population']} "
               f"disclosure(s); {len(report['exceptions'])} with exceptions")
    for item in report["exceptions"]:
        for problem in item["exceptions"]:
            click.echo(f"  {item['disclosure_id']}: {problem}")
    if report["exceptions"]:
        sys.exit(1)


def _read(path: str) -> bytes:
    try:
        with click.open_file(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None
