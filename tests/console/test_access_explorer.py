"""The access explorer: who can act on a field and what one user can act on, each with its path
(organisation-wide role, program role, case role with its cases, directory group, override,
break-glass); read from the snapshot, paginated and filterable; admins and auditors only."""
from __future__ import annotations

import re
from html import unescape

import pytest

from governance.extension import state
from governance.models import RoleAssignment
from governance.operations.state import bump_revision
from governance.reads.access import what_user_can_act, who_can_act
from tests.conftest import NOW, new_key

GROUP = "cn=bh-case-managers,ou=groups,dc=example,dc=org"
URL = "/console/access-explorer"


@pytest.fixture
def explored(console_app):
    """The console org plus a directory-made assignment (nick, case_manager in
    behavioral_health through GROUP), an approved override (nick, view clinical.diagnosis of
    p-200 in housing) and a break-glass (nick, p-100 in housing)."""
    app = console_app
    with app.app_context():
        session = state(app).session
        session.add(RoleAssignment(user_id="nick", role_id="case_manager",
                                   program_id="behavioral_health", source="directory",
                                   reason=f"member of {GROUP}", created_at=NOW))
        bump_revision(session, [("assignments", "nick")])
        session.commit()
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'manage')}"
    asked = api.post("/api/v1/overrides", json={
        "actor": "nick", "program": "housing", "participant": "p-200",
        "fields": ["clinical.diagnosis"], "actions": ["view"], "reason": "court report",
        "minutes": 120})
    assert asked.status_code in (200, 201), asked.json
    approved = api.post(f"/api/v1/overrides/{asked.json['id']}/approve",
                        json={"actor": "sam"})
    assert approved.status_code == 200, approved.json
    glass = api.post("/api/v1/break-glass", json={
        "actor": "nick", "participant": "p-100", "program": "housing",
        "reason": "client in crisis at the front desk"})
    assert glass.status_code in (200, 201), glass.json
    app.override_id = asked.json["id"]
    return app


def plain(html: str) -> str:
    """Text with tags removed, spaces collapsed, and none before punctuation."""
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
    return re.sub(r" ([,;:.])", r"\1", text)


def text_of(response) -> str:
    return plain(response.get_data(as_text=True))


def rows(response) -> dict[str, str]:
    """Each listed person's id -> the text of their row."""
    html = response.get_data(as_text=True)
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        user = re.search(r"user=([^&\"]+)", row).group(1)
        out[user] = plain(row)
    return out


def test_who_can_view_a_field_lists_every_path_including_inherited_ones(explored, signed_in):
    page = signed_in("cora").get(URL, query_string={
        "field": "identity.name", "action": "view", "program": "housing"})
    assert page.status_code == 200
    found = rows(page)
    # Organisation-wide roles count in every program (records, compliance).
    assert "Organisation-wide role records in every program" in found["rita"]
    assert "Organisation-wide role compliance in every program, granting identity.*" in \
        found["cora"]
    # A case role through a pattern, with the cases that make it count.
    assert "Case role case_manager in housing, granting identity.*" in found["alice"]
    assert "from the organisation file" in found["alice"]
    assert "on the cases of p-100, p-200" in found["alice"]
    assert "on no case at present" in found["ivy"]  # her involvement ended
    # A program role and a break-glass in force.
    assert "Program role supervisor in housing, granting *, until 2027-06-30" in found["sam"]
    assert "Break-glass" in found["nick"] and "for p-100" in found["nick"]
    # Expired, future and disabled holders cannot act now.
    assert not {"olga", "paul", "lee", "bo"} & set(found)
    text = text_of(page)
    assert "7 people. Of them, 2 through an organisation-wide role; 1 through a program role; " \
        "4 through a case role; 1 through break-glass" in text
    # fred (his case starts next year) and ivy (hers ended); nick has break-glass besides.
    assert "2 of them hold only a case role and are on no case in Rapid Rehousing now" in text


def test_an_override_and_a_directory_group_are_paths(explored, signed_in):
    client = signed_in("ada")
    override = rows(client.get(URL, query_string={
        "field": "clinical.diagnosis", "action": "view", "program": "housing"}))
    assert f"Override {explored.override_id} in housing for p-200" in override["nick"]
    assert "covering clinical.diagnosis" in override["nick"]
    directory = rows(client.get(URL, query_string={
        "field": "contact.phone", "action": "view", "program": "behavioral_health"}))
    assert f"through directory group {GROUP}" in directory["nick"]


