"""gunicorn's master warms what its workers would each load on first use (governance/warm_up.py):
the dashboard's closed days are kept before any page asks for them, the console's templates are
compiled, and the app answers as before afterwards."""
from __future__ import annotations

import logging
from datetime import timedelta

from governance.extension import state
from governance.reads import dashboard
from governance.warm_up import warm_up
from tests.conftest import NOW
from tests.console.test_dashboard import ALICE_VIEW, api, ok  # noqa: F401 - api is a fixture

LOG = logging.getLogger("test-warm-up")


def test_closed_days_and_templates_are_loaded_before_the_first_page(api, console_app):  # noqa: F811
    console_app.clock.now = NOW - timedelta(days=3)
    ok(api.post("/api/v1/decisions", json={**ALICE_VIEW, "fields": ["clinical.diagnosis"]}))
    console_app.clock.now = NOW
    dashboard.days_seen.clear()
    console_app.jinja_env.cache.clear()
    with console_app.app_context():
        key = dashboard._closed_day_key(state(console_app).session, (NOW - timedelta(days=3))
                                        .date())
    assert dashboard.days_seen.get(key) is None

    warm_up(console_app, LOG)

    decisions, main, pairs = dashboard.days_seen.get(key)
    assert decisions == 1 and pairs == (("clinical.diagnosis", "no_role_grant", 1),)
    cached = {name for _loader, name in console_app.jinja_env.cache}
    assert {"governance/console/home.html", "governance/console/sign_in.html"} <= cached
    # the master let go of its connections and listener; the app still decides
    assert ok(api.post("/api/v1/decisions", json={**ALICE_VIEW, "fields": ["identity.name"]}))[
        "decision"] == "allow"


def test_a_part_that_fails_is_skipped_with_a_warning_and_the_rest_still_load(
        console_app, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("the trail is unreadable")

    monkeypatch.setattr("governance.warm_up.trail_figures", broken)
    console_app.jinja_env.cache.clear()
    with caplog.at_level(logging.WARNING, logger=LOG.name):
        warm_up(console_app, LOG)
    assert "dashboard warm-up skipped: the trail is unreadable" in caplog.text
    assert any(name == "governance/console/home.html"
               for _loader, name in console_app.jinja_env.cache)
