"""Need-to-Know against a local Cerbos PDP: same organisation, same 20-field view requests.

    .venv/bin/python bench/peer_compare.py [--backend sqlite|postgres] [--n 3000] [--threads 4]
        [--worker sync|gthread] [--durability fsync|commit]

Loads the demo organisation into a fresh database and serves it with gunicorn (one worker: sync,
which closes every connection, or gthread with 4 threads, which keeps them alive as Cerbos
does); translates the same org into a Cerbos resource policy and serves it with Cerbos on
loopback; sends both the same requests, interleaved, over reused HTTP connections, and checks
that every answer pair allows the same fields. See bench/peer/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from bench.harness import (  # noqa: E402
    Client,
    database,
    figures,
    free_port,
    run,
    serve_ours,
    start,
)
from governance.demo import build_demo_org  # noqa: E402
from governance.policy.patterns import expand  # noqa: E402

CERBOS_HOME = ROOT / "bench" / "peer" / ".cerbos"
CERBOS_PKG = "@cerbos/cerbos-linux-x64"
PG = "postgresql://postgres@127.0.0.1:5432"
ACTIONS = ("view", "export", "disclose")
WIDTH = 20  # fields per request


def cerbos_binary() -> Path:
    """The binary of the npm package, installed on first use (0.55, else the newest 0.x)."""
    package = CERBOS_HOME / "node_modules" / CERBOS_PKG
    for spec in ("0.55", "0"):
        if package.is_dir():
            break
        done = subprocess.run(["npm", "install", "--prefix", str(CERBOS_HOME),
                               f"{CERBOS_PKG}@{spec}"], capture_output=True, text=True)
    if not package.is_dir():
        sys.exit(f"npm install {CERBOS_PKG} failed:\n{done.stderr}")
    return next(p for p in package.iterdir() if p.is_file() and os.access(p, os.X_OK))


def active(row: dict, today: date) -> bool:
    """Org-file dates are whole days: a row counts from its `from` day through its `until` day."""
    start, end = row.get("from"), row.get("until")
    return ((start is None or date.fromisoformat(start[:10]) <= today)
            and (end is None or today <= date.fromisoformat(end[:10])))


def cerbos_policy(org: dict) -> dict:
    """One rule per (role, action): the grant patterns expanded to `action:field` actions.
    Every rule needs an active subject and a participant enrolled in the program (rule 1);
    program and case roles need `role@program` among the principal's assignments (rule 2);
    case roles also need the principal on the participant's case team (rule 3)."""
    catalogue = [f["id"] for f in org["fields"]]
    rules = []
    for role in org["roles"]:
        rid, scope = role["id"], role["scope"]
        terms = ["V.eligible"]
        if scope != "organization":
            terms.append(f'("{rid}@" + R.attr.program) in P.attr.assignments')
        if scope == "case":
            terms.append("P.id in R.attr.case_team")
        for action in ACTIONS:
            fields, unmatched = expand(role["grants"].get(action, []), catalogue)
            assert not unmatched, (rid, action, unmatched)
            if fields:
                rules.append({"name": f"{rid}-{action}", "effect": "EFFECT_ALLOW",
                              "roles": [rid], "actions": [f"{action}:{f}" for f in fields],
                              "condition": {"match": {"all": {"of": [{"expr": t}
                                                                     for t in terms]}}}})
    eligible = "P.attr.active == true && R.attr.program in R.attr.enrolled"
    return {"apiVersion": "api.cerbos.dev/v1",
            "resourcePolicy": {"resource": "participant_record", "version": "default",
                               "variables": {"local": {"eligible": eligible}},
                               "rules": rules}}


def cases(org: dict, today: date) -> list[tuple[str, str, str]]:
    """(user, participant, program) from real work: each user's first open case and first
    closed-only case, one participant per assignment's program, and now and then a program
    the participant is not enrolled in."""
    enrolled = {p["id"]: p["programs"] for p in org["participants"]}
    pids = sorted(enrolled)
    out = []
    for k, user in enumerate(org["users"]):
        mine = [(i["participant"], i["program"], active(i, today))
                for i in org["involvements"] if i["user"] == user["id"]]
        open_ = sorted({(p, prog) for p, prog, live in mine if live})
        closed = [(p, prog) for p, prog, _ in mine if (p, prog) not in open_]
        out += [(user["id"], *pair) for pair in open_[:1] + closed[:1]]
        for a in user["roles"]:
            program = a.get("program")
            pool = [p for p in pids if program is None or program in enrolled[p]]
            pid = pool[(k * 7) % len(pool)]
            out.append((user["id"], pid, program or enrolled[pid][0]))
            if program and k % 8 == 0:
                outside = [p for p in pids if program not in enrolled[p]]
                out.append((user["id"], outside[k % len(outside)], program))
    return out


