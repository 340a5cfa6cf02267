"""A realistic sample organisation as a plain org-file dict (the shape `governance apply` reads).

The policy tables live in ``catalogue.py``; this module generates the people: staff, participants,
caseloads and consents. Deterministic for a given seed and `today`; dates are relative to `today`.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

from governance.demo.catalogue import (
    BUNDLES,
    FIELDS,
    PARTNERS,
    PROGRAMS,
    PURPOSES,
    ROLES,
    STATUS_FIELDS,
    ids,
)

WELL_KNOWN_USERS = (
    ("alice", "Alice Ng", True, [("case_manager", "housing", None)]),
    ("sam", "Sam Ortiz", True, [("supervisor", "housing", 200)]),
    ("lee", "Lee Park", False, [("case_manager", "housing", None)]),
    ("dana", "Dana Whitfield", True, [("clinician", "behavioral_health", None)]),
    ("bo", "Bo Chen", True, [("billing", "behavioral_health", None)]),
    ("rita", "Rita Alvarez", True, [("records", None, None)]),
    ("carmen", "Carmen Diaz", True, [("compliance", None, None)]),
    ("vic", "Vic Romano", True, [("vendor_support", None, 60)]),
    ("fay", "Fay Johnson", True, [("front_desk", "housing", None)]),
    ("kim", "Kim Osei", True, [("supervisor", "county_contract", None)]),
)
STAFFING = (  # role, program, generated staff on top of the well-known users
    ("case_manager", "housing", 7), ("case_manager", "behavioral_health", 3),
    ("case_manager", "county_contract", 4), ("clinician", "behavioral_health", 8),
    ("clinician", "county_contract", 2), ("front_desk", "housing", 3),
    ("front_desk", "behavioral_health", 4), ("front_desk", "county_contract", 2),
    ("billing", "behavioral_health", 3), ("billing", "county_contract", 2), ("records", None, 3),
    ("supervisor", "housing", 1), ("supervisor", "behavioral_health", 2),
    ("supervisor", "county_contract", 1), ("compliance", None, 1), ("it_admin", None, 2),
    ("vendor_support", None, 2),
)
FIRST = ("maria jose wei aisha tom priya omar grace luis nina ken hana raj sofia ben amara "
         "diego lucy tariq elena noah zoe kwame ivy marco leila sean mei ravi tessa").split()
LAST = ("garcia smith nguyen okafor brown patel haddad kim lopez rossi tanaka cohen mendez "
        "wright singh novak ali evans silva murphy chen adams boateng reyes").split()
GROUP_CN = {"case_manager": "case-managers", "clinician": "clinicians", "front_desk": "front-desk",
            "billing": "billing", "records": "records-staff", "supervisor": "supervisors",
            "compliance": "compliance", "it_admin": "it-admins", "vendor_support": "vendor-support"}
PROGRAM_CN = {"housing": "housing-", "behavioral_health": "bh-", "county_contract": "county-"}

# Pinned participants: p-100 (housing + behavioral health, the contract's example), p-101
# (county-funded, county release on file), p-102 (housing, referral release expired).
PINNED_PROGRAMS = {"p-100": ["housing", "behavioral_health"],
                   "p-101": ["county_contract", "housing"], "p-102": ["housing"]}
PINNED_INVOLVEMENTS = (  # user, participant, program, from, until (days after today)
    ("alice", "p-100", "housing", -200, 165), ("dana", "p-100", "behavioral_health", -420, None),
    ("alice", "p-102", "housing", -90, None))
PINNED_CONSENTS = (  # participant, scope, from, until (days after today)
    ("p-100", {"partners": ["city_housing"], "purposes": ["housing_referral"],
               "fields": ids("identity.* contact.* risk.*"), "exclude_labels": ["sud"]},
     -300, 60),
    ("p-100", {"partner_types": ["provider"], "purposes": ["treatment", "warm_handoff"],
               "fields": ["*"], "exclude_labels": ["sud"]}, None, None),
    ("p-101", {"partners": ["county_dhs"], "purposes": ["county_status_update"],
               "fields": STATUS_FIELDS}, -240, 125),
    ("p-102", {"partners": ["city_housing"], "purposes": ["housing_referral"],
               "fields": ids("identity.* contact.* housing.* risk.*"),
               "exclude_labels": ["dv"]}, -400, -35),
)
PROGRAM_MIX = ((["housing"], 35), (["behavioral_health"], 30), (["county_contract"], 12),
               (["housing", "behavioral_health"], 12), (["county_contract", "housing"], 8),
               (["behavioral_health", "county_contract"], 3))
CASE_ROLES = ("case_manager", "clinician")
# Releases participants sign: program (None: anyone), chance, recipients (one is picked),
# purposes, field choices, exclusion choices. Part 2 (42 CFR) consents name the recipient.
CONSENT_PLANS = (
    ("housing", 0.65, [{"partners": ["city_housing"]}] * 4 + [{"partner_types": ["housing"]}],
     ["housing_referral"], [ids("identity.* contact.* housing.* risk.safety_note "
                                 "risk.tenancy_flags")], [[], ["sud"], ["dv"], ["sud", "dv"]]),
    ("housing", 0.07, [{"partners": ["maple_court"]}], ["housing_referral"],
     [ids("identity.name contact.phone housing.lease_status")], [[]]),
    ("behavioral_health", 0.15, [{"partners": ["riverside_clinic"]}],
     ["treatment", "care_coordination"], [ids("sud.* medications.*")], [[]]),
    ("behavioral_health", 0.06, [{"partners": ["harbor_health_plan"]}],
     ["payment", "claims_followup"], [ids("billing.* sud.program_enrollment")], [[]]),
    ("behavioral_health", 0.7,
     [{"partner_types": ["provider"]}] * 2 + [{"partners": ["riverside_clinic"]}],
     ["treatment", "warm_handoff", "care_coordination"],
     [["*"], ids("identity.* contact.* appointments.* care_plan.* medications.* "
                  "clinical.diagnosis")],
     [[], ["hiv"], ["psychotherapy_notes"], ["sud"], ["sud"], ["sud", "hiv"]]),
    ("county_contract", 0.9, [{"partners": ["county_dhs"]}], ["county_status_update"],
     [STATUS_FIELDS], [[]]),
    (None, 0.05, [{"partners": ["lincoln_high"]}], ["school_support"],
     [ids("identity.name school.*")], [[]]),
)


def build_demo_org(seed: int = 7, participants: int = 300, today: date | None = None) -> dict:
    """The sample organisation as an org-file dict; same seed and `today`, same result."""
    if participants < 1:
        raise ValueError("participants must be at least 1")
    rng, today = random.Random(seed), today or date.today()
    users = _users(rng, today)
    people = _participants(rng, participants)
    return {
        "programs": [{"id": pid, "name": name} for pid, name in PROGRAMS],
        "fields": [{"id": fid, "sensitivity": s, "labels": labels.split(), "description": d}
                   for fid, s, labels, d in FIELDS],
        "purposes": [{"id": pid, "basis": b, "description": d} for pid, b, d in PURPOSES],
        "roles": [{"id": rid, "name": name, "description": d, "scope": scope, "elevated": False,
                   **extra, "grants": dict(zip(("view", "export", "disclose"),
                                               map(list, grants), strict=True))}
                  for rid, name, scope, d, grants, extra in ROLES],
        "users": users,
        "participants": people,
        "involvements": _involvements(rng, today, users, people),
        "partners": [{"id": i, "name": n, "type": t, "standard": s, "channels": c.split(),
                      "address": a} for i, n, t, s, c, a in PARTNERS],
        "bundles": [{"id": i, "purpose": p, "partner_types": t.split(), "required": req.split(),
                     "optional": opt.split(), "prohibited": pro.split(), "description": d}
                    for i, p, t, req, opt, pro, d in BUNDLES],
        "consents": _consents(rng, today, people),
        "directory": {"group_roles": _group_roles()},
    }


def _iso(today: date, days: int | None) -> str | None:
    return None if days is None else (today + timedelta(days=days)).isoformat()


def _dated(row: dict, **dates: str | None) -> dict:
    """`row` plus the dates (and other optional keys) that are set."""
    return {**row, **{k.rstrip("_"): v for k, v in dates.items() if v is not None}}


def _users(rng: random.Random, today: date) -> list[dict]:
    """The well-known users, then generated staff for every row of STAFFING."""
    rows = [(uid, name, active, [_dated({"role": r}, program=p, until=_iso(today, d))
                                 for r, p, d in roles])
            for uid, name, active, roles in WELL_KNOWN_USERS]
    names = rng.sample([(f, la) for f in FIRST for la in LAST], sum(n for *_, n in STAFFING))
    for role, program, count in STAFFING:
        for i in range(count):
            first, last = names.pop()
            roles, active = [_dated({"role": role}, program=program)], True
            # A few realistic wrinkles, placed by position so every seed has them.
            if role == "clinician" and program == "behavioral_health" and i == count - 1:
                active = False  # left the clinic; account disabled
            elif role == "vendor_support":
                roles[0]["until"] = _iso(today, -12 if i == 0 else 25)  # the first has lapsed
            elif role == "supervisor" and program == "behavioral_health" and i == 1:
                roles[0]["until"] = _iso(today, 45)  # acting supervisor
            elif role in ("front_desk", "billing") and program == "county_contract" and i == 0:
                other = "housing" if role == "front_desk" else "behavioral_health"
                roles.append({"role": role, "program": other})  # covers two programs
            rows.append((f"{first}.{last}", f"{first.title()} {last.title()}", active, roles))
    return [{"id": uid, "name": name, "email": f"{uid}@example.org", "active": active,
             "roles": roles} for uid, name, active, roles in rows]


def _participants(rng: random.Random, count: int) -> list[dict]:
    mixes, weights = zip(*PROGRAM_MIX, strict=True)
    return [{"id": f"p-{n}", "programs": list(PINNED_PROGRAMS.get(f"p-{n}")
                                              or rng.choices(mixes, weights)[0])}
            for n in range(100, 100 + count)]


def _involvements(rng: random.Random, today: date, users: list[dict],
                  people: list[dict]) -> list[dict]:
    """Open caseloads of 15-30 dealt round-robin within each program, plus some closed cases."""
    known = {p["id"] for p in people}
    out = [_dated({"user": u, "participant": p, "program": prog}, from_=_iso(today, start),
                  until=_iso(today, end))
           for u, p, prog, start, end in PINNED_INVOLVEMENTS if p in known]
    staff: dict[tuple[str, str], list[dict]] = {}
    for user in users:
        for a in user["roles"]:
            if a["role"] in CASE_ROLES:
                staff.setdefault((a["role"], a["program"]), []).append(user)
    for (_, program), members in staff.items():
        pool = [p["id"] for p in people
                if program in p["programs"] and p["id"] not in PINNED_PROGRAMS]
        rng.shuffle(pool)
        cursor = 0
        for user in members:
            taken = {r["participant"] for r in out
                     if r["user"] == user["id"] and r["program"] == program}
            caseload, cases = rng.randint(15, 30) - len(taken), []
            for _ in range(len(pool)):
                pid, cursor = pool[cursor % len(pool)], cursor + 1
                if len(cases) < caseload and pid not in taken:
                    cases.append((pid, -rng.randint(14, 720),
                                  rng.randint(14, 300) if rng.random() < 0.4 else None))
                    taken.add(pid)
            if not user["active"]:  # a disabled account's cases closed when its holder left
                left = -rng.randint(30, 60)
                cases = [(pid, min(start, left - 30), left) for pid, start, _ in cases]
            closed = [p for p in pool if p not in taken]
            for pid in rng.sample(closed, min(len(closed), rng.randint(2, 6))):
                end = -rng.randint(1, 400)
                cases.append((pid, end - rng.randint(60, 500), end))
            out += [_dated({"user": user["id"], "participant": pid, "program": program},
                           from_=_iso(today, start), until=_iso(today, end))
                    for pid, start, end in cases]
    return out


def _consents(rng: random.Random, today: date, people: list[dict]) -> list[dict]:
    """The pinned consents, then CONSENT_PLANS drawn per participant: most have some, not all."""
    known = {p["id"] for p in people}
    out = [_dated({"participant": pid, **scope}, from_=_iso(today, start),
                  until=_iso(today, end))
           for pid, scope, start, end in PINNED_CONSENTS if pid in known]
    for person in people:
        if person["id"] in PINNED_PROGRAMS:
            continue
        part2 = False
        for program, chance, recipients, purposes, fields, excludes in CONSENT_PLANS:
            if program not in (None, *person["programs"]) or rng.random() >= chance:
                continue
            # A blanket sud exclusion would cancel the participant's own Part 2 consent.
            labels = [x for x in rng.choice(excludes) if not (part2 and x == "sud")]
            chosen = list(rng.choice(fields))
            part2 = part2 or "sud.*" in chosen
            start, roll = -rng.randint(30, 700), rng.random()  # most open, some expired
            end = (-rng.randint(1, min(200, -start - 1)) if roll < 0.15
                   else rng.randint(30, 365) if roll < 0.6 else None)
            out.append(_dated({"participant": person["id"], **rng.choice(recipients),
                               "purposes": list(purposes), "fields": chosen},
                              exclude_labels=labels or None, from_=_iso(today, start),
                              until=_iso(today, end),
                              status="revoked" if rng.random() < 0.06 else None))
    return out


def _group_roles() -> list[dict]:
    """One LDAP group per role and program actually staffed; organization roles take none."""
    pairs = dict.fromkeys((r, p) for *_, roles in WELL_KNOWN_USERS for r, p, _ in roles)
    pairs.update(dict.fromkeys((r, p) for r, p, _ in STAFFING))
    return sorted(
        (_dated({"group": f"cn={PROGRAM_CN.get(p, '')}{GROUP_CN[r]},ou=groups,dc=example,dc=org",
                 "role": r}, program=p) for r, p in pairs), key=lambda e: e["group"])
