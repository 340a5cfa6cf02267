"""Governance as a guest in a real host app: the host has its own error pages, a database
error handler, Flask-WTF's CSRFProtect, Flask-Login with its own users and its own templates.
Ours answer only our blueprints and paths; the host's stay the host's."""
from __future__ import annotations

import re
import shutil

import pytest
from flask import Flask, render_template_string
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from werkzeug.exceptions import HTTPException

from governance import Governance
from governance.extension import state
from governance.operations.local_accounts import SetPassword
from governance.resources import resource_path
from governance.signin.session import ConsoleUser
from tests.conftest import apply_file, new_key

PREFIX = "/admin/governance"
PASSPHRASE = "alice's long passphrase"
DECISION = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
            "fields": ["identity.name"]}
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def by_username(host_user) -> str:
    """The host's user to ours: the same user name (the documented way, README)."""
    return host_user.username


def make_host(tmp_path, sqlite_template, *, csrf: str | None = "before", templates=None,
              user_id_of=by_username, error_pages: bool = True) -> Flask:
    """A host with its own users, sign-in, pages, 404 and 500 pages; Governance mounted at
    PREFIX. ``csrf``: CSRFProtect set up "before" or "after" Governance, or None for none."""

    class HostBase(DeclarativeBase):  # a fresh registry per host app
        pass

    db = SQLAlchemy(model_class=HostBase)

    class HostUser(UserMixin, db.Model):
        __tablename__ = "host_user"
        id: Mapped[int] = mapped_column(primary_key=True)
        username: Mapped[str]

    path = tmp_path / "host.sqlite"
    shutil.copy(sqlite_template, path)  # our tables, migrated; the host adds its own
    host = Flask("host_app", template_folder=str(templates) if templates else None)
    host.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}", SECRET_KEY="host-secret",
                       TESTING=True)
    db.init_app(host)
    login = LoginManager(host)
    login.login_view = "host_login"

    @login.user_loader
    def load_host_user(user_id: str):
        return db.session.get(HostUser, int(user_id)) if user_id.isdigit() else None

    @host.get("/login")
    def host_login():
        return "the host's own sign-in page"

    @host.get("/test-login/<name>")
    def test_login(name: str):
        user = db.session.scalar(db.select(HostUser).filter_by(username=name))
        login_user(user)
        return "signed in to the host"

    @host.route("/notes", methods=["GET", "POST"])
    def notes():
        return "the host's notes"

    @host.get("/broken")
    def broken():
        return str(db.session.execute(text("SELECT * FROM no_such_host_table")).all())

    if error_pages:
        @host.errorhandler(404)
        def host_not_found(exc):
            return "the host's own 404 page", 404

        @host.errorhandler(Exception)
        def host_failure(exc):
            if isinstance(exc, HTTPException):
                return exc
            return f"the host's own error page ({type(exc).__name__})", 500

    if csrf == "before":
        CSRFProtect(host)
    Governance(host, db=db, console_prefix=PREFIX, user_id_of=user_id_of)
    if csrf == "after":
        CSRFProtect(host)
    with host.app_context():
        db.create_all()
        db.session.add_all([HostUser(id=1, username="alice"), HostUser(id=2, username="zed")])
        db.session.commit()
    apply_file(host)
    with host.app_context():
        SetPassword("alice", PASSPHRASE, state(host).clock()).execute(state(host).session)
    return host


@pytest.fixture
def host(tmp_path, sqlite_template):
    return make_host(tmp_path, sqlite_template)


def test_the_hosts_404_page_is_kept_and_our_paths_answer_json(host):
    client = host.test_client()
    missing = client.get("/no-such-host-page")
    assert (missing.status_code, missing.get_data(as_text=True)) == (
        404, "the host's own 404 page")
    ours = client.get("/api/v1/no-such-thing")
    assert ours.status_code == 404 and ours.json["error"]["code"] == "not_found"
    wrong_method = client.delete("/api/v1/audit")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert "GET" in wrong_method.headers["Allow"]


def test_a_host_page_with_a_database_error_is_the_hosts_to_answer(host):
    response = host.test_client().get("/broken")
    assert response.status_code == 500 and not response.is_json
    assert response.get_data(as_text=True) == "the host's own error page (OperationalError)"


def test_without_handlers_of_its_own_the_host_sees_its_database_error_raised(
        tmp_path, sqlite_template):
    """Nothing of ours turns the host's error into a JSON 503: under TESTING it propagates."""
    host = make_host(tmp_path, sqlite_template, error_pages=False)
    with pytest.raises(OperationalError, match="no_such_host_table"):
        host.test_client().get("/broken")
    assert not host.test_client().get("/no-such-host-page").is_json


def test_our_store_errors_are_still_our_json_503(host, monkeypatch):
    import governance.api.audit_log as audit_log

    def store_down(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("the store is down"))

    monkeypatch.setattr(audit_log, "audit_page", store_down)
    key = new_key(host, "manage")
    response = host.test_client().get("/api/v1/audit", headers={"Authorization":
                                                                 f"Bearer {key}"})
    assert response.status_code == 503 and response.json["error"]["code"] == "store_unavailable"


