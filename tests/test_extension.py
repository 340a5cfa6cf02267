"""Need-to-Know mounted as a plugin into a host application that owns db and login."""
from __future__ import annotations

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import inspect, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from governance import Governance
from governance.extension import state
from governance.migrate import upgrade_database
from tests.conftest import apply_file, new_key


def make_host(tmp_path):
    class HostBase(DeclarativeBase):  # a fresh registry per host app
        pass

    db = SQLAlchemy(model_class=HostBase)

    class Ticket(db.Model):
        __tablename__ = "host_ticket"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str]

    host = Flask("host_app")
    host.config.update(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'host.sqlite'}",
                       SECRET_KEY="host-secret", TESTING=True)
    db.init_app(host)
    login = LoginManager(host)
    login.user_loader(lambda _id: None)

    @host.get("/tickets")
    def tickets():
        return {"count": db.session.scalar(text("SELECT count(*) FROM host_ticket"))}

    with host.app_context():
        db.create_all()  # the host's own table, managed by the host
    return host, db, login


def test_mounts_into_host_reusing_its_db_and_login(tmp_path):
    host, db, login = make_host(tmp_path)
    Governance(host, db=db)
    with host.app_context():
        upgrade_database()
        assert state(host).db is db
        assert state(host).login_manager is login
        tables = set(inspect(db.engine).get_table_names())
    assert {"host_ticket", "audit_event", "casbin_rule", "governance_alembic_version"} <= tables
    assert "alembic_version" not in tables  # the host's migration history stays its own

    apply_file(host)
    key = new_key(host, "decide")
    client = host.test_client()
    assert client.get("/tickets").json == {"count": 0}
    response = client.post("/api/v1/decisions", headers={"Authorization": f"Bearer {key}"},
                           json={"subject": "alice", "action": "view", "participant": "p-100",
                                 "program": "housing", "fields": ["identity.name"]})
    assert response.status_code == 200 and response.json["decision"] == "allow"


def test_host_keeps_its_own_error_pages(tmp_path):
    host, db, _ = make_host(tmp_path)
    Governance(host, db=db)
    response = host.test_client().get("/no-such-host-page")
    assert response.status_code == 404 and not response.is_json
    assert host.test_client().get("/api/v1/nope").is_json


def test_init_app_pattern_and_double_registration(tmp_path):
    host, db, _ = make_host(tmp_path)
    governance = Governance(db=db)
    governance.init_app(host)
    with pytest.raises(RuntimeError, match="already registered"):
        governance.init_app(host)


def test_missing_sqlalchemy_is_explained():
    with pytest.raises(RuntimeError, match="Flask-SQLAlchemy"):
        Governance(Flask("bare"))


def test_state_without_extension_is_explained():
    with Flask("bare").app_context(), pytest.raises(RuntimeError, match="init_app"):
        state()


def test_host_sessions_work_and_api_calls_carry_none(tmp_path):
    """API calls skip the host's cookie session; the host's own pages keep theirs."""
    from flask import session

    host, db, _ = make_host(tmp_path)

    @host.get("/visit")
    def visit():
        session["visits"] = session.get("visits", 0) + 1
        return {"visits": session["visits"]}

    Governance(host, db=db)
    with host.app_context():
        upgrade_database()
    client = host.test_client()
    assert client.get("/visit").json == {"visits": 1}
    assert client.get("/visit").json == {"visits": 2}  # the cookie round-trips
    response = client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert client.post("/api/v1/decisions", json={}).status_code == 401
    assert client.get("/visit").json == {"visits": 3}  # untouched by the API calls


@pytest.mark.parametrize("direct", [False, True])
def test_host_hooks_see_decisions_unless_the_host_opts_into_the_direct_route(tmp_path, direct):
    host, db, _ = make_host(tmp_path)
    if direct:
        host.config["GOVERNANCE_DIRECT_DECISIONS"] = True
    seen = []
    host.after_request(lambda response: seen.append(response.status_code) or response)
    Governance(host, db=db)
    with host.app_context():
        upgrade_database()
    apply_file(host)
    key = new_key(host, "decide")
    response = host.test_client().post(
        "/api/v1/decisions", headers={"Authorization": f"Bearer {key}"},
        json={"subject": "alice", "action": "view", "participant": "p-100",
              "program": "housing", "fields": ["identity.name"]})
    assert response.status_code == 200 and response.json["decision"] == "allow"
    assert seen == ([] if direct else [200])


def test_console_mounts_at_the_host_prefix_with_the_host_login(tmp_path):
    """The host's LoginManager and its loader are kept (its identities have our users' ids);
    the sign-in limits never reach the host's pages, whatever RATELIMIT_* it sets."""
    import re

    from flask_login import UserMixin

    from governance.operations.local_accounts import SetPassword

    host, db, login = make_host(tmp_path)

    class HostUser(UserMixin):
        def __init__(self, user_id):
            self.id = user_id

    login.user_loader(HostUser)
    host.config["RATELIMIT_DEFAULT"] = "1 per minute"
    Governance(host, db=db, console_prefix="/governance/console")
    with host.app_context():
        upgrade_database()
    apply_file(host)
    with host.app_context():
        SetPassword("alice", "alice's long passphrase", state(host).clock()).execute(
            state(host).session)
    assert state(host).login_manager is login
    client = host.test_client()
    assert client.get("/").status_code == 404  # the root redirect is the standalone's only
    page = client.get("/governance/console/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = client.post("/governance/console/sign-in", data={
        "user": "alice", "password": "alice's long passphrase", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/governance/console/"
    assert "Alice Ng" in client.get("/governance/console/").get_data(as_text=True)
    assert [client.get("/tickets").status_code for _ in range(3)] == [200, 200, 200]
