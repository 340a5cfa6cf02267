"""The Disclosures page: record what was sent under one's own disclose decision (problems beside
the fields, nothing written), the cover sheet to print, the list of disclosures filtered and
paged, the accounting per participant with a CSV safe in a spreadsheet, the sampling audit and
its findings with the emergency reviews closed (never one's own); no CSRF token, 400 and
nothing changed; without the power, 403."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, Disclosure
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from tests.conftest import NOW
from tests.console.conftest import console_org
from tests.console.test_audit import decide
from tests.signin.conftest import csrf_token

PAGE = "/console/disclosures"
RECORD = PAGE + "/record"
REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "fields": ["identity.name", "contact.phone",
                                             "risk.safety_note", "clinical.diagnosis"],
            "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard"}
EMERGENCY = {"subject": "dana", "action": "disclose", "participant": "p-100",
             "program": "behavioral_health", "fields": ["identity.name"],
             "purpose": "emergency", "recipient": "riverside_clinic",
             "justification": "overdose"}
LEGAL = {"subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
         "fields": ["identity.name"], "purpose": "required_by_law", "recipient": "county_dhs",
         "justification": "subpoena 42"}


def rows(app, model=Disclosure) -> list:
    with app.app_context():
        found = state(app).session.scalars(select(model)).all()
        state(app).session.expunge_all()
        return found


def audit_count(app) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(AuditEvent))


def record(client, decision_id: str, **data):
    token = csrf_token(client, f"{RECORD}?decision={decision_id}")
    return client.post(RECORD, data={"decision": decision_id, "csrf_token": token, **data})


def sent(app, signed_in, request: dict, channel: str, fields: list[str]) -> Disclosure:
    """A disclosure recorded through the form by the decision's own user."""
    decision_id, = decide(app, **request)
    answer = record(signed_in(request["subject"]), decision_id, channel=channel, fields=fields)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return next(d for d in rows(app) if d.decision_id == decision_id)


def error_of(page: str, name: str) -> str:
    found = re.search(rf'id="{name}-error">([^<]*)<', page)
    assert found, page
    return found.group(1).replace("&#39;", "'")


# -- recording and the cover sheet ----------------------------------------------------------
def test_record_what_i_sent_and_print_its_cover_sheet(console_app, signed_in):
    decision_id, = decide(console_app, **REFERRAL)
    alice = signed_in("alice")  # a case manager: no console power, her own decision
    form = alice.get(f"{RECORD}?decision={decision_id}").get_data(as_text=True)
    assert 'name="fields" value="identity.name" checked' in form
    assert 'name="channel" value="secure_portal" checked' in form
    assert "clinical.diagnosis</code>: the bundle prohibits this field" in form
    answer = record(alice, decision_id, channel="secure_portal",
                    fields=["identity.name", "contact.phone"])
    assert answer.status_code == 302
    row, = rows(console_app)
    assert (row.actor, row.fields, row.channel) == ("alice", ["contact.phone", "identity.name"],
                                                   "secure_portal")
    event = next(e for e in rows(console_app, AuditEvent) if e.kind == "disclosure.recorded")
    assert event.actor == "alice" and payload_of(event)["via"] == "console"
    sheet = alice.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Disclosure cover sheet" in sheet and "City Housing Authority" in sheet
    assert "1 Civic Plaza" in sheet and "Participant consent cns" in sheet
    assert "<td>risk.safety_note</td><td>allowed, but not sent</td>" in sheet
    assert "print" in sheet.lower() and 'href="/console/disclosures"' not in sheet
    text = alice.get(answer.headers["Location"] + "?format=text")
    assert "attachment" in text.headers["Content-Disposition"]
    assert b"risk.safety_note: not_sent" in text.data


