"""``flask governance directory sync``: provision users and assignments from the directory."""
from __future__ import annotations

import sys
import time

import click
from flask.cli import with_appcontext

from governance.directory.connection import DirectoryConfigError, DirectorySettings
from governance.errors import GovernanceError
from governance.extension import state
from governance.migrate import upgrade_database
from governance.operations.directory_sync import SyncDirectory, SyncResult


@click.group("directory")
def directory_group() -> None:
    """Users and role assignments from the LDAP directory (contract section 8)."""


@directory_group.command("sync")
@click.option("--dry-run", is_flag=True, help="Print the plan, one line per change; write "
                                              "nothing.")
@click.option("--changed-only", is_flag=True,
              help="Read only entries changed since the last sync (for runs every few "
                   "minutes); a full sync when in doubt.")
@click.option("--allow-mass-leave", is_flag=True,
              help="Apply even if more users would be disabled than "
                   "GOVERNANCE_LDAP_MAX_LEAVERS allows.")
@with_appcontext
def directory_sync(dry_run: bool, changed_only: bool, allow_mass_leave: bool) -> None:
    """Read the directory, plan, and apply the plan in one transaction (or change nothing)."""
    upgrade_database()
    st = state()
    try:
        settings = DirectorySettings.from_config(st.config)
    except DirectoryConfigError as exc:
        raise click.ClickException(str(exc)) from None
    progress, began = Progress(), time.perf_counter()
    operation = SyncDirectory(settings, st.clock(), dry_run=dry_run, changed_only=changed_only,
                              allow_mass_leave=allow_mass_leave, progress=progress)
    try:
        result = operation.execute(st.session)
    except GovernanceError as exc:
        raise click.ClickException(f"directory sync refused: {exc.message}") from None
    finally:
        progress.close()
    report(result, time.perf_counter() - began)


class Progress:
    """Counts entries while reading (their number is unknown until the end), then a bar while
    the plan is applied."""

    def __init__(self) -> None:
        self.read: dict[str, int] = {}
        self.bar = None

    def __call__(self, what: str, n: int) -> None:
        if what in ("users", "groups"):
            self.read[what] = self.read.get(what, 0) + n
            click.echo("\rReading the directory: " + ", ".join(
                f"{v} {k}" for k, v in self.read.items()), nl=False, err=True)
        elif what == "planned" and n:
            click.echo("", err=True)
            self.bar = click.progressbar(length=n, label="Applying", file=sys.stderr,
                                         show_pos=True)
            self.bar.__enter__()
        elif what == "applied" and self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        elif self.read:
            click.echo("", err=True)


def report(result: SyncResult, seconds: float) -> None:
    lines = [str(s) for s in result.plan.steps] if result.dry_run else []
    for line in lines + result.plan.conflicts:
        click.echo(line)
    counts = ", ".join(f"{k}: {v}" for k, v in result.plan.summary().items() if v)
    kind = "full" if result.full else "changed-only"
    if result.dry_run:
        click.echo(f"Dry run ({kind}, {seconds:.2f} s): {len(result.plan.steps)} change(s) "
                   f"would be made; nothing was written. {counts}")
    else:
        click.echo(f"Directory sync ({kind}, {seconds:.2f} s): {len(result.plan.steps)} "
                   f"change(s) applied. {counts}")