@pytest.mark.parametrize("csrf", ["before", "after"])
def test_our_api_posts_work_under_the_hosts_csrf_protection(tmp_path, sqlite_template, csrf):
    host = make_host(tmp_path, sqlite_template, csrf=csrf)
    key = new_key(host, "decide")
    client = host.test_client()
    for _ in range(2):  # the first request after an "after" set-up too
        response = client.post("/api/v1/decisions", json=DECISION,
                               headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200 and response.json["decision"] == "allow"
    evaluation = client.post("/access/v1/evaluation", headers={"Authorization": f"Bearer {key}"},
                             json={"subject": {"type": "user", "id": "alice"},
                                   "action": {"name": "view"},
                                   "resource": {"type": "participant_record", "id": "p-100",
                                                "properties": {"program": "housing",
                                                               "fields": ["identity.name"]}}})
    assert evaluation.status_code == 200 and evaluation.json["decision"] is True
    # The host's own forms stay protected by its CSRFProtect.
    assert client.post("/notes", data={"text": "no token"}).status_code == 400


@pytest.mark.parametrize("csrf", ["before", "after", None])
def test_our_console_forms_still_need_their_csrf_token(tmp_path, sqlite_template, csrf):
    """Exempt from the host's CSRFProtect, the console checks its own forms' tokens."""
    host = make_host(tmp_path, sqlite_template, csrf=csrf)
    client = host.test_client()
    client.get("/test-login/alice")
    page = client.get(f"{PREFIX}/").get_data(as_text=True)
    without = client.post(f"{PREFIX}/sign-out")
    assert without.status_code == 400 and "could not be accepted" in without.get_data(True)
    assert client.get(f"{PREFIX}/").status_code == 200  # still signed in
    with_token = client.post(f"{PREFIX}/sign-out",
                             data={"csrf_token": TOKEN.search(page).group(1)})
    assert with_token.status_code == 302
    assert client.get(f"{PREFIX}/").headers["Location"].startswith("/login")  # signed out


def test_the_console_sign_in_page_checks_its_token_when_it_signs_people_in(
        tmp_path, sqlite_template):
    """Without user_id_of our sign-in page signs people in (the host loader loads our ids)."""
    host = make_host(tmp_path, sqlite_template, user_id_of=None)
    host.login_manager.user_loader(lambda user_id: ConsoleUser(user_id)
                                   if user_id == "alice" else None)
    client = host.test_client()
    page = client.get(f"{PREFIX}/sign-in").get_data(as_text=True)
    without = client.post(f"{PREFIX}/sign-in", data={"user": "alice", "password": PASSPHRASE})
    assert without.status_code == 400 and "could not be accepted" in without.get_data(True)
    with_token = client.post(f"{PREFIX}/sign-in", data={
        "user": "alice", "password": PASSPHRASE, "csrf_token": TOKEN.search(page).group(1)})
    assert with_token.status_code == 302 and with_token.headers["Location"] == f"{PREFIX}/"
    assert "Alice Ng" in client.get(f"{PREFIX}/").get_data(as_text=True)


def test_a_host_template_of_the_same_name_wins(tmp_path, sqlite_template):
    templates = tmp_path / "host_templates"
    (templates / "governance" / "console").mkdir(parents=True)
    (templates / "governance" / "console" / "sign_in.html").write_text(
        "<h1>Sign in to Example Care's governance</h1>")
    host = make_host(tmp_path, sqlite_template, templates=templates, user_id_of=None)
    page = host.test_client().get(f"{PREFIX}/sign-in")
    assert page.status_code == 200
    assert page.get_data(as_text=True) == "<h1>Sign in to Example Care's governance</h1>"
    with host.test_request_context():  # the host's own template folder is also the host's
        assert render_template_string("{{ 1 + 1 }}") == "2"


def test_static_assets_are_vendored_and_served_under_the_console(host):
    css = host.test_client().get(f"{PREFIX}/static/console.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    for template in resource_path("templates").rglob("*.html"):
        markup = template.read_text()
        assert not re.search(r'(?:src|href)="(?:https?:)?//', markup), template


def test_the_host_signs_people_in_and_maps_its_user_to_ours(tmp_path, sqlite_template):
    host = make_host(tmp_path, sqlite_template)
    client = host.test_client()
    away = client.get(f"{PREFIX}/")
    assert away.status_code == 302 and away.headers["Location"].startswith("/login?next=")
    assert client.get(f"{PREFIX}/sign-in").headers["Location"].startswith("/login")
    client.get("/test-login/alice")
    home = client.get(f"{PREFIX}/")
    assert home.status_code == 200 and "Alice Ng" in home.get_data(as_text=True)

    stranger = host.test_client()  # signed in to the host, no governance user of that name
    stranger.get("/test-login/zed")
    assert stranger.get(f"{PREFIX}/").status_code == 403


def test_a_console_page_with_a_database_error_answers_as_a_console_page(
        tmp_path, sqlite_template, monkeypatch):
    import governance.signin.session as console_session

    def store_down(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("the store is down"))

    host = make_host(tmp_path, sqlite_template)
    client = host.test_client()
    client.get("/test-login/alice")
    monkeypatch.setattr(console_session, "powers_of", store_down)
    page = client.get(f"{PREFIX}/")
    assert page.status_code == 503 and page.mimetype == "text/html"
    assert "The store cannot be reached just now" in page.get_data(as_text=True)
