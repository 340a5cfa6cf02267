"""Each app has its own OpenID Connect client: a host app's own Authlib registry is kept, and
two apps in one process never share one."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from authlib.integrations.flask_client import OAuth

from governance import Governance
from governance.signin.oidc import AUTHLIB_KEY
from tests.oidc.conftest import CLIENT_ID
from tests.test_extension import make_host


def start_query(client, path: str) -> dict:
    response = client.get(path)
    assert response.status_code == 302, response.get_data(as_text=True)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def test_a_host_apps_own_authlib_registry_is_kept(tmp_path, provider):
    host, db, _ = make_host(tmp_path)
    hosts_oauth = OAuth(host)
    host.config.update(GOVERNANCE_BASE_URL="https://host.example", **provider.config())
    Governance(host, db=db, console_prefix="/governance/console")
    assert host.extensions[AUTHLIB_KEY] is hosts_oauth
    query = start_query(host.test_client(), "/governance/console/sign-in/oidc")
    assert query["redirect_uri"] == "https://host.example/governance/console/sign-in/oidc/callback"


def test_two_apps_sign_in_with_their_own_clients(make_console, provider):
    first = make_console(**provider.config())
    second = make_console(**{**provider.config(), "GOVERNANCE_OIDC_CLIENT_ID": "another-client"})
    assert start_query(first.test_client(), "/console/sign-in/oidc")["client_id"] == CLIENT_ID
    assert start_query(second.test_client(), "/console/sign-in/oidc")["client_id"] == (
        "another-client")