@pytest.mark.parametrize("data, field, message", [
    ({"channel": "secure_portal"}, "fields", "choose at least one field that was sent"),
    ({"channel": "secure_portal", "fields": ["clinical.diagnosis"]}, "fields",
     "fields the decision did not allow: clinical.diagnosis"),
    ({"channel": "email", "fields": ["identity.name"]}, "channel",
     "approved: secure_portal"),
    ({"fields": ["identity.name"]}, "channel", "choose how it was sent"),
])
def test_a_bad_record_is_refused_beside_its_field(console_app, signed_in, data, field,
                                                  message):
    decision_id, = decide(console_app, **REFERRAL)
    alice = signed_in("alice")
    trail = audit_count(console_app)
    answer = record(alice, decision_id, **data)
    page = answer.get_data(as_text=True)
    assert answer.status_code in (400, 422), page
    assert "The disclosure was not recorded" in page and message in error_of(page, field)
    assert rows(console_app) == [] and audit_count(console_app) == trail


def test_an_unknown_or_unusable_decision_is_named(console_app, signed_in):
    alice = signed_in("alice")
    page = alice.get(f"{RECORD}?decision=dec_nope")
    assert page.status_code == 400
    assert "no decision 'dec_nope' is in the audit trail" in error_of(page.get_data(
        as_text=True), "decision")
    view_id, = decide(console_app)  # alice's view decision
    page = alice.get(f"{RECORD}?decision={view_id}").get_data(as_text=True)
    assert "this decision was for view, not for a disclosure" in error_of(page, "decision")
    assert record(alice, view_id, channel="x", fields=["identity.name"]).status_code == 400
    assert alice.post(RECORD, data={"csrf_token": csrf_token(alice, RECORD)}).status_code == 400
    assert rows(console_app) == []


def test_nobody_records_what_another_user_sent(console_app, signed_in):
    decision_id, = decide(console_app, **REFERRAL)
    nick = signed_in("nick")  # another case manager: told nothing of alice's decision
    page = nick.get(f"{RECORD}?decision={decision_id}").get_data(as_text=True)
    assert "made for another user" in error_of(page, "decision") and "p-100" not in page
    assert record(nick, decision_id, channel="secure_portal",
                  fields=["identity.name"]).status_code == 400
    cora = signed_in("cora")  # a compliance officer sees it, and may not record it either
    page = cora.get(f"{RECORD}?decision={decision_id}").get_data(as_text=True)
    assert "made for alice: only they may record" in error_of(page, "decision")
    assert "City Housing Authority" in page
    assert record(cora, decision_id, channel="secure_portal",
                  fields=["identity.name"]).status_code == 400
    assert rows(console_app) == []


def test_a_decision_already_recorded_points_to_its_cover_sheet(console_app, signed_in):
    first = sent(console_app, signed_in, REFERRAL, "secure_portal", ["identity.name"])
    alice = signed_in("alice")
    page = alice.get(f"{RECORD}?decision={first.decision_id}").get_data(as_text=True)
    assert "already recorded" in page and f"/disclosures/{first.id}/cover-sheet" in page
    assert record(alice, first.decision_id, channel="secure_portal",
                  fields=["identity.name"]).status_code == 400
    assert len(rows(console_app)) == 1


def test_a_cover_sheet_is_for_its_sender_and_those_who_oversee(console_app, signed_in):
    row = sent(console_app, signed_in, REFERRAL, "secure_portal", ["identity.name"])
    url = f"{PAGE}/{row.id}/cover-sheet"
    assert signed_in("nick").get(url).status_code == 403
    assert signed_in("cora").get(url).status_code == 200
    assert signed_in("cora").get(f"{PAGE}/dsc_nope/cover-sheet").status_code == 404


