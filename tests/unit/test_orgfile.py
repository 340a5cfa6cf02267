"""The organisation file: validated whole, applied idempotently, exported round trip."""
from __future__ import annotations

import copy
import json

import pytest
import yaml
from sqlalchemy import func, select

from governance.extension import state
from governance.models import AuditEvent, Consent, Field, PolicyState, RoleAssignment, User
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import OrgFileError, load_text, validate
from governance.orgfile.export import export_org
from tests.conftest import FIXTURES, NOW

ORG = yaml.safe_load((FIXTURES / "org.yaml").read_text())


def apply(app, data: dict, dry_run: bool = False):
    with app.app_context():
        spec = validate(json.loads(json.dumps(data, default=str)))
        return ApplyOrganisation(spec, actor="test", dry_run=dry_run, now=NOW).execute(
            state(app).session)


def snapshot_counts(app) -> dict:
    with app.app_context():
        session = state(app).session
        counts = {m.__name__: session.scalar(select(func.count()).select_from(m))
                  for m in (AuditEvent, Consent, Field, RoleAssignment, User)}
        counts["revision"] = session.scalar(select(PolicyState.revision))
        return counts


def exported(app) -> dict:
    with app.app_context():
        return export_org(state(app).session)


def test_second_apply_changes_nothing(app):
    first = apply(app, ORG)
    assert first.changes
    before = snapshot_counts(app)
    second = apply(app, ORG)
    assert second.changes == [] and second.version == first.version
    assert snapshot_counts(app) == before


def test_dry_run_reports_the_same_changes_and_writes_nothing(app):
    before = snapshot_counts(app)
    dry = apply(app, ORG, dry_run=True)
    assert snapshot_counts(app) == before
    real = apply(app, ORG)
    assert [str(c) for c in dry.changes] == [str(c) for c in real.changes]
    assert dry.version == real.version


def test_export_round_trip(make_app, backend):
    one = make_app(backend)
    apply(one, ORG)
    exported_once = exported(one)
    assert apply(one, exported_once).changes == []
    two = make_app("sqlite")
    result = apply(two, exported_once)
    assert exported(two) == exported_once
    assert result.version == apply(one, ORG).version


def test_same_content_in_another_order_has_the_same_version(app):
    version = apply(app, ORG, dry_run=True).version
    shuffled = copy.deepcopy(ORG)
    for section in ("fields", "roles", "partners", "bundles", "programs"):
        shuffled[section].reverse()
    assert apply(app, shuffled, dry_run=True).version == version
    changed = copy.deepcopy(ORG)
    changed["fields"][0]["sensitivity"] = "restricted"
    assert apply(app, changed, dry_run=True).version != version


def test_file_owns_only_what_it_declares(app):
    apply(app, ORG)
    with app.app_context():
        session = state(app).session
        session.add(Consent(id="cns_api_1", participant_id="p-100", partner_types=["county"],
                            purposes=["operations"], fields=["identity.*"], source="api"))
        session.commit()
    smaller = copy.deepcopy(ORG)
    smaller["users"] = [u for u in smaller["users"] if u["id"] != "nick"]
    smaller["consents"] = smaller["consents"][1:]
    smaller["fields"] = [f for f in smaller["fields"] if f["id"] != "billing.claims"]
    smaller["roles"] = [r for r in smaller["roles"] if r["id"] != "billing"]
    smaller["users"] = [u for u in smaller["users"] if u["id"] != "bo"]
    result = apply(app, smaller)
    ops = {(c.section, c.op, c.key.split()[0]) for c in result.changes}
    assert ("users", "disable", "nick") in ops
    assert ("fields", "retire", "billing.claims") in ops
    assert ("roles", "retire", "billing") in ops
    assert any(c.section == "consents" and c.op == "end" for c in result.changes)
    with app.app_context():
        session = state(app).session
        nick = session.get(User, "nick")
        assert nick.active is False
        ended = session.scalars(select(RoleAssignment).where(RoleAssignment.user_id == "nick"))
        assert all(a.ended_at == NOW for a in ended)  # kept as history, not deleted
        assert session.get(Consent, "cns_api_1").ended_at is None
        assert session.get(Field, "billing.claims").retired_at == NOW
    doc = exported(app)
    assert "billing.claims" not in [f["id"] for f in doc["fields"]]
    assert any(c["id"] == "cns_api_1" for c in doc["consents"])


def test_changed_window_ends_the_old_assignment_and_starts_a_new_one(app):
    apply(app, ORG)
    later = copy.deepcopy(ORG)
    sam = next(u for u in later["users"] if u["id"] == "sam")
    sam["roles"][0]["until"] = "2027-12-31"
    result = apply(app, later)
    assert sorted(c.op for c in result.changes if c.section == "assignments") == ["create", "end"]


