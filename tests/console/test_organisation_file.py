"""The Organisation file page: download the current organisation, upload a file, review its
plan (changes, conflicts, counts, impact) and apply exactly that plan as the signed-in
administrator; invalid files, missing CSRF tokens, stale sign-ins and other users refused."""
from __future__ import annotations

import io
import json
import re

import pytest
import yaml
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, OrgFileUpload, User
from governance.operations.users import DisableUser
from tests.conftest import NOW
from tests.console.conftest import console_org
from tests.signin.conftest import csrf_token, sign_in

PAGE = "/console/organisation-file"


def changed_org() -> dict:
    """The console org plus a new case manager, minus ivy's role, with a wider grant."""
    org = console_org()
    org["users"].append({"id": "zed", "name": "Zed Moss",
                         "roles": [{"role": "case_manager", "program": "housing"}]})
    for user in org["users"]:
        if user["id"] == "ivy":
            user["roles"] = []
    for role in org["roles"]:
        if role["id"] == "case_manager":
            role["grants"]["view"].append("clinical.diagnosis")
    return org


def upload(client, content: bytes | str, name: str = "org.yaml", token: str | None = ""):
    """POST a file to the upload form (``token=None``: without a CSRF token)."""
    data = {"file": (io.BytesIO(content.encode() if isinstance(content, str) else content),
                     name)}
    if token is not None:
        data["csrf_token"] = token or csrf_token(client, PAGE)
    return client.post(PAGE, data=data, content_type="multipart/form-data")


def review(client, org: dict) -> tuple[str, str]:
    """Upload ``org`` and open its plan: (the plan page's path, its HTML)."""
    response = upload(client, yaml.safe_dump(org, sort_keys=False))
    assert response.status_code == 303, response.get_data(as_text=True)
    path = response.headers["Location"]
    page = client.get(path)
    assert page.status_code == 200
    return path, page.get_data(as_text=True)


def apply_form(page: str) -> dict:
    return {name: re.search(rf'name="{name}" type="hidden" value="([^"]+)"', page).group(1)
            for name in ("csrf_token", "plan")}


def rows(app, kind: str) -> list[AuditEvent]:
    with app.app_context():
        found = state(app).session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)
                                           .order_by(AuditEvent.seq)).all()
        state(app).session.expunge_all()
        return found


def user_exists(app, user_id: str) -> bool:
    with app.app_context():
        return state(app).session.get(User, user_id) is not None


def uploads_kept(app) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(OrgFileUpload))


def test_download_gives_the_current_organisation_as_yaml_and_json_and_is_audited(
        console_app, signed_in):
    ada = signed_in("ada")
    page = ada.get(PAGE).get_data(as_text=True)
    assert "Download YAML" in page and "Download JSON" in page
    as_yaml = ada.get(PAGE + "/download?format=yaml")
    assert as_yaml.status_code == 200
    assert "attachment" in as_yaml.headers["Content-Disposition"]
    org = yaml.safe_load(as_yaml.get_data(as_text=True))
    assert {"ada", "cora", "alice"} <= {u["id"] for u in org["users"]}
    assert json.loads(ada.get(PAGE + "/download?format=json").get_data(as_text=True)) == org
    assert [(r.actor, json.loads(r.payload)["format"]) for r in rows(console_app,
                                                                     "org.exported")] == [
        ("ada", "yaml"), ("ada", "json")]
    assert ada.get(PAGE + "/download?format=xml").status_code == 404


def test_a_download_includes_what_changed_since_the_file(console_app, signed_in):
    with console_app.app_context():
        DisableUser("nick", actor="ada", reason="left the agency", now=NOW).execute(
            state(console_app).session)
    org = yaml.safe_load(signed_in("ada").get(PAGE + "/download").get_data(as_text=True))
    assert next(u for u in org["users"] if u["id"] == "nick").get("active") is False


