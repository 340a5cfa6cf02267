"""What a server's master process loads before it forks its workers (gunicorn's ``when_ready``),
so that every worker, a restarted one included, answers its first requests as quickly as its
later ones: the compiled policy snapshot, the dashboard's closed days of the trail, the
console's compiled templates and the dummy password hash. Each part that fails is skipped with
a warning: a worker then loads it itself on first use.
"""
from __future__ import annotations

import logging

from flask import Flask

from governance.extension import state
from governance.reads.dashboard import Window, trail_figures
from governance.signin.passwords import burn_time

TEMPLATE_FOLDER = "governance/"


def warm_up(app: Flask, log: logging.Logger) -> None:
    burn_time("")  # the dummy hash a refused sign-in verifies, with the production parameters
    with app.app_context():
        governance = state(app)
        parts = (("policy", governance.snapshot),
                 ("dashboard", lambda: trail_figures(governance.session,
                                                     Window.ending(governance.clock()))),
                 ("templates", lambda: compile_templates(app)))
        try:
            for name, load in parts:
                try:
                    load()
                except Exception as exc:  # noqa: BLE001 - workers will load it themselves
                    governance.session.rollback()
                    log.warning("%s warm-up skipped: %s", name, exc)
        finally:
            governance.engine.close()  # the master needs no policy listener; workers start one
            governance.session.remove()
            governance.db.engine.dispose()  # no database connection may cross the fork


def compile_templates(app: Flask) -> int:
    """Compile the console's templates into the app's template cache; how many."""
    names = app.jinja_env.list_templates(filter_func=lambda n: n.startswith(TEMPLATE_FOLDER))
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)
