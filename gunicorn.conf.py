"""gunicorn settings read from the working directory by `gunicorn wsgi:app`.

The app is loaded once in the master and its policy snapshot compiled there before workers are
forked, so every worker (including one restarted after a crash) starts with the policy in memory
and only catches up on changes since; at county scale that is the difference between a worker
answering at once and after seconds of loading.
"""
import gc

preload_app = True


def when_ready(server):  # noqa: ANN001 - gunicorn hook, runs in the master before forking
    from governance.extension import state
    from governance.signin.passwords import burn_time
    from wsgi import app

    burn_time("")  # makes the dummy hash now, so a worker's first refused sign-in is not slower

    with app.app_context():
        governance = state(app)
        try:
            governance.snapshot()
        except Exception as exc:  # noqa: BLE001 - workers will load it themselves
            server.log.warning("policy warm-up skipped: %s", exc)
        governance.engine.close()  # the master needs no policy listener; each worker starts one
        governance.session.remove()
        governance.db.engine.dispose()  # no database connection may cross the fork
    # The compiled policy lives for the worker's life: keep the collector from walking it
    # (full collections took 55-85 ms per pass at county size, freeing nothing).
    gc.collect()
    gc.freeze()