def test_filters_narrow_the_list(explored, signed_in):
    client = signed_in("cora")
    base = {"field": "identity.name", "action": "view", "program": "housing"}
    org_wide = rows(client.get(URL, query_string={**base, "via": "organization_role"}))
    assert set(org_wide) == {"rita", "cora"}
    named = rows(client.get(URL, query_string={**base, "q": "ORTIZ"}))
    assert set(named) == {"sam"}
    directory = rows(client.get(URL, query_string={
        **base, "program": "behavioral_health", "field": "contact.phone",
        "via": "directory_group"}))
    assert set(directory) == {"nick"}
    nobody = client.get(URL, query_string={**base, "q": "nobody-at-all"})
    assert "Nobody can view identity.name in Rapid Rehousing now" in text_of(nobody)


def test_the_list_is_paginated(explored):
    with explored.app_context():
        session, snap = state(explored).session, state(explored).snapshot()
        everyone = who_can_act(session, snap, NOW, field_id="identity.name", action="view",
                               program="housing", per_page=100).holders
        pages = [who_can_act(session, snap, NOW, field_id="identity.name", action="view",
                             program="housing", page=n, per_page=2).holders
                 for n in range(1, everyone.total // 2 + 2)]
    assert [h.user for p in pages for h in p.items] == [h.user for h in everyone.items]
    assert pages[0].pages == -(-everyone.total // 2) and pages[-1].page == pages[0].pages


def test_what_a_user_can_act_on_per_program_and_action(explored, signed_in):
    client = signed_in("ada")
    alice = client.get(URL, query_string={"mode": "user", "user": "alice"})
    assert alice.status_code == 200
    text = text_of(alice)
    assert "What Alice Ng (alice) can act on" in text
    assert "Rapid Rehousing" in text and "Behavioral Health" not in text.split("Held now")[1]
    assert "view 6 fields" in text  # identity, contact and risk: 2 each, through the case role
    assert "contact all 2: address, phone Case role case_manager: on 2 cases" in text
    nick = text_of(client.get(URL, query_string={"mode": "user", "user": "nick",
                                                 "action": "view"}))
    assert f"through directory group {GROUP}" in nick
    assert f"Override {explored.override_id}" in nick and "Break-glass" in nick
    rita = text_of(client.get(URL, query_string={"mode": "user", "user": "rita"}))
    assert "Organisation-wide role records in every program" in rita
    assert "Behavioral Health" in rita and "Rapid Rehousing" in rita  # every program


def test_user_view_is_computed_from_the_snapshot(explored):
    with explored.app_context():
        access = what_user_can_act(state(explored).session, state(explored).snapshot(), NOW,
                                   user_id="nick", program="housing", action="view")
    [(program, [view])] = access.sections.items
    assert program == "housing" and view.action == "view"
    paths = {f: {p.kind for p in row.paths} for row in view.rows for f in row.fields}
    assert paths["clinical.diagnosis"] == {"override", "break_glass"}
    assert paths["clinical.hiv_status"] == {"break_glass"}
    assert paths["identity.name"] == {"case_role", "break_glass"}
    clinical = [row for row in view.rows if row.group == "clinical"]
    assert [row.fields for row in clinical] == [
        ["clinical.diagnosis"], ["clinical.hiv_status", "clinical.psychotherapy_notes"]]


@pytest.mark.parametrize("query, field, message", [
    ({"field": "clinical.nope"}, "field", "'clinical.nope' is not a catalogued field id"),
    ({"field": "identity.name", "action": "dance"}, "action", "choose one of view"),
    ({"field": "identity.name", "program": "nowhere"}, "program", "choose a program"),
    ({"mode": "user", "user": "ghost"}, "user", "there is no user 'ghost'"),
])
def test_bad_input_shows_the_message_beside_the_field(explored, signed_in, query, field,
                                                      message):
    page = signed_in("cora").get(URL, query_string=query)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert f'aria-describedby="{field}-error"' in html
    assert re.search(rf'id="{field}-error">[^<]*{re.escape(message)}', unescape(html))


@pytest.mark.parametrize("user, status", [("ada", 200), ("cora", 200), ("alice", 403),
                                          ("sam", 403)])
def test_only_admins_and_auditors_may_explore(explored, signed_in, user, status):
    assert signed_in(user).get(URL).status_code == status


def test_signed_out_goes_to_sign_in(explored):
    answer = explored.test_client().get(URL)
    assert answer.status_code == 302 and "/console/sign-in" in answer.headers["Location"]


def test_the_nav_links_the_explorer_for_admins_and_auditors(explored, signed_in):
    for user, shown in (("ada", True), ("cora", True), ("alice", False)):
        html = signed_in(user).get("/console/").get_data(as_text=True)
        assert ('href="/console/access-explorer"' in html) is shown
