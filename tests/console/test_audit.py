"""The Audit page: events filtered by user, participant, kind and time in keyset pages; one
event in full (a decision's request, answer and basis); the integrity check, which finds a
tampered row; a CSV of the filtered events; every reading audited once; auditors only."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from governance import audit
from governance.extension import state
from governance.models import AuditEvent
from governance.operations.users import DisableUser
from tests.conftest import NOW, new_key
from tests.console.conftest import CONSOLE_USERS, console_org
from tests.signin.conftest import ROOMY_LIMITS, Clock, csrf_token, set_password, sign_in
from tests.unit.test_audit_integrity import KEY, raw_store

PAGE = "/console/audit"
DECISION = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
            "fields": ["identity.name", "clinical.diagnosis"]}


def decide(app, times: int = 1, **request) -> list[str]:
    """Decisions through the real API; their ids."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {new_key(app, 'decide')}"
    ids = []
    for _ in range(times):
        response = client.post("/api/v1/decisions", json={**DECISION, **request})
        assert response.status_code == 200, response.get_data(as_text=True)
        ids.append(response.get_json()["decision_id"])
    return ids


def events(app, kind: str | None = None) -> list[AuditEvent]:
    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.seq)
        if kind:
            query = query.where(AuditEvent.kind == kind)
        found = state(app).session.scalars(query).all()
        state(app).session.expunge_all()
        return found


def listed(page: str) -> list[int]:
    """The event numbers a list page shows, in its order."""
    return [int(n) for n in re.findall(r'aria-label="Event (\d+) details"', page)]


def shown(app, page: str) -> list[AuditEvent]:
    by_seq = {e.seq: e for e in events(app)}
    return [by_seq[seq] for seq in listed(page)]


def test_the_list_shows_the_newest_events_first_with_what_happened(console_app, signed_in):
    decide(console_app)
    cora = signed_in("cora")
    newest = [e.seq for e in events(console_app)][::-1][:50]
    page = cora.get(PAGE).get_data(as_text=True)  # (its own audit.viewed row comes after)
    assert listed(page) == newest
    assert "partial: view 2 fields" in page
    assert "Download CSV" in page and 'value="Check integrity"' in page
    for label in ("User", "Participant", "Kind", "From", "Until"):
        assert re.search(rf"<label for=\"\w+\">{label}</label>", page), label


def test_filters_by_user_as_actor_or_subject(console_app, signed_in):
    decide(console_app)
    with console_app.app_context():  # ada acts on nick: one event, two users
        DisableUser("nick", actor="ada", reason="left the agency", now=NOW).execute(
            state(console_app).session)
    cora = signed_in("cora")
    rows = shown(console_app, cora.get(PAGE + "?user=ada").get_data(as_text=True))
    assert rows and all("ada" in (e.actor, e.subject) for e in rows)
    assert "ada" in {e.actor for e in rows} and "ada" in {e.subject for e in rows}
    assert len(rows) == len([e for e in events(console_app) if "ada" in (e.actor, e.subject)])
    nick = shown(console_app, cora.get(PAGE + "?user=nick").get_data(as_text=True))
    assert nick[0].kind == "user.disabled" and nick[0].actor == "ada"
    assert rows[0].seq == nick[0].seq