# -- the list -----------------------------------------------------------------------------
def test_the_list_filters_by_participant_recipient_purpose_review_and_accountable(
        console_app, signed_in):
    referral = sent(console_app, signed_in, REFERRAL, "secure_portal", ["identity.name"])
    emergency = sent(console_app, signed_in, EMERGENCY, "direct_message", ["identity.name"])
    legal = sent(console_app, signed_in, LEGAL, "sftp", ["identity.name"])
    cora = signed_in("cora")

    def listed(query: str = "") -> set[str]:
        page = cora.get(PAGE + query).get_data(as_text=True)
        return set(re.findall(r'/disclosures/(dsc[^/"]+)/cover-sheet', page))

    assert listed() == {referral.id, emergency.id, legal.id}
    assert listed("?recipient=city_housing") == {referral.id}
    assert listed("?purpose=emergency") == {emergency.id}
    assert listed("?review=pending") == {emergency.id}
    assert listed("?accountable=true") == {emergency.id, legal.id}
    assert listed("?sent_by=rita") == {legal.id}
    assert listed("?participant=p-200") == set()
    bad = cora.get(PAGE + "?recipient=nowhere")
    assert bad.status_code == 400 and "choose a recipient from the list" in bad.get_data(
        as_text=True)
    page = cora.get(PAGE).get_data(as_text=True)
    assert "1 emergency disclosure awaiting review" in " ".join(
        re.sub(r"<[^>]+>", " ", page).split())


# -- accounting -----------------------------------------------------------------------------
def test_the_accounting_and_its_csv_download(console_app, signed_in):
    org = console_org()  # a partner whose name and address a spreadsheet would run
    for partner in org["partners"]:
        if partner["id"] == "county_dhs":
            partner["name"], partner["address"] = "=HYPERLINK(\"http://x\")", "@SUM(1+1)"
    with console_app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(
            state(console_app).session)
    sent(console_app, signed_in, REFERRAL, "secure_portal", ["identity.name"])
    legal = sent(console_app, signed_in, LEGAL, "sftp", ["identity.name"])
    cora = signed_in("cora")
    page = cora.get(PAGE + "/accounting?participant=p-100").get_data(as_text=True)
    assert "p-100: 2 disclosures" in page and "Download CSV" in page
    page = cora.get(PAGE + "/accounting?participant=p-100&accountable=true").get_data(
        as_text=True)
    assert "p-100: 1 disclosure owed an accounting" in page
    link = re.search(r'<a href="([^"]+)" download>Download CSV</a>', page).group(1)
    download = cora.get(link.replace("&amp;", "&"))
    assert download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"] == 'attachment; filename="accounting-p-100.csv"'
    table = list(csv.reader(io.StringIO(download.get_data(as_text=True))))
    assert table[0] == ["date", "recipient", "recipient_address", "information", "purpose",
                        "permission", "sent_by", "accountable", "disclosure_id"]
    entry, = table[1:]
    assert entry[1] == "'=HYPERLINK(\"http://x\")" and entry[2] == "'@SUM(1+1)"
    assert entry[5:] == ["legal basis: required_by_law", "rita", "True", legal.id]
    exported = [e for e in rows(console_app, AuditEvent) if e.kind == "accounting.exported"]
    assert [(e.actor, e.participant, payload_of(e)["entries"]) for e in exported] == [
        ("cora", "p-100", 1)]


@pytest.mark.parametrize("query, field, message", [
    ("participant=p-999", "participant", "no participant 'p-999'"),
    ("participant=p-100&since=soon", "since", "a date such as"),
    ("participant=p-100&since=2026-11-02&until=2026-11-01", "until", "must not be before From"),
])
def test_a_bad_accounting_filter_is_named(console_app, signed_in, query, field, message):
    cora = signed_in("cora")
    answer = cora.get(f"{PAGE}/accounting?{query}")
    assert answer.status_code == 400
    assert message in error_of(answer.get_data(as_text=True), field)
    assert cora.get(f"{PAGE}/accounting.csv?{query}").status_code == 400
    assert cora.get(f"{PAGE}/accounting.csv").status_code == 400


