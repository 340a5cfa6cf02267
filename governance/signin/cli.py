"""``flask governance user create-admin`` and ``user set-password`` (contract section 6).

The password is read from the first line of standard input when that is not a terminal (or
with ``--password-stdin``), else prompted for twice with echo off; it is never printed.
"""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from governance.cli import _run, user_group
from governance.extension import state
from governance.operations.local_accounts import ADMIN_ROLE, CreateAdmin, SetPassword


def read_password(from_stdin: bool) -> str:
    """The new password: stdin's first line (without its line ending), or two prompts."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise click.ClickException("no password on standard input")
        return line.rstrip("\r\n")
    return click.prompt("New password", hide_input=True, confirmation_prompt=True,
                        err=True)


@user_group.command("create-admin")
@click.argument("user_id")
@click.option("--name", help="The person's name, as the console shows it.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--actor", default="cli", show_default=True, help="Who is creating it (audited).")
@with_appcontext
def create_admin(user_id: str, name: str | None, password_stdin: bool, actor: str) -> None:
    """Create a local account holding the console's admin power (the first administrator)."""
    password = read_password(password_stdin)
    _run(CreateAdmin(user_id, name, password, state().clock(), actor=actor))
    click.echo(f"Created {user_id}, an administrator (role {ADMIN_ROLE}); "
               "they can sign in to the console now.")


@user_group.command("set-password")
@click.argument("user_id")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--actor", default="cli", show_default=True, help="Who is setting it (audited).")
@with_appcontext
def set_password(user_id: str, password_stdin: bool, actor: str) -> None:
    """Set a local user's password (directory users change theirs in the directory)."""
    password = read_password(password_stdin)
    _run(SetPassword(user_id, password, state().clock(), actor=actor))
    click.echo(f"Password set for {user_id}; their other sessions have ended.")