def request_pairs(org: dict, today: date) -> list[tuple[bytes, bytes]]:
    """(our body, Cerbos body) per case; each case asks a different 20-field window."""
    catalogue = [f["id"] for f in org["fields"]]
    users = {u["id"]: u for u in org["users"]}
    enrolled = {p["id"]: p["programs"] for p in org["participants"]}
    team: dict[tuple[str, str], set[str]] = {}
    for inv in org["involvements"]:
        if active(inv, today):
            team.setdefault((inv["participant"], inv["program"]), set()).add(inv["user"])
    pairs = []
    for j, (uid, pid, program) in enumerate(cases(org, today)):
        fields = [catalogue[(j * 11 + x) % len(catalogue)] for x in range(WIDTH)]
        ours = {"subject": uid, "action": "view", "participant": pid, "program": program,
                "fields": fields}
        live = [a for a in users[uid]["roles"] if active(a, today)]
        principal = {"id": uid, "roles": sorted({a["role"] for a in live}) or ["none"],
                     "attr": {"active": users[uid].get("active", True),
                              "assignments": [f"{a['role']}@{a.get('program', '*')}"
                                              for a in live]}}
        resource = {"kind": "participant_record", "id": pid,
                    "attr": {"program": program, "enrolled": enrolled[pid],
                             "case_team": sorted(team.get((pid, program), ()))}}
        theirs = {"requestId": f"r{j}", "principal": principal, "resources": [
            {"actions": [f"view:{f}" for f in fields], "resource": resource}]}
        pairs.append((json.dumps(ours).encode(), json.dumps(theirs).encode()))
    return pairs


def serve_cerbos(stack: ExitStack, tmp: Path, binary: Path, org: dict) -> int:
    """Write the translated policy and a loopback config (disk store, no audit); start Cerbos."""
    policies, port = tmp / "policies", free_port()
    policies.mkdir()
    (policies / "participant_record.json").write_text(json.dumps(cerbos_policy(org), indent=1))
    config = {"server": {"httpListenAddr": f"127.0.0.1:{port}",
                         "grpcListenAddr": f"127.0.0.1:{free_port()}"},
              "storage": {"driver": "disk",
                          "disk": {"directory": str(policies), "watchForChanges": False}},
              "audit": {"enabled": False}, "telemetry": {"disabled": True}}
    (tmp / "cerbos.yaml").write_text(json.dumps(config))  # JSON is YAML
    start(stack, [str(binary), "server", f"--config={tmp / 'cerbos.yaml'}",
                  f"--debug-listen-addr=127.0.0.1:{free_port()}", "--log-level=warn"],
          tmp / "cerbos.log", port, "/_cerbos/health",
          {**os.environ, "CERBOS_NO_TELEMETRY": "1"})
    return port


def compare(sides: dict, pairs: list[tuple[bytes, bytes]], warmup: int, n: int) -> dict:
    """Interleaved run (ours, Cerbos, ours, ...); every answer pair must allow the same fields."""
    ours, theirs = Client(*sides["ours"]), Client(*sides["cerbos"])
    out: dict = {"ours": [], "cerbos": [], "mismatches": 0, "reasons": Counter()}
    for i in range(warmup + n):
        our_body, their_body = pairs[i % len(pairs)]
        t_ours, a = ours.post(our_body)
        t_theirs, b = theirs.post(their_body)
        if i >= warmup:
            out["ours"].append(t_ours)
            out["cerbos"].append(t_theirs)
        answer = json.loads(a)
        out["reasons"].update(answer["denied"].values())
        out["reasons"]["allowed"] += len(answer["allowed"])
        got_ours = set(answer["allowed"])
        got_theirs = {action.split(":", 1)[1] for action, effect
                      in json.loads(b)["results"][0]["actions"].items()
                      if effect == "EFFECT_ALLOW"}
        if got_ours != got_theirs:
            out["mismatches"] += 1
            if out["mismatches"] <= 5:
                print(f"MISMATCH {our_body.decode()}: ours only {sorted(got_ours - got_theirs)}"
                      f", Cerbos only {sorted(got_theirs - got_ours)}")
    out["closed"] = ours.closed_by_server
    return out