def test_filters_by_participant_kind_and_time(console_app, signed_in):
    decide(console_app)
    console_app.clock.advance(hours=2)
    decide(console_app, participant="p-200")
    cora = signed_in("cora")
    by_participant = shown(console_app, cora.get(PAGE + "?participant=p-200").get_data(
        as_text=True))
    assert by_participant[0].kind == "decision"
    assert {e.participant for e in by_participant} == {"p-200"}
    assert len(by_participant) == len([e for e in events(console_app)
                                       if e.participant == "p-200"])
    by_kind = shown(console_app, cora.get(PAGE + "?kind=decision").get_data(as_text=True))
    assert len(by_kind) == 2 and {e.kind for e in by_kind} == {"decision"}
    family = shown(console_app, cora.get(PAGE + "?kind=org.*").get_data(as_text=True))
    assert family and {e.kind.split(".")[0] for e in family} == {"org"}
    later = (NOW + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    recent = shown(console_app, cora.get(f"{PAGE}?kind=decision&since={later}").get_data(
        as_text=True))
    assert [e.participant for e in recent] == ["p-200"]
    earlier = shown(console_app, cora.get(f"{PAGE}?kind=decision&until={later}").get_data(
        as_text=True))
    assert [e.participant for e in earlier] == ["p-100"]
    whole_day = shown(console_app, cora.get(f"{PAGE}?kind=decision&since=2026-11-23"
                                            f"&until=2026-11-23").get_data(as_text=True))
    assert len(whole_day) == 2  # a bare Until date covers that whole day


def test_a_kind_or_a_time_range_is_listed_by_time(console_app, signed_in):
    with console_app.app_context():  # written last, but stamped an hour before the others
        session = state(console_app).session
        audit.append(session, "note", {"n": 1}, at=NOW)
        audit.append(session, "note", {"n": 2}, at=NOW - timedelta(hours=1))
        audit.append(session, "note", {"n": 3}, at=NOW + timedelta(hours=1))
        session.commit()
    notes = events(console_app, "note")
    cora = signed_in("cora")
    expected = [e.seq for e in sorted(notes, key=lambda e: e.at, reverse=True)]
    assert listed(cora.get(PAGE + "?kind=note").get_data(as_text=True)) == expected
    window = cora.get(f"{PAGE}?since=2026-11-23T10:30&until=2026-11-23T11:30").get_data(
        as_text=True)
    assert listed(window) == [notes[1].seq]


@pytest.mark.parametrize(("query", "message"), [
    ("since=yesterday", "From: &#39;yesterday&#39; is not a date"),
    ("until=2026-13-01", "Until: &#39;2026-13-01&#39; is not a date"),
    ("since=2026-11-24&until=2026-11-23", "Until: must be later than From"),
    ("kind=no.such", "Kind: no event of kind &#39;no.such&#39; is in the trail"),
    ("user=" + "x" * 201, "User: Field cannot be longer than 200 characters."),
])
def test_invalid_filters_are_a_400_that_names_the_problem(signed_in, query, message):
    response = signed_in("cora").get(f"{PAGE}?{query}")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert message in page and "These filters cannot be used" in page
    assert listed(page) == []


def test_pages_go_older_and_back_newer_by_event_number(console_app, signed_in):
    decide(console_app, times=60)
    cora = signed_in("cora")
    first = cora.get(PAGE + "?kind=decision").get_data(as_text=True)
    newest = listed(first)
    assert len(newest) == 50
    older_link = re.search(r'href="([^"]+)" rel="next">Older events', first).group(1)
    assert older_link == f"{PAGE}?kind=decision&amp;before={newest[-1]}"
    second = cora.get(older_link.replace("&amp;", "&")).get_data(as_text=True)
    assert listed(second) == sorted(listed(second), reverse=True)
    assert len(listed(second)) == 10 and max(listed(second)) < min(newest)
    assert "Older events" not in second
    newer_link = re.search(r'href="([^"]+)" rel="prev">', second).group(1)
    back = cora.get(newer_link.replace("&amp;", "&")).get_data(as_text=True)
    assert listed(back) == newest
    assert cora.get(PAGE + "?before=-1").status_code == 400


def test_a_decision_shows_its_request_answer_and_basis_per_field(console_app, signed_in):
    [decision_id] = decide(console_app, purpose="care_coordination",
                           justification="weekly case review")
    row = next(e for e in events(console_app, "decision") if e.ref == decision_id)
    cora = signed_in("cora")
    page = cora.get(f"{PAGE}/events/{row.seq}").get_data(as_text=True)
    assert f"Event {row.seq}: decision" in page
    request = re.search(r'id="request-heading".*?</section>', page, re.S).group(0)
    for label, value in (("User", "alice"), ("Action", "view"), ("Participant", "p-100"),
                         ("Program", "housing"),
                         ("Fields asked for", "identity.name, clinical.diagnosis"),
                         ("Purpose", "care_coordination"),
                         ("Justification", "weekly case review")):
        assert f"<dt>{label}</dt><dd>{value}</dd>" in request, label
    assert '<span class="outcome outcome-partial">partial</span>' in page
    assert decision_id in page
    identity = re.search(r"<code>identity.name</code></th>(.*?)</tr>", page, re.S).group(1)
    assert "allowed" in identity and "case_manager" in identity  # the grant that released it
    diagnosis = re.search(r"<code>clinical.diagnosis</code></th>(.*?)</tr>", page,
                          re.S).group(1)
    assert "denied" in diagnosis and "no_role_grant" in diagnosis
    assert "no role of the user grants this action" in diagnosis
    assert row.hash in page and row.prev_hash in page
    assert cora.get(f"{PAGE}/events/999999").status_code == 404


def test_other_events_show_their_details(console_app, signed_in):
    change = next(e for e in events(console_app, "org.change"))
    page = signed_in("cora").get(f"{PAGE}/events/{change.seq}").get_data(as_text=True)
    assert "<dt>section</dt>" in page and "<dt>op</dt><dd>create</dd>" in page


def test_the_csv_has_exactly_the_filtered_events(console_app, signed_in):
    decide(console_app, times=3)
    decide(console_app, participant="p-200")
    cora = signed_in("cora")
    response = cora.get(PAGE + "/export.csv?kind=decision&participant=p-100")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = [e for e in events(console_app, "decision") if e.participant == "p-100"]
    assert [int(r["seq"]) for r in table] == [e.seq for e in expected]
    assert all(r["kind"] == "decision" and r["subject"] == "alice" for r in table)
    assert json.loads(table[0]["payload"])["request"]["fields"] == DECISION["fields"]
    assert table[0]["hash"] == expected[0].hash
    exported = events(console_app, "audit.exported")[-1]
    assert exported.actor == "cora"
    assert json.loads(exported.payload)["filters"] == {"participant": "p-100",
                                                       "kind": "decision"}


def test_a_csv_cell_is_never_a_formula(console_app, signed_in):
    decide(console_app, purpose="care_coordination", justification="=HYPERLINK(\"x\")")
    with console_app.app_context():
        session = state(console_app).session
        audit.append(session, "note", {"text": "x"}, actor="=cmd|' /C calc'!A0", at=NOW)
        session.commit()
    table = list(csv.reader(io.StringIO(signed_in("cora").get(
        PAGE + "/export.csv?kind=note").get_data(as_text=True))))
    assert table[1][3] == "'=cmd|' /C calc'!A0"


def test_reading_the_trail_is_audited_once_per_page_and_names_the_filters(
        console_app, signed_in):
    decide(console_app, times=5)
    cora = signed_in("cora")
    before = len(events(console_app, "audit.viewed"))
    cora.get(PAGE + "?kind=decision&user=alice")
    viewed = events(console_app, "audit.viewed")
    assert len(viewed) == before + 1  # one row for the page, not one per event shown
    payload = json.loads(viewed[-1].payload)
    assert viewed[-1].actor == "cora"
    assert payload["filters"] == {"kind": "decision", "user": "alice"}
    assert payload["shown"] == 5
    seq = events(console_app, "decision")[0].seq
    cora.get(f"{PAGE}/events/{seq}")
    assert json.loads(events(console_app, "audit.viewed")[-1].payload) == {
        "page": "event", "event": seq}


def test_the_integrity_check_reports_an_intact_unkeyed_chain_and_is_recorded(
        console_app, signed_in):
    cora = signed_in("cora")
    response = cora.post(PAGE + "/verify", data={"csrf_token": csrf_token(cora, PAGE)})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The audit trail is intact." in page and "Not keyed." in page
    verified = events(console_app, "audit.verified")[-1]
    assert verified.actor == "cora" and json.loads(verified.payload)["intact"] is True
    assert "Intact" in cora.get(PAGE).get_data(as_text=True)  # the last check, on the list


@pytest.fixture
def keyed_console(make_app, backend):
    """The console org on a chain keyed with GOVERNANCE_AUDIT_KEY."""
    from governance.operations.apply_organisation import ApplyOrganisation
    from governance.orgfile import validate

    app = make_app(backend, GOVERNANCE_AUDIT_KEY=KEY, **ROOMY_LIMITS)
    with app.app_context():
        ApplyOrganisation(validate(console_org()), actor="test", now=NOW).execute(
            state(app).session)
    app.clock = Clock()
    state(app).clock = app.clock
    for user in CONSOLE_USERS:
        set_password(app, user)
    return app


def test_the_integrity_check_finds_a_tampered_row_and_names_it(keyed_console, backend):
    decide(keyed_console, times=2)
    target = events(keyed_console, "decision")[0].seq
    with raw_store(keyed_console, backend) as session:
        session.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = :s"),
                        {"s": target})
    cora = keyed_console.test_client()
    sign_in(cora, "cora")
    response = cora.post(PAGE + "/verify", data={"csrf_token": csrf_token(cora, PAGE)})
    page = response.get_data(as_text=True)
    assert "The audit trail is broken: 1 problem found" in page
    assert f">Event {target}</a>: content was edited (hash mismatch)" in page
    assert "Keyed from the first event" in page
    verified = events(keyed_console, "audit.verified")[-1]
    assert json.loads(verified.payload)["first_problems"] == [
        f"row {target}: content was edited (hash mismatch)"]
    assert "<strong>Broken</strong> when last checked" in cora.get(PAGE).get_data(
        as_text=True)


def test_the_check_needs_its_csrf_token(console_app, signed_in):
    before = len(events(console_app, "audit.verified"))
    assert signed_in("cora").post(PAGE + "/verify").status_code == 400
    assert len(events(console_app, "audit.verified")) == before


def test_only_auditors_may_read_the_trail(console_app, signed_in):
    seq = events(console_app)[0].seq
    for user in ("ada", "alice"):
        client = signed_in(user)
        for path in (PAGE, f"{PAGE}/events/{seq}", PAGE + "/export.csv"):
            assert client.get(path).status_code == 403, (user, path)
        token = csrf_token(client, "/console/")
        assert client.post(PAGE + "/verify", data={"csrf_token": token}).status_code == 403
    assert not events(console_app, "audit.viewed") and not events(console_app,
                                                                   "audit.verified")
    assert console_app.test_client().get(PAGE).status_code == 302
