"""Directory sync at scale (issue 13): 20,000 users in 400 groups on a real slapd.

    .venv/bin/python bench/directory_sync.py [--backend sqlite|postgres] [--users 20000]
                                             [--groups 400] [--changes 100]

Starts a private slapd (tests/directory/slapd.py) with a server size limit of 500, loads the
users (each in 3 groups) with slapadd, applies an org file that maps every group to a role in
one of 20 programs, then runs the real CLI (``flask --app wsgi governance directory sync``) as a
child process four times and prints, for each, the wall time, the child's peak memory
(``ru_maxrss``) and its summary line, which gives the sync's own seconds (without the
CLI's start-up, 1-3 s of imports here): the first full sync, a full sync with nothing changed,
a changed-only sync after ``--changes`` directory edits (half users' mail, half group
memberships), and a changed-only sync with nothing changed. Goals: 60 s, 20 s, 2 s, under 300 MB.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import database  # noqa: E402
from tests.directory.slapd import Slapd, ldif_line  # noqa: E402

PROGRAMS, ROLES = 20, 10


def org_file(server: Slapd, groups: int) -> dict:
    return {
        "programs": [{"id": f"p{p:02d}", "name": f"Program {p}"} for p in range(PROGRAMS)],
        "fields": [{"id": "identity.name", "sensitivity": "normal"}],
        "roles": [{"id": f"r{r}", "scope": "program", "grants": {"view": ["identity.*"]}}
                  for r in range(ROLES)],
        "directory": {"group_roles": [
            {"group": server.group_dn(f"g{j:04d}"), "role": f"r{j % ROLES}",
             "program": f"p{j % PROGRAMS:02d}"} for j in range(groups)]},
    }


def run(args: list[str], env: dict) -> tuple[float, float, str]:
    """Run a child; its wall seconds, peak resident MB and output."""
    start = time.perf_counter()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.execve(args[0], args, env)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _pid, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    output = b"".join(chunks).decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[3:])} failed:\n{output[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, output


def edits(server: Slapd, users: int, groups: int, changes: int) -> str:
    """LDIF for ``changes`` modifications: users' mail, then groups losing one member."""
    parts = []
    for i in range(changes // 2):
        uid = f"u{(i * 37) % users:05d}"
        parts.append(f"{ldif_line('dn', server.user_dn(uid))}\nchangetype: modify\n"
                     f"replace: mail\nmail: moved-{uid}@example.org\n")
    for j in range(changes - changes // 2):
        group = f"g{j % groups:04d}"
        member = f"u{(j % groups + groups * (j // groups)) % users:05d}"  # i is in group i % n
        parts.append(f"{ldif_line('dn', server.group_dn(group))}\nchangetype: modify\n"
                     f"delete: member\n{ldif_line('member', server.user_dn(member))}\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--groups", type=int, default=400)
    parser.add_argument("--changes", type=int, default=100)
    options = parser.parse_args()
    with ExitStack() as stack, tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        server = stack.enter_context(Slapd(size_limit=500))
        began = time.perf_counter()
        server.bulk_load(server.bulk_ldif(options.users, options.groups))
        print(f"slapd loaded {options.users} users, {options.groups} groups in "
              f"{time.perf_counter() - began:.1f} s (size limit 500: every search pages)")
        # slapadd stamps every entry within a second or two; a real directory's newest
        # second holds a few entries. Touch one entry later, so the changed-only syncs'
        # "modifyTimestamp >= the newest seen" does not re-read the whole import.
        time.sleep(1.1)
        server.replace(server.group_dn("g0000"), description="touched after the import")
        url = database(stack, options.backend, tmp)
        env = {**os.environ, "GOVERNANCE_DATABASE_URL": url,
               "GOVERNANCE_LDAP_URL": server.url, "GOVERNANCE_LDAP_START_TLS": "true",
               "GOVERNANCE_LDAP_CA_FILE": server.ca_file,
               "GOVERNANCE_LDAP_BIND_DN": server.reader_dn,
               "GOVERNANCE_LDAP_BIND_PASSWORD": server.reader_password,
               "GOVERNANCE_LDAP_USER_BASE": server.people_dn,
               "GOVERNANCE_LDAP_GROUP_BASE": server.groups_dn,
               "GOVERNANCE_LDAP_MAX_LEAVERS": str(options.users)}
        org = tmp / "org.yaml"
        org.write_text(yaml.safe_dump(org_file(server, options.groups)))
        flask = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "governance"]
        run([*flask, "apply", str(org)], env)
        print(f"{'sync':34} {'wall s':>7} {'peak MB':>8}  summary (its own seconds: the sync "
              "without the CLI's start-up)")
        for label, flags, before in (
                ("full, first", [], None),
                ("full, nothing changed", [], None),
                (f"changed-only, {options.changes} edits", ["--changed-only"],
                 lambda: server.modify(edits(server, options.users, options.groups,
                                             options.changes))),
                ("changed-only, nothing changed", ["--changed-only"], None)):
            if before is not None:
                before()
                time.sleep(1.1)  # modifyTimestamp has whole seconds
            seconds, peak, output = run([*flask, "directory", "sync", *flags], env)
            summary = output.strip().splitlines()[-1]
            print(f"{label:34} {seconds:7.2f} {peak:8.0f}  {summary}")


if __name__ == "__main__":
    main()
