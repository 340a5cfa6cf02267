"""The Notifications page and the header's unread count on the 10,000-user organisation
(issue 15, item 6).

    .venv/bin/python bench/console_notifications.py [--backend sqlite|postgres|both] [--n 20]
                                                    [--per-user 20] [--mine 5000]
                                                    [--fraction 1.0]

The organisation of bench/scale_org.py with a console administrator (as bench/access_explorer.py),
applied with the real apply; then an inbox of ``--per-user`` notifications for every one of its
users and ``--mine`` for the administrator (a third of them unread, every kind of event, a
minute apart), written in bulk. Through Flask's test client signed in as the administrator,
``--n`` loads after one warm-up of: the list (first page, a page deep in the inbox, filtered to
unread requests to decide), the header's unread count (one query on every console page),
opening one notification (marked read, audited, redirected), and the inbox notifier writing one
notice to 50 recipients. Then "Mark all read" once, over every unread one. Prints the median,
p95 and worst wall-clock ms, the median CPU ms of this process, and the cold first load.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from itertools import cycle
from pathlib import Path

from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.access_explorer import (  # noqa: E402
    ADMIN,
    PASSWORD,
    explorer_org,
    signed_in_client,
    timed,
)
from bench.harness import close_app, console_bench_app, page_row  # noqa: E402
from governance.clock import utcnow  # noqa: E402
from governance.extension import state  # noqa: E402
from governance.ids import new_id  # noqa: E402
from governance.models import Notification, User  # noqa: E402
from governance.notify import InboxNotifier, Notice  # noqa: E402
from governance.operations.local_accounts import SetPassword  # noqa: E402
from governance.reads.notifications import CATEGORY_OF, unread_count  # noqa: E402

URL = "/console/notifications"
BUDGET_MS = 200
CHUNK = 10_000


def fill_inboxes(app, users: list[str], per_user: int, mine: int) -> None:  # noqa: ANN001
    """``per_user`` notices for each user and ``mine`` for the administrator, a third unread."""
    session, now = state(app).session, utcnow()
    events = cycle(sorted(CATEGORY_OF))
    batch = []
    for user, count in [(u, per_user) for u in users] + [(ADMIN, mine)]:
        for n in range(count):
            at = now - timedelta(minutes=count - n)
            batch.append({"id": new_id("ntf"), "user_id": user, "event": next(events),
                          "subject": f"Notice {n} for {user}", "body": "A notice's body, "
                          "about as long as the operations write them. " * 2,
                          "ref": f"ovr_bench{n:06d}", "created_at": at,
                          "read_at": None if n % 3 == 0 else at + timedelta(seconds=30)})
            if len(batch) == CHUNK:
                session.execute(insert(Notification), batch)
                session.commit()
                batch = []
    if batch:
        session.execute(insert(Notification), batch)
        session.commit()


def page(client, query: dict | None = None, expect: bytes = b"inbox-list"):  # noqa: ANN001, ANN201
    def call() -> None:
        answer = client.get(URL, query_string=query or {})
        assert answer.status_code == 200 and expect in answer.data, answer.status_code
    return call


def run_backend(backend: str, args: argparse.Namespace) -> list[str]:
    rows = []
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        app, _ = console_bench_app(stack, backend, Path(tmp), explorer_org(args.fraction))
        with app.app_context():
            SetPassword(ADMIN, PASSWORD, utcnow(), actor="bench").execute(state(app).session)
            users = list(state(app).session.scalars(select(User.id).where(User.id != ADMIN)))
            fill_inboxes(app, users, args.per_user, args.mine)
            total = len(users) * args.per_user + args.mine
            print(f"{backend}: {len(users) + 1:,} users, {total:,} notifications, ready in "
                  f"{time.perf_counter() - began:.1f} s", file=sys.stderr)
            unread = list(state(app).session.scalars(
                select(Notification.id).where(Notification.user_id == ADMIN,
                                              Notification.read_at.is_(None))
                .order_by(Notification.created_at.desc())))
            deep = unread[len(unread) // 2]
            state(app).session.remove()
        client = signed_in_client(app)
        to_open = iter(unread)

        def open_one() -> None:
            answer = client.get(f"{URL}/{next(to_open)}/open")
            assert answer.status_code == 302, answer.status_code

        def header_count() -> None:
            with app.app_context():
                assert unread_count(state(app).session, ADMIN) > 0
                state(app).session.remove()

        recipients = users[:50]

        def notify_fifty() -> None:
            with app.app_context():
                InboxNotifier().notify(state(app).session, Notice(
                    "review.item_assigned", recipients, "Access review", "Keep or revoke.",
                    at=utcnow()))
                state(app).session.remove()

        cases = [
            (f"list, first page of {args.mine:,}", page(client)),
            ("list, a page half-way down", page(client, {"before": deep})),
            ("list, unread requests to decide", page(client, {"show": "unread",
                                                              "about": "decide"})),
            ("the header's unread count, every page (one query)", header_count),
            ("open one (mark read, audit, redirect)", open_one),
            ("inbox notifier: one notice to 50 users", notify_fifty),
        ]
        for name, call in cases:
            rows.append(page_row(backend, name, *timed(call, args.n)))
            print(rows[-1], flush=True)
        listing = client.get(URL).get_data(as_text=True)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                          listing).group(1)
        left = len(unread) - args.n - 1
        began, began_cpu = time.perf_counter(), time.process_time()
        answer = client.post(f"{URL}/read", data={"csrf_token": token})
        wall = (time.perf_counter() - began) * 1e3
        cpu = (time.process_time() - began_cpu) * 1e3
        assert answer.status_code == 302, answer.status_code
        rows.append(f"| {backend} | Mark all read ({left:,} unread), once | {wall:.1f} | | | "
                    f"{cpu:.1f} | |")
        print(rows[-1], flush=True)
        close_app(app)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--mine", type=int, default=5000)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="of the 10,000-user organisation (smaller for a quick check)")
    args = parser.parse_args()
    header = ["| backend | page | p50 ms | p95 ms | max ms | CPU p50 ms | cold ms |",
              "|---|---|---|---|---|---|---|"]
    print("\n".join(header), flush=True)
    rows = []
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        rows += run_backend(backend, args)
    print("\n".join(["", f"Budget: {BUDGET_MS} ms a page. Load average while measured: "
                      f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} on "
                      f"{os.cpu_count()} cores.", *header, *rows]))


if __name__ == "__main__":
    main()
