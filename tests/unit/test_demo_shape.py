"""The demo organisation: realistic counts, determinism, and every reference resolving."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest

from governance.demo import build_demo_org
from governance.policy.patterns import FIELD_ID, expand
from governance.policy.vocabulary import BUILTIN_PURPOSES, SCOPES, SENSITIVITIES

TODAY = date(2026, 1, 15)


@pytest.fixture(scope="module")
def org() -> dict:
    return build_demo_org(seed=7, today=TODAY)


def _active(row: dict, today: date = TODAY) -> bool:
    return row["from"] <= today.isoformat() < row.get("until", "9999-12-31")


def _pattern_sites(org: dict):
    """Every field pattern in the file, with where it sits."""
    for role in org["roles"]:
        for action, patterns in role["grants"].items():
            yield from ((f"roles.{role['id']}.{action}", p) for p in patterns)
    for bundle in org["bundles"]:
        for part in ("required", "optional", "prohibited"):
            yield from ((f"bundles.{bundle['id']}.{part}", p) for p in bundle[part])
    for n, consent in enumerate(org["consents"]):
        yield from ((f"consents[{n}]", p) for p in consent["fields"])


def test_counts_match_a_mid_sized_provider(org: dict) -> None:
    assert [p["id"] for p in org["programs"]] == ["housing", "behavioral_health",
                                                   "county_contract"]
    assert len(org["fields"]) >= 50
    assert len(org["roles"]) == 9
    assert 55 <= len(org["users"]) <= 65
    assert [p["id"] for p in org["participants"]] == [f"p-{n}" for n in range(100, 400)]
    consenting = {c["participant"] for c in org["consents"]}
    assert 150 < len(consenting) < len(org["participants"])  # many, not all
    assert len(org["involvements"]) > 300


def test_same_seed_and_day_give_the_same_org_whatever_the_global_random_state() -> None:
    random.seed(1)
    first = build_demo_org(seed=3, participants=40, today=TODAY)
    random.seed(2)
    assert build_demo_org(seed=3, participants=40, today=TODAY) == first
    assert build_demo_org(seed=4, participants=40, today=TODAY) != first


def test_dates_move_with_today() -> None:
    later = TODAY + timedelta(days=30)
    a = build_demo_org(participants=20, today=TODAY)
    b = build_demo_org(participants=20, today=later)
    shift = [(date.fromisoformat(x["from"]) + timedelta(days=30)).isoformat()
             for x in a["involvements"]]
    assert shift == [x["from"] for x in b["involvements"]]


def test_fields_are_well_formed_and_sensitive_groups_labelled(org: dict) -> None:
    ids = [f["id"] for f in org["fields"]]
    assert len(ids) == len(set(ids))
    for f in org["fields"]:
        assert FIELD_ID.match(f["id"]), f["id"]
        assert f["sensitivity"] in SENSITIVITIES and f["description"]
        group = f["id"].split(".")[0]
        if group in ("psychotherapy", "sud"):
            label = "psychotherapy_notes" if group == "psychotherapy" else "sud"
            assert f["sensitivity"] == "very_restricted" and label in f["labels"], f["id"]
    labels = {label for f in org["fields"] for label in f["labels"]}
    assert {"sud", "psychotherapy_notes", "hiv", "dv", "minor", "third_party"} <= labels


def test_every_pattern_matches_a_declared_field(org: dict) -> None:
    ids = [f["id"] for f in org["fields"]]
    unmatched = [(where, p) for where, p in _pattern_sites(org) if expand([p], ids)[1]]
    assert unmatched == []


@pytest.mark.parametrize("participants", [1, 5, 300])
def test_every_reference_resolves(participants: int) -> None:
    org = build_demo_org(participants=participants, today=TODAY)
    programs = {p["id"] for p in org["programs"]}
    roles = {r["id"]: r for r in org["roles"]}
    users = {u["id"] for u in org["users"]}
    partners = {p["id"]: p["type"] for p in org["partners"]}
    purposes = set(BUILTIN_PURPOSES) | {p["id"] for p in org["purposes"]}
    enrolled = {p["id"]: set(p["programs"]) for p in org["participants"]}
    labels = {label for f in org["fields"] for label in f["labels"]}
    assert all(p["basis"] in BUILTIN_PURPOSES for p in org["purposes"])
    assert all(r["scope"] in SCOPES for r in roles.values())
    assert all(set(p["programs"]) <= programs for p in org["participants"])
    for user in org["users"]:
        for a in user["roles"]:
            organisation_wide = roles[a["role"]]["scope"] == "organization"
            assert ("program" not in a) if organisation_wide else (a["program"] in programs)
    for i in org["involvements"]:
        assert i["user"] in users and i["program"] in enrolled[i["participant"]]
        assert i["from"] < i.get("until", "9999-12-31")
    for b in org["bundles"]:
        assert b["purpose"] in purposes and set(b["partner_types"]) <= set(partners.values())
    for c in org["consents"]:
        assert c["participant"] in enrolled and set(c["purposes"]) <= purposes
        assert set(c.get("partners", [])) <= set(partners)
        assert set(c.get("partner_types", [])) <= set(partners.values())
        assert c.get("partners") or c.get("partner_types")
        assert set(c.get("exclude_labels", [])) <= labels
        assert c.get("status", "active") in ("active", "revoked")
    for g in org["directory"]["group_roles"]:
        assert g["group"].startswith("cn=") and g["group"].endswith(",ou=groups,dc=example,dc=org")
        organisation_wide = roles[g["role"]]["scope"] == "organization"
        assert ("program" not in g) if organisation_wide else (g["program"] in programs)


def test_well_known_users_hold_the_documented_roles(org: dict) -> None:
    users = {u["id"]: u for u in org["users"]}
    expected = {"alice": ("case_manager", "housing"), "sam": ("supervisor", "housing"),
                "lee": ("case_manager", "housing"), "dana": ("clinician", "behavioral_health"),
                "bo": ("billing", "behavioral_health"), "rita": ("records", None),
                "carmen": ("compliance", None), "vic": ("vendor_support", None),
                "fay": ("front_desk", "housing")}
    for uid, (role, program) in expected.items():
        assert [(a["role"], a.get("program")) for a in users[uid]["roles"]] == [(role, program)]
        assert users[uid]["active"] is (uid != "lee")
    vic_until = date.fromisoformat(users["vic"]["roles"][0]["until"])
    assert 45 <= (vic_until - TODAY).days <= 75
    assert len([u for u in org["users"] if not u["active"]]) >= 2
    ends = [a["until"] for u in org["users"] for a in u["roles"] if "until" in a]
    assert any(e < TODAY.isoformat() for e in ends)  # one lapsed assignment


def test_p100_carries_the_contract_example(org: dict) -> None:
    assert org["participants"][0] == {"id": "p-100", "programs": ["housing",
                                                                  "behavioral_health"]}
    consents = [c for c in org["consents"] if c["participant"] == "p-100"]
    assert consents == [
        {"participant": "p-100", "partners": ["city_housing"], "purposes": ["housing_referral"],
         "fields": ["identity.*", "contact.*", "risk.*"], "exclude_labels": ["sud"],
         "from": (TODAY - timedelta(days=300)).isoformat(),
         "until": (TODAY + timedelta(days=60)).isoformat()},
        {"participant": "p-100", "partner_types": ["provider"],
         "purposes": ["treatment", "warm_handoff"], "fields": ["*"], "exclude_labels": ["sud"]},
    ]
    on_case = {(i["user"], i["program"]) for i in org["involvements"]
               if i["participant"] == "p-100" and _active(i)}
    assert {("alice", "housing"), ("dana", "behavioral_health")} <= on_case
    alice = next(i for i in org["involvements"]
                 if (i["user"], i["participant"]) == ("alice", "p-100"))
    assert "until" in alice  # active now, ending later


def test_case_workers_carry_realistic_caseloads(org: dict) -> None:
    case_roles = {r["id"] for r in org["roles"] if r["scope"] == "case"}
    workers = {u["id"] for u in org["users"] if u["active"]
               and any(a["role"] in case_roles for a in u["roles"])}
    open_cases = Counter(i["user"] for i in org["involvements"] if _active(i))
    assert {uid: n for uid, n in open_cases.items() if not 15 <= n <= 30} == {}
    assert set(open_cases) == workers  # disabled accounts keep no open cases
    ended = [i for i in org["involvements"] if not _active(i)]
    assert ended and any("until" in i for i in org["involvements"] if _active(i))


def test_consents_include_expired_revoked_and_sensitive_exclusions(org: dict) -> None:
    consents = org["consents"]
    assert any(c.get("until", "9999") < TODAY.isoformat() for c in consents)
    assert any(c.get("status") == "revoked" for c in consents)
    excluded = {label for c in consents for label in c.get("exclude_labels", [])}
    assert {"dv", "hiv", "sud"} <= excluded


def _fields_opened(org: dict, role: str, action: str) -> list[str]:
    grants = next(r for r in org["roles"] if r["id"] == role)["grants"][action]
    return expand(grants, [f["id"] for f in org["fields"]])[0]


def test_grants_respect_minimum_necessary(org: dict) -> None:
    sensitivity = {f["id"]: f["sensitivity"] for f in org["fields"]}
    groups = {role: {f.split(".")[0] for f in _fields_opened(org, role, "view")}
              for role in ("front_desk", "billing", "case_manager", "records", "supervisor")}
    assert not groups["front_desk"] & {"clinical", "sud", "psychotherapy", "medications"}
    assert groups["billing"] <= {"identity", "billing"}
    assert not groups["case_manager"] & {"clinical", "sud", "psychotherapy", "billing"}
    assert "psychotherapy" not in groups["records"] | groups["supervisor"]
    vendor = [_fields_opened(org, "vendor_support", a) for a in ("view", "export", "disclose")]
    assert 0 < len(vendor[0]) <= 4 and vendor[1:] == [[], []]
    assert all(sensitivity[f] == "normal" for f in vendor[0])
    assert len(_fields_opened(org, "it_admin", "view")) <= 2
    roles = {r["id"]: r for r in org["roles"]}
    assert roles["supervisor"]["approves"] == ["override", "escalation"]
    assert roles["vendor_support"]["review_every_days"] == 30
    assert all(r["elevated"] for k, r in roles.items()
               if k in ("supervisor", "compliance", "it_admin", "vendor_support"))


def test_bundles_never_release_what_they_prohibit(org: dict) -> None:
    ids = [f["id"] for f in org["fields"]]
    for b in org["bundles"]:
        released = set(expand(b["required"] + b["optional"], ids)[0])
        assert released and not released & set(expand(b["prohibited"], ids)[0]), b["id"]
    prohibited = {b["id"]: b["prohibited"] for b in org["bundles"]}
    for bundle in ("housing_referral_standard", "county_status_update"):
        assert {"clinical.*", "sud.*", "psychotherapy.*"} <= set(prohibited[bundle])
    assert {"sud.*", "psychotherapy.*"} <= set(prohibited["warm_handoff"])
