"""gunicorn settings read from the working directory by `gunicorn wsgi:app`.

The app is loaded once in the master, and what its workers would otherwise each load on first
use (above all the policy snapshot, compiled: at county scale the difference between a worker
answering at once and after seconds of loading) is loaded there before they are forked, so
every worker, including one restarted after a crash, starts with it in memory
(governance/warm_up.py).
"""
import gc

preload_app = True


def when_ready(server):  # noqa: ANN001 - gunicorn hook, runs in the master before forking
    from governance.warm_up import warm_up
    from wsgi import app

    warm_up(app, server.log)
    # The compiled policy lives for the worker's life: keep the collector from walking it
    # (full collections took 55-85 ms per pass at county size, freeing nothing).
    gc.collect()
    gc.freeze()