def test_the_accounting_window_and_its_pages(console_app, signed_in):
    sent(console_app, signed_in, LEGAL, "sftp", ["identity.name"])
    cora = signed_in("cora")
    assert "p-100: 0 disclosures" in cora.get(
        PAGE + "/accounting?participant=p-100&since=2026-11-24").get_data(as_text=True)
    assert "p-100: 1 disclosure" in cora.get(
        PAGE + "/accounting?participant=p-100&since=2026-11-23&until=2026-11-23").get_data(
        as_text=True)


# -- sampling audit -------------------------------------------------------------------------
def test_the_sampling_audit_finds_the_open_review_and_closes_it(console_app, signed_in):
    emergency = sent(console_app, signed_in, EMERGENCY, "direct_message", ["identity.name"])
    sent(console_app, signed_in, REFERRAL, "secure_portal", ["identity.name"])
    console_app.clock.advance(days=10)  # December: November is last month
    cora = signed_in("cora")
    page = cora.get(PAGE + "/sampling?size=10&seed=1").get_data(as_text=True)
    assert 'value="2026-11"' in page and "2 of 2 disclosures checked" in page
    assert "emergency disclosure whose after-the-fact review is not completed" in page
    assert "Emergency disclosures awaiting review (1)" in page
    form = {"month": "2026-11", "size": "10", "seed": "1",
            "csrf_token": csrf_token(cora, PAGE + "/sampling")}
    answer = cora.post(f"{PAGE}/{emergency.id}/review", data={**form, "finding": ""})
    assert answer.status_code == 400
    assert "required" in error_of(answer.get_data(as_text=True), f"finding-{emergency.id}")
    answer = cora.post(f"{PAGE}/{emergency.id}/review",
                       data={**form, "finding": "justified: overdose risk"})
    assert answer.status_code == 302 and "seed=1" in answer.headers["Location"]
    page = cora.get(answer.headers["Location"]).get_data(as_text=True)
    assert "no exception found" in page and "Review by cora: justified: overdose risk" in page
    event = next(e for e in rows(console_app, AuditEvent) if e.kind == "disclosure.reviewed")
    assert event.actor == "cora" and payload_of(event)["via"] == "console"


def test_nobody_reviews_their_own_emergency_disclosure(console_app, signed_in):
    with console_app.app_context():  # cora sent one herself (set up as a row: she decides none)
        session = state(console_app).session
        session.add(Disclosure(id="dsc_cora", decision_id="dec_x", at=NOW, actor="cora",
                               participant_id="p-100", program_id="housing",
                               recipient_id="riverside_clinic", purpose_id="emergency",
                               basis="emergency", channel="direct_message",
                               fields=["identity.name"], withheld={}, permission={},
                               justification="fall", accountable=True, obligations=[],
                               review_status="pending"))
        session.commit()
    cora = signed_in("cora")
    page = cora.get(PAGE + "/sampling").get_data(as_text=True)
    assert "You sent it: someone else reviews it." in page
    answer = cora.post(f"{PAGE}/dsc_cora/review", data={
        "finding": "fine", "csrf_token": csrf_token(cora, PAGE + "/sampling")})
    assert answer.status_code == 422
    assert "nobody reviews their own emergency disclosure" in answer.get_data(as_text=True)
    assert rows(console_app)[0].review_status == "pending"
    bad = cora.get(PAGE + "/sampling?month=2026-13&size=0")
    assert bad.status_code == 400 and "a month such as 2026-11" in bad.get_data(as_text=True)


# -- refusals -------------------------------------------------------------------------------
def test_a_form_without_its_csrf_token_is_400_and_changes_nothing(console_app, signed_in):
    decision_id, = decide(console_app, **REFERRAL)
    alice = signed_in("alice")
    trail = audit_count(console_app)
    answer = alice.post(RECORD, data={"decision": decision_id, "channel": "secure_portal",
                                      "fields": ["identity.name"]})
    assert answer.status_code == 400 and rows(console_app) == []
    emergency = sent(console_app, signed_in, EMERGENCY, "direct_message", ["identity.name"])
    cora = signed_in("cora")
    trail = audit_count(console_app)
    answer = cora.post(f"{PAGE}/{emergency.id}/review", data={"finding": "ok"})
    assert answer.status_code == 400
    assert rows(console_app)[0].review_status == "pending" and audit_count(console_app) == trail