def concurrent(side: tuple, bodies: list[bytes], threads: int) -> float:
    """Requests per second with `threads` clients, each on its own connection."""
    def send(part: list[bytes]) -> None:
        client = Client(*side)
        for body in part:
            client.post(body)
    with ThreadPoolExecutor(threads) as pool:
        began = time.perf_counter()
        list(pool.map(send, [bodies[i::threads] for i in range(threads)]))
        return len(bodies) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--n", type=int, default=3000, help="measured requests per side")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--threads", type=int, default=4, help="concurrent run; 0 skips it")
    parser.add_argument("--worker", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--durability", choices=["fsync", "commit"], default="fsync")
    args = parser.parse_args()
    gunicorn = ("-w", "1") if args.worker == "sync" else ("-w", "1", "-k", "gthread",
                                                           "--threads", "4")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # still clean up
    binary = cerbos_binary()
    version = run([str(binary), "--version"], dict(os.environ)).split()[0]
    today = date.today()
    org = build_demo_org(today=today)  # the same org `governance demo` loads today
    pairs = request_pairs(org, today)
    with ExitStack() as stack:
        tmp = Path(tempfile.mkdtemp(prefix="ntk_peer_"))
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        port, key = serve_ours(stack, tmp, database(stack, args.backend, tmp), gunicorn=gunicorn,
                               env={"GOVERNANCE_AUDIT_DURABILITY": args.durability})
        sides = {"ours": (port, "/api/v1/decisions", {"Authorization": f"Bearer {key}"}),
                 "cerbos": (serve_cerbos(stack, tmp, binary, org), "/api/check/resources", {})}
        res = compare(sides, pairs, args.warmup, args.n)
        rows = {"need-to-know": figures(res["ours"]), "cerbos": figures(res["cerbos"])}
        for k, (side, row) in enumerate(zip(sides.values(), rows.values(), strict=True)):
            if args.threads:
                bodies = [pairs[i % len(pairs)][k] for i in range(args.n)]
                row.append(concurrent(side, bodies, args.threads))
    rows["ours/cerbos"] = [o / c for o, c in zip(*rows.values(), strict=True)]
    total = args.warmup + args.n
    print(f"Need-to-Know ({args.backend}, gunicorn {' '.join(gunicorn)}, audit durability "
          f"{args.durability}) vs Cerbos {version}: demo org, {len(org['fields'])} "
          f"fields, {len(pairs)} (user, participant, program) cases as {WIDTH}-field view "
          f"requests, interleaved, {args.n} measured per side after {args.warmup} warm-up.")
    print("Cerbos has no store: each request carries the principal's live role@program "
          "assignments and the\nparticipant's enrolled programs and active case team (the usual "
          "Cerbos deployment). Need-to-Know\nlooks them up itself and writes a durable audit "
          "row per decision; Cerbos audit is off.")
    if res["closed"]:
        print(f"gunicorn's sync worker closed {res['closed']} of {total} connections (no "
              "keep-alive): ours pays a TCP connect per request.")
    print(f"answers compared: {total}, mismatches: {res['mismatches']}; fields by our reason: "
          + ", ".join(f"{r} {c}" for r, c in res["reasons"].most_common()))
    heads = ["median ms", "p99 ms", "seq req/s", f"{args.threads}-thread req/s"]
    print(f"{'':13}" + "".join(f"{h:>16}" for h in heads[:len(rows["cerbos"])]))
    for label, row in rows.items():
        cells = [f"{v:.2f}" if "/" in label else f"{v:.3f}" if k < 2 else f"{v:.0f}"
                 for k, v in enumerate(row)]
        print(f"{label:13}" + "".join(f"{c:>16}" for c in cells))
    met = rows["need-to-know"][0] <= rows["cerbos"][0]
    print(f"goal, median at least as fast as Cerbos: {'met' if met else 'NOT met'}")
    if res["mismatches"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