def test_json_and_yaml_are_the_same_shape():
    as_json = validate(load_text(json.dumps(ORG, default=str)))
    as_yaml = validate(load_text((FIXTURES / "org.yaml").read_text()))
    assert as_json == as_yaml


def mutated(path: str, value):
    data = copy.deepcopy(ORG)
    target = data
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return data


INVALID = [
    (mutated("roles.2.grants.view", ["clnical.*"]),
     "roles[2].grants.view[0]: unknown field pattern 'clnical.*'"),
    (mutated("roles.0.scope", "team"), "roles[0].scope"),
    (mutated("roles.0.colour", "red"), "roles[0].colour: unknown key"),
    (mutated("fields.0.sensitivity", "secret"), "fields[0].sensitivity"),
    (mutated("fields.1.id", "identity.name"), "fields[1].id: duplicate id 'identity.name'"),
    (mutated("fields.0.id", "Identity Name"), "fields[0].id"),
    (mutated("users.0.roles.0.role", "janitor"), "users[0].roles[0].role: unknown role"),
    (mutated("users.0.roles.0.program", "nowhere"), "users[0].roles[0].program: unknown program"),
    (mutated("users.9.roles.0.program", "housing"), "users[9].roles[0].program: role 'records'"),
    (mutated("users.0.roles.0.until", "next tuesday"), "users[0].roles[0].until"),
    (mutated("users.1.roles.0.from", "2028-01-01"), "users[1].roles[0].until: must be after"),
    (mutated("involvements.0.participant", "p-999"), "involvements[0].participant"),
    (mutated("involvements.5.program", "housing"),
     "involvements[5].program: participant 'p-300'"),
    (mutated("bundles.0.purpose", "gossip"), "bundles[0].purpose: unknown purpose 'gossip'"),
    (mutated("consents.0.partners", ["nobody"]), "consents[0].partners[0]: unknown partner"),
    (mutated("consents.0.purposes", []), "consents[0].purposes"),
    (mutated("purposes.0.id", "treatment"), "purposes[0].id: 'treatment' is built in"),
    (mutated("purposes.0.basis", "curiosity"), "purposes[0].basis"),
    (mutated("directory.group_roles.0.role", "janitor"), "directory.group_roles[0].role"),
    ([1, 2, 3], "(top level)"),
]


@pytest.mark.parametrize("data,message", INVALID, ids=[m for _, m in INVALID])
def test_invalid_file_names_each_error_by_path(data, message):
    with pytest.raises(OrgFileError) as caught:
        validate(json.loads(json.dumps(data, default=str)))
    assert any(message in error for error in caught.value.errors), caught.value.errors


def test_every_error_is_listed_at_once():
    data = mutated("users.0.roles.0.role", "janitor")
    data["bundles"][0]["purpose"] = "gossip"
    data["consents"][0]["partners"] = ["nobody"]
    with pytest.raises(OrgFileError) as caught:
        validate(data)
    assert len(caught.value.errors) == 3


@pytest.mark.parametrize("text,key", [
    ("programs:\n  - {id: housing, name: Housing}\nprograms: []\n", "programs"),
    ('{"programs": [{"id": "housing", "name": "H", "name": "Housing"}]}', "name"),
])
def test_a_key_given_twice_is_refused_not_the_last_one_kept(text, key):
    with pytest.raises(OrgFileError, match=f"{key}'? twice|duplicate member name '{key}'"):
        load_text(text, "org.yaml")


def test_a_yaml_merge_may_still_override_a_merged_key():
    text = "base: &base {sensitivity: normal}\nfield:\n  <<: *base\n  sensitivity: restricted\n"
    assert load_text(text)["field"] == {"sensitivity": "restricted"}


@pytest.mark.parametrize("content,message", [
    (b"", "the file is empty"),
    (b"\xff\xfeprograms: []\n", "not UTF-8 text"),
    (b"users: []\nusers: []\n", "found the key 'users' twice"),
])
def test_apply_refuses_an_unreadable_file_by_name_and_writes_nothing(app, tmp_path, content,
                                                                     message):
    apply(app, ORG)
    before = snapshot_counts(app)
    path = tmp_path / "org.yaml"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["governance", "apply", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output
    assert snapshot_counts(app) == before


def test_rejected_file_writes_nothing(app, tmp_path):
    apply(app, ORG)
    before = snapshot_counts(app)
    text = (FIXTURES / "org.yaml").read_text().replace(
        'view: ["*"], export: ["identity.*"]', 'view: ["clnical.*"], export: ["identity.*"]')
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = app.test_cli_runner().invoke(args=["governance", "apply", str(path)])
    assert result.exit_code != 0
    assert "roles[2].grants.view[0]: unknown field pattern 'clnical.*'" in result.output
    assert snapshot_counts(app) == before