@pytest.mark.parametrize("user", ["alice", "sam"])
def test_without_the_auditor_or_admin_power_the_pages_are_403(console_app, signed_in, user):
    emergency = sent(console_app, signed_in, EMERGENCY, "direct_message", ["identity.name"])
    client = signed_in(user)
    for path in ("", "/accounting?participant=p-100", "/accounting.csv?participant=p-100",
                 "/sampling"):
        assert client.get(PAGE + path).status_code == 403, path
    answer = client.post(f"{PAGE}/{emergency.id}/review", data={
        "finding": "ok", "csrf_token": csrf_token(client, "/console/")})
    assert answer.status_code == 403 and rows(console_app)[0].review_status == "pending"
    assert client.get(RECORD).status_code == 200  # recording one's own stays open to all
    nav = client.get("/console/").get_data(as_text=True)
    assert ">Disclosures</a>" not in nav


def test_disclosures_are_the_auditors_not_the_administrators(console_app, signed_in):
    """Section 9: the accounting and the sampling audits are the auditor's power."""
    assert ">Disclosures</a>" in signed_in("cora").get("/console/").get_data(as_text=True)
    ada = signed_in("ada")  # an administrator only
    assert ">Disclosures</a>" not in ada.get("/console/").get_data(as_text=True)
    for path in ("", "/accounting?participant=p-100", "/accounting.csv?participant=p-100",
                 "/sampling"):
        assert ada.get(PAGE + path).status_code == 403, path


def test_an_accounting_handed_out_is_dated_in_the_trail(console_app, signed_in):
    sent(console_app, signed_in, LEGAL, "sftp", ["identity.name"])
    console_app.clock.advance(hours=1)
    cora = signed_in("cora")
    assert cora.get(PAGE + "/accounting.csv?participant=p-100").status_code == 200
    event = next(e for e in rows(console_app, AuditEvent) if e.kind == "accounting.exported")
    assert event.at == NOW + timedelta(hours=1)


def test_the_lists_are_paged(console_app, signed_in):
    with console_app.app_context():  # 30 disclosures of p-200 (rows: only the pages are tested)
        session = state(console_app).session
        for i in range(30):
            session.add(Disclosure(
                id=f"dsc_{i:03d}", decision_id=f"dec_{i:03d}", at=NOW - timedelta(hours=i),
                actor="rita", participant_id="p-200", program_id="housing",
                recipient_id="county_dhs", purpose_id="required_by_law",
                basis="required_by_law", channel="sftp", fields=["identity.name"],
                withheld={}, permission={"legal_basis": "required_by_law"},
                justification="order", accountable=True, obligations=[],
                review_status="pending"))
        session.commit()
    cora = signed_in("cora")
    first = cora.get(PAGE).get_data(as_text=True)
    assert "1–25 of 30 disclosures" in first and "Page 1 of 2" in first
    second = cora.get(PAGE + "?page=2").get_data(as_text=True)
    assert re.findall(r'/disclosures/(dsc_\d+)/cover-sheet', second) == [
        f"dsc_{i:03d}" for i in range(25, 30)]
    page = cora.get(PAGE + "/accounting?participant=p-200&page=2").get_data(as_text=True)
    assert "26–30 of 30 entries" in page and "participant=p-200" in page
    reviews = cora.get(PAGE + "/sampling?reviews_page=2").get_data(as_text=True)
    assert "Emergency disclosures awaiting review (30)" in reviews
    assert reviews.count('name="finding"') == 10 and "21–30 of 30" in reviews
