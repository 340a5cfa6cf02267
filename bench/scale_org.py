"""A generated organisation at county-network scale (issue 3, target 4), in org-file shape.

    build_scale_org(fraction=1.0) -> dict

At fraction 1.0: 10,000 users, 300 fields, 40 roles, 20 programs, 100,000 participants,
200,000 case involvements and 100,000 consents. Catalogue sizes (fields, roles, programs) stay
fixed; people and their records scale with ``fraction``. Deterministic.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

GROUPS = 30
NAMES = 10
LABELS = ["sud", "psychotherapy_notes", "hiv", "dv", "minor", "third_party"]
SCOPES = ["case"] * 20 + ["program"] * 14 + ["organization"] * 6
PARTNER_TYPES = ["provider", "housing", "payer", "county", "school", "vendor"]
ACTIONS = ("view", "export", "disclose")


def build_scale_org(fraction: float = 1.0, seed: int = 11, today: date | None = None) -> dict:
    rng = random.Random(seed)
    today = today or date.today()
    programs = [f"prog{i:02d}" for i in range(20)]
    fields = [{"id": f"g{g:02d}.f{n}", "sensitivity": _sensitivity(rng),
               "labels": [rng.choice(LABELS)] if rng.random() < 0.1 else []}
              for g in range(GROUPS) for n in range(NAMES)]
    roles = [_role(rng, i, scope) for i, scope in enumerate(SCOPES)]
    users = _users(rng, int(10_000 * fraction), roles, programs)
    participants = [{"id": f"p{i:06d}", "programs": rng.sample(programs, rng.choice([1, 1, 2]))}
                    for i in range(int(100_000 * fraction))]
    partners = [{"id": f"partner{i:02d}", "name": f"Partner {i}",
                 "type": PARTNER_TYPES[i % len(PARTNER_TYPES)], "standard": i % 7 != 0,
                 "channels": ["secure_portal"]} for i in range(50)]
    purposes = [{"id": f"purpose{i}", "basis": b} for i, b in enumerate(
        ["treatment", "authorization", "payment", "operations", "emergency"] * 2)]
    bundles = [{"id": f"bundle{i:02d}", "purpose": purposes[i % 10]["id"],
                "partner_types": [PARTNER_TYPES[i % len(PARTNER_TYPES)]],
                "required": [f"g{i % GROUPS:02d}.*"], "optional": [f"g{(i + 1) % GROUPS:02d}.f1"],
                "prohibited": [f"g{(i + 2) % GROUPS:02d}.*"]} for i in range(20)]
    return {
        "programs": [{"id": p, "name": p.title()} for p in programs],
        "fields": fields,
        "purposes": purposes,
        "roles": roles,
        "users": users,
        "participants": participants,
        "involvements": _involvements(rng, int(200_000 * fraction), users, roles, participants,
                                      today),
        "partners": partners,
        "bundles": bundles,
        "consents": _consents(rng, participants, partners, purposes, today),
    }


def _sensitivity(rng: random.Random) -> str:
    roll = rng.random()
    return "normal" if roll < 0.6 else "restricted" if roll < 0.9 else "very_restricted"


def _role(rng: random.Random, i: int, scope: str) -> dict:
    grants = {}
    for action, count in zip(ACTIONS, (8, 3, 4), strict=True):
        groups = rng.sample(range(GROUPS), count)
        grants[action] = [f"g{g:02d}.*" for g in groups] + [f"g{rng.randrange(GROUPS):02d}.f0"]
    return {"id": f"role{i:02d}", "scope": scope, "elevated": scope != "case",
            "grants": grants}


def _users(rng: random.Random, count: int, roles: list[dict], programs: list[str]) -> list:
    users = []
    for i in range(count):
        held = rng.sample(roles, rng.choice([1, 1, 2]))
        users.append({"id": f"u{i:05d}", "roles": [
            {"role": r["id"]} if r["scope"] == "organization"
            else {"role": r["id"], "program": rng.choice(programs)} for r in held]})
    return users


def _involvements(rng: random.Random, count: int, users: list, roles: list, participants: list,
                  today: date) -> list[dict]:
    case_roles = {r["id"] for r in roles if r["scope"] == "case"}
    workers = [(u["id"], a["program"]) for u in users for a in u["roles"]
               if a["role"] in case_roles]
    by_program: dict[str, list[str]] = {}
    for p in participants:
        for program in p["programs"]:
            by_program.setdefault(program, []).append(p["id"])
    seen, out = set(), []
    while len(out) < count and workers:
        user, program = rng.choice(workers)
        participant = rng.choice(by_program[program])
        if (user, participant, program) in seen:
            continue
        seen.add((user, participant, program))
        start = today - timedelta(days=rng.randrange(30, 700))
        row = {"user": user, "participant": participant, "program": program,
               "from": start.isoformat()}
        if rng.random() < 0.3:
            row["until"] = (start + timedelta(days=rng.randrange(30, 900))).isoformat()
        out.append(row)
    return out


def _consents(rng: random.Random, participants: list, partners: list, purposes: list,
              today: date) -> list[dict]:
    out = []
    for p in participants:
        start = today - timedelta(days=rng.randrange(1, 400))
        row = {"participant": p["id"], "purposes": [rng.choice(purposes)["id"]],
               "fields": [f"g{rng.randrange(GROUPS):02d}.*" for _ in range(3)],
               "from": start.isoformat()}
        if rng.random() < 0.5:
            row["partners"] = [rng.choice(partners)["id"]]
        else:
            row["partner_types"] = [rng.choice(PARTNER_TYPES)]
        if rng.random() < 0.3:
            row["exclude_labels"] = [rng.choice(LABELS)]
        if rng.random() < 0.4:
            row["until"] = (start + timedelta(days=rng.randrange(30, 800))).isoformat()
        out.append(row)
    return out