def test_the_plan_lists_every_change_the_counts_and_who_gains_or_loses(console_app, signed_in):
    ada = signed_in("ada")
    _path, page = review(ada, changed_org())
    assert "Review the plan" in page
    assert "create   users         zed" in page
    assert "create   assignments   zed case_manager housing - -" in page
    assert "end      assignments   ivy case_manager housing - -" in page
    assert "add      grants        case_manager clinical.diagnosis view case" in page
    summary = re.search(r'<table class="summary">(.*?)</table>', page, re.S).group(1)
    assert re.search(r"<td>assignments</td><td>create</td><td[^>]*>1</td>", summary)
    assert re.search(r"<td>assignments</td><td>end</td><td[^>]*>1</td>", summary)
    impact = re.search(r'id="impact-heading".*?</section>', page, re.S).group(0)
    zed = re.search(r'<th scope="row">zed</th>(.*?)</tr>', impact, re.S).group(1)
    assert "a new account" in zed and "role case_manager in program housing" in zed
    ivy = re.search(r'<th scope="row">ivy</th>(.*?)</tr>', impact, re.S).group(1)
    assert 'class="loses"' in ivy and "role case_manager in program housing" in ivy
    case_manager = re.search(r'<th scope="row">case_manager</th>(.*?)</tr>', impact,
                             re.S).group(1)
    assert "view clinical.diagnosis" in case_manager
    assert "alice" in case_manager and "zed" in case_manager and "ivy" not in case_manager
    assert 'value="Apply"' in page
    assert not user_exists(console_app, "zed")  # reviewing wrote nothing


def test_a_decision_taken_since_is_shown_as_a_conflict_and_left_alone(console_app, signed_in):
    with console_app.app_context():
        DisableUser("nick", actor="ada", reason="left the agency", now=NOW).execute(
            state(console_app).session)
    ada = signed_in("ada")
    path, page = review(ada, changed_org())
    assert "Conflicts: decisions the file will not undo" in page
    assert re.search(r"<code>conflict: user nick was disabled on [^<]* by ada "
                     r"\(left the agency\); left disabled</code>", page)
    applied = ada.post(path, data=apply_form(page)).get_data(as_text=True)
    assert "conflict: user nick was disabled" in applied
    with console_app.app_context():
        assert state(console_app).session.get(User, "nick").active is False


def test_apply_changes_the_store_and_audits_every_row_as_the_signed_in_user(
        console_app, signed_in):
    ada = signed_in("ada")
    path, page = review(ada, changed_org())
    response = ada.post(path, data=apply_form(page))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<h1>Applied</h1>" in text and "recorded in the" in text
    assert user_exists(console_app, "zed")
    changes = [r for r in rows(console_app, "org.change") if r.actor == "ada"]
    assert {json.loads(r.payload)["key"] for r in changes} >= {
        "zed", "zed case_manager housing - -", "ivy case_manager housing - -"}
    applied = rows(console_app, "org.applied")[-1]
    assert applied.actor == "ada"
    assert json.loads(applied.payload)["file_sha256"] == path.rsplit("/", 1)[-1]
    again = ada.get(path).get_data(as_text=True)  # the same file now changes nothing
    assert "Nothing to apply" in again and 'value="Apply"' not in again


def test_apply_refuses_a_plan_the_store_moved_away_from_and_shows_the_new_one(
        console_app, signed_in):
    ada = signed_in("ada")
    path, page = review(ada, changed_org())
    with console_app.app_context():  # someone disables a user the file lists, meanwhile
        DisableUser("alice", actor="rita", reason="on leave", now=NOW).execute(
            state(console_app).session)
    response = ada.post(path, data=apply_form(page))
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "changed after you reviewed this plan, so it was not applied" in text
    assert "conflict: user alice was disabled" in text
    assert not user_exists(console_app, "zed")
    assert rows(console_app, "org.applied")[-1].actor == "test"  # only the fixture's apply
    retried = ada.post(path, data=apply_form(text))  # the new plan, reviewed, applies
    assert retried.status_code == 200 and user_exists(console_app, "zed")


def test_apply_needs_a_recent_sign_in_and_comes_back_to_the_same_plan(console_app, signed_in):
    ada = signed_in("ada")
    path, page = review(ada, changed_org())
    console_app.clock.advance(minutes=11)
    response = ada.post(path, data=apply_form(page))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/console/sign-in?next={path}")
    assert not user_exists(console_app, "zed")
    again = sign_in(ada, "ada", next_=path)
    assert again.headers["Location"] == path
    page = ada.get(path).get_data(as_text=True)
    assert ada.post(path, data=apply_form(page)).status_code == 200
    assert user_exists(console_app, "zed")


BROKEN = """
programs: [{id: housing, name: Housing}]
fields: [{id: identity.name, sensitivity: normal}]
roles:
  - {id: case_manager, scope: case, grants: {view: ["clnical.*"]}}
  - {id: helper, scope: everywhere}
users:
  - {id: zed, roles: [{role: no_such_role, program: housing}]}
"""


def test_a_file_that_does_not_validate_shows_every_error_by_path_and_writes_nothing(
        console_app, signed_in):
    ada = signed_in("ada")
    before = len(rows(console_app, "org.change"))
    response = upload(ada, BROKEN, "broken.yaml")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "broken.yaml was not accepted" in page and "Nothing was changed." in page
    assert "roles[1].scope" in page
    assert uploads_kept(console_app) == 0 and len(rows(console_app, "org.change")) == before
    references = upload(ada, BROKEN.replace("scope: everywhere", "scope: case"))
    text = references.get_data(as_text=True)
    assert "roles[0].grants.view[0]: unknown field pattern &#39;clnical.*&#39;" in text
    assert "users[0].roles[0].role" in text and "no_such_role" in text


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"programs: [\n", "not valid YAML or JSON"),
    (b"\xff\xfeprograms", "not UTF-8 text"),
    (b"- just\n- a list\n", "must be a mapping of sections"),
    (b"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
     b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
     b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n",
     "YAML aliases expand it"),
    (b"programs: " + b"[" * 40 + b"]" * 40 + b"\n", "nested more than 32 levels"),
])
def test_files_that_cannot_be_read_are_refused_with_the_reason(console_app, signed_in, content,
                                                               message):
    response = upload(signed_in("ada"), content)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert uploads_kept(console_app) == 0


def test_an_upload_without_a_file_says_so(signed_in):
    ada = signed_in("ada")
    response = ada.post(PAGE, data={"csrf_token": csrf_token(ada, PAGE)},
                        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose an organisation file to upload." in response.get_data(as_text=True)


def test_a_file_over_the_size_limit_is_refused(console_app, signed_in):
    console_app.config["GOVERNANCE_MAX_BODY_BYTES"] = 4096
    response = upload(signed_in("ada"), "# padding\n" * 1000)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than this page accepts (4 KiB)" in page and "<form" in page
    assert uploads_kept(console_app) == 0


def test_json_uploads_are_read_too(console_app, signed_in):
    ada = signed_in("ada")
    response = upload(ada, json.dumps(changed_org(), default=str), "org.json")
    assert response.status_code == 303
    assert "create   users         zed" in ada.get(response.headers["Location"]).get_data(
        as_text=True)


def test_posts_without_their_csrf_token_are_400_and_change_nothing(console_app, signed_in):
    ada = signed_in("ada")
    assert upload(ada, yaml.safe_dump(changed_org()), token=None).status_code == 400
    assert uploads_kept(console_app) == 0
    path, page = review(ada, changed_org())
    form = apply_form(page)
    del form["csrf_token"]
    assert ada.post(path, data=form).status_code == 400
    assert not user_exists(console_app, "zed")


def test_only_administrators_may_use_the_page(console_app, signed_in):
    ada = signed_in("ada")
    path, page = review(ada, changed_org())
    for user in ("cora", "alice"):
        client = signed_in(user)
        token = csrf_token(client, "/console/")
        assert client.get(PAGE).status_code == 403
        assert client.get(PAGE + "/download").status_code == 403
        assert client.get(path).status_code == 403
        assert upload(client, yaml.safe_dump(changed_org()), token=token).status_code == 403
        assert client.post(path, data={"csrf_token": token,
                                       "plan": apply_form(page)["plan"]}).status_code == 403
    assert not user_exists(console_app, "zed")
    assert console_app.test_client().get(PAGE).status_code == 302  # not signed in: sign in


def test_an_unknown_or_expired_upload_is_a_404_that_says_what_to_do(console_app, signed_in):
    ada = signed_in("ada")
    path, _page = review(ada, changed_org())
    assert ada.get(PAGE + "/plans/" + "0" * 64).status_code == 404
    console_app.clock.advance(days=1, minutes=1)
    sign_in(ada, "ada")
    response = ada.get(path)
    assert response.status_code == 404
    assert "Upload the file again" in response.get_data(as_text=True)


def test_the_whole_plan_downloads_as_text(signed_in):
    ada = signed_in("ada")
    path, _page = review(ada, changed_org())
    text = ada.get(path + "/plan.txt").get_data(as_text=True)
    assert "create   users         zed" in text and "nothing was written" in text
