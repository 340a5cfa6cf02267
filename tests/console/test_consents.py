"""The Consents page: find a participant, their consents in plain language with the bundle
preview, a consent's history, the consents to renew; record, amend, renew and revoke through
forms as the signed-in user (audited, via the console), each problem beside its field (400,
nothing written); no CSRF token, 400 and nothing changed; without the power, 403."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from governance.audit import payload_of
from governance.extension import state
from governance.models import AuditEvent, Consent
from governance.operations.consents import FlagRenewal
from tests.conftest import NOW
from tests.signin.conftest import csrf_token

PAGE = "/console/consents"
NEW = {"participant": "p-200", "partners": ["city_housing"], "purposes": ["housing_referral"],
       "fields": "identity.* contact.phone", "from": "2026-11-01", "until": "2027-10-31",
       "note": "signed form 77"}


def consents(app, participant: str | None = None) -> list[Consent]:
    with app.app_context():
        query = select(Consent).order_by(Consent.created_at, Consent.id)
        if participant:
            query = query.where(Consent.participant_id == participant)
        rows = state(app).session.scalars(query).all()
        state(app).session.expunge_all()
        return rows


def current(app, participant: str) -> list[Consent]:
    return [c for c in consents(app, participant) if c.ended_at is None]


def audit_count(app) -> int:
    with app.app_context():
        return state(app).session.scalar(select(func.count()).select_from(AuditEvent))


def last_event(app, kind: str) -> AuditEvent:
    with app.app_context():
        event = state(app).session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)
                                           .order_by(AuditEvent.seq.desc())).first()
        state(app).session.expunge_all()
        return event


def housing_consent(app) -> Consent:
    """p-100's consent to City Housing (2026-01-01 to 2027-01-01)."""
    return next(c for c in current(app, "p-100") if c.partners == ["city_housing"])


def post(client, path: str, data: dict, token_from: str | None = None):
    return client.post(path, data={**data, "csrf_token": csrf_token(client, token_from or path)})


# -- reading ------------------------------------------------------------------------------
def test_find_a_participant_by_part_of_their_id_and_by_program(console_app, signed_in):
    cora = signed_in("cora")
    page = cora.get(PAGE + "?q=p-").get_data(as_text=True)
    assert re.findall(r'participants/(p-\d+)"', page) == ["p-100", "p-200", "p-300"]
    assert "Consents to renew" in page and "Record a consent" in page
    page = cora.get(PAGE + "?q=P-3").get_data(as_text=True)
    assert re.findall(r'participants/(p-\d+)"', page) == ["p-300"]
    page = cora.get(PAGE + "?q=&program=behavioral_health").get_data(as_text=True)
    assert re.findall(r'participants/(p-\d+)"', page) == ["p-100", "p-300"]
    answer = cora.get(PAGE + "?program=nowhere")
    assert answer.status_code == 400 and "choose a program from the list" in answer.get_data(
        as_text=True)
    assert "No participant matches" in cora.get(PAGE + "?q=zzz").get_data(as_text=True)


def test_participant_search_is_paginated(console_app, signed_in):
    from governance.operations.apply_organisation import ApplyOrganisation
    from governance.orgfile import validate
    from tests.console.conftest import console_org

    org = console_org()
    org["participants"] += [{"id": f"q-{i:03d}", "programs": ["housing"]} for i in range(45)]
    with console_app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(
            state(console_app).session)
    cora = signed_in("cora")
    first = cora.get(PAGE + "?q=q-").get_data(as_text=True)
    assert len(re.findall(r'participants/(q-\d+)"', first)) == 20
    assert "1–20 of 45 participants" in first and "Page 1 of 3" in first
    last = cora.get(PAGE + "?q=q-&page=3").get_data(as_text=True)
    assert re.findall(r'participants/(q-\d+)"', last) == ["q-040", "q-041", "q-042", "q-043",
                                                           "q-044"]
    assert "page=2" in last and "Next" not in last
    beyond = cora.get(PAGE + "?q=q-&page=99").get_data(as_text=True)
    assert "Page 3 of 3" in beyond


def test_a_participants_consents_in_plain_language_with_the_bundle_preview(console_app,
                                                                           signed_in):
    page = signed_in("sam").get(PAGE + "/participants/p-100").get_data(as_text=True)
    assert page.count('class="consent-card"') == 3
    assert ("You agreed that we may share your identity information, your contact information "
            "and your risk information with City Housing Authority, for housing referral."
            in page)
    assert "We will never share substance use treatment records" in page
    # City Housing under the housing-referral bundle: risk.dv_flag goes, clinical.* never
    card = page[page.index("City Housing Authority, for housing"):]
    card = card[:card.index('class="card-actions"')]
    assert "Bundle <code>housing_referral_standard</code>" in card
    released = re.search(r'<ul class="released">(.*?)</ul>', card, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", released) == [
        "contact.phone", "identity.name", "risk.dv_flag", "risk.safety_note"]
    # Acme's consent excludes dv: the same bundle withholds risk.dv_flag, and says why
    acme = page[page.index("Acme Property Management, for housing"):]
    assert "<code>risk.dv_flag</code>: this consent excludes one of its labels" in acme


def test_participant_consents_filter_by_standing(console_app, signed_in):
    cora = signed_in("cora")
    revoked = cora.get(PAGE + "/participants/p-200?standing=revoked").get_data(as_text=True)
    assert revoked.count('class="consent-card"') == 1 and "You withdrew this permission" in revoked
    expired = cora.get(PAGE + "/participants/p-200?standing=expired").get_data(as_text=True)
    assert expired.count('class="consent-card"') == 1 and "City Housing Authority" in expired
    assert cora.get(PAGE + "/participants/p-200?standing=active").get_data(
        as_text=True).count('class="consent-card"') == 0
    assert cora.get(PAGE + "/participants/p-999").status_code == 404


def test_the_consent_page_previews_any_bundle_to_any_recipient(console_app, signed_in):
    consent = housing_consent(console_app)
    cora = signed_in("cora")
    page = cora.get(f"{PAGE}/{consent.id}?bundle=housing_referral_standard"
                    "&recipient=acme_landlord").get_data(as_text=True)
    assert "to Acme Property Management" in page
    assert "this consent does not name that recipient" in page
    bad = cora.get(f"{PAGE}/{consent.id}?bundle=nope&recipient=acme_landlord")
    assert bad.status_code == 400 and "choose a bundle from the list" in bad.get_data(
        as_text=True)
    assert cora.get(f"{PAGE}/cns_nope").status_code == 404


def test_consents_to_renew_lists_flagged_and_ending_soon(console_app, signed_in):
    flagged = housing_consent(console_app)
    with console_app.app_context():
        FlagRenewal(flagged.id, "cora", "hospitalization", NOW).execute(
            state(console_app).session)
    cora = signed_in("cora")
    page = cora.get(PAGE + "/renew").get_data(as_text=True)
    ids = re.findall(r'consents/(cns[^"/]+)"', page)
    assert len(ids) == 1 and "flagged: hospitalization" in page
    console_app.clock.advance(days=20)  # p-100's housing consent now ends within 30 days
    cora = signed_in("cora")
    assert "last day 2027-01-01" in cora.get(PAGE + "/renew").get_data(as_text=True)
    assert "No consent is flagged" in cora.get(PAGE + "/renew?participant=p-300").get_data(
        as_text=True)
    bad = cora.get(PAGE + "/renew?within=0")
    assert bad.status_code == 400 and "a number of days from 1 to 365" in bad.get_data(
        as_text=True)


# -- recording ------------------------------------------------------------------------------
def test_record_a_consent_through_the_form(console_app, signed_in):
    cora = signed_in("cora")
    form = cora.get(PAGE + "/new?participant=p-200").get_data(as_text=True)
    assert 'value="p-200"' in form and 'name="partners" value="city_housing"' in form
    answer = post(cora, PAGE + "/new", {**NEW, "partners": ["city_housing"]})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    new, = [c for c in current(console_app, "p-200") if c.note == "signed form 77"]
    assert new.fields == ["identity.*", "contact.phone"] and new.source == "console"
    assert new.created_by == "cora" and new.valid_until.isoformat() == "2027-11-01T00:00:00"
    event = last_event(console_app, "consent.created")
    assert (event.actor, event.ref, payload_of(event)["via"]) == ("cora", new.id, "console")
    shown = cora.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Consent {new.id} recorded for p-200" in shown


@pytest.mark.parametrize("change, field, message", [
    ({"purposes": []}, "purposes", "choose at least one purpose"),
    ({"fields": ""}, "fields", "name at least one field or pattern"),
    ({"fields": "identity.* bad pattern!"}, "fields", "not a field id or pattern: 'pattern!'"),
    ({"partners": []}, "partners", "choose at least one partner or partner type"),
    ({"until": "2026-10-01"}, "until", "must be after from"),
    ({"from": "soon"}, "from", "a date such as 2027-01-31"),
    ({"participant": "p-999"}, "participant", "no participant 'p-999'"),
    ({"participant": ""}, "participant", "required"),
])
def test_a_bad_consent_is_refused_beside_its_field(console_app, signed_in, change, field,
                                                   message):
    cora = signed_in("cora")
    before, trail = len(consents(console_app)), audit_count(console_app)
    answer = post(cora, PAGE + "/new", {**NEW, **change})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400, page
    assert "The consent was not recorded" in page
    error = re.search(rf'<[^>]+id="{field}-error">([^<]*)<', page)
    assert error and message in error.group(1).replace("&#39;", "'"), page
    assert len(consents(console_app)) == before and audit_count(console_app) == trail
    if field != "participant":
        assert 'value="signed form 77"' in page  # what was typed is kept


def test_amend_makes_a_new_version_and_keeps_the_history(console_app, signed_in):
    old = housing_consent(console_app)
    sam = signed_in("sam")
    form = sam.get(f"{PAGE}/{old.id}/amend").get_data(as_text=True)
    assert 'value="identity.* contact.* risk.*"' in form and 'value="2027-01-01"' in form
    data = {"partners": ["city_housing"], "purposes": ["housing_referral"],
            "fields": "identity.* contact.*", "exclude_labels": ["sud", "dv"],
            "from": "2026-01-01", "until": "2027-01-01"}
    answer = post(sam, f"{PAGE}/{old.id}/amend", data)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    new = housing_consent(console_app)
    assert new.version == 2 and new.supersedes == old.id and new.fields == ["identity.*",
                                                                            "contact.*"]
    assert sorted(new.exclude_labels) == ["dv", "sud"]
    assert payload_of(last_event(console_app, "consent.amended"))["via"] == "console"
    page = sam.get(f"{PAGE}/{new.id}").get_data(as_text=True)
    assert "History" in page and f'href="/console/consents/{old.id}"' in page
    assert f"superseded by {new.id}" in page
    superseded = sam.get(f"{PAGE}/{old.id}").get_data(as_text=True)
    assert "This version was superseded" in superseded and "Revoke consent" not in superseded


def test_an_amendment_that_changes_nothing_is_refused(console_app, signed_in):
    old = housing_consent(console_app)
    sam = signed_in("sam")
    data = {"partners": ["city_housing"], "purposes": ["housing_referral"],
            "fields": "risk.* identity.* contact.*", "exclude_labels": ["sud"],
            "from": "2026-01-01", "until": "2027-01-01"}
    answer = post(sam, f"{PAGE}/{old.id}/amend", data)
    assert answer.status_code == 400 and "nothing was changed" in answer.get_data(as_text=True)
    assert housing_consent(console_app).id == old.id


def test_renew_gives_a_new_last_day_and_clears_the_flag(console_app, signed_in):
    old = housing_consent(console_app)
    with console_app.app_context():
        FlagRenewal(old.id, "cora", "expiring", NOW).execute(state(console_app).session)
    cora = signed_in("cora")
    answer = post(cora, f"{PAGE}/{old.id}/renew", {"until": "2028-01-31", "note": "re-signed"},
                  f"{PAGE}/{old.id}")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    new = housing_consent(console_app)
    assert new.version == 2 and new.needs_renewal is None
    assert new.valid_until.isoformat() == "2028-02-01T00:00:00"
    event = last_event(console_app, "consent.renewed")
    assert event.actor == "cora" and payload_of(event)["via"] == "console"


@pytest.mark.parametrize("until, message", [("", "required"), ("2026-11-01", "after today"),
                                            ("31/01/2028", "a date such as")])
def test_a_bad_renewal_is_refused_beside_until(console_app, signed_in, until, message):
    old = housing_consent(console_app)
    cora = signed_in("cora")
    trail = audit_count(console_app)
    answer = post(cora, f"{PAGE}/{old.id}/renew", {"until": until}, f"{PAGE}/{old.id}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert message in re.search(r'id="renew_until-error">([^<]*)<', page).group(1)
    assert housing_consent(console_app).id == old.id and audit_count(console_app) == trail


def test_revoke_through_the_form_denies_later_decisions(console_app, signed_in):
    from tests.console.test_audit import decide

    consent = housing_consent(console_app)
    referral = {"action": "disclose", "fields": ["identity.name"], "purpose": "housing_referral",
                "recipient": "city_housing", "bundle": "housing_referral_standard"}
    cora = signed_in("cora")
    answer = post(cora, f"{PAGE}/{consent.id}/revoke", {"reason": ""}, f"{PAGE}/{consent.id}")
    assert answer.status_code == 400
    assert "required" in re.search(r'id="revoke_reason-error">([^<]*)<',
                                   answer.get_data(as_text=True)).group(1)
    assert housing_consent(console_app).status == "active"
    answer = post(cora, f"{PAGE}/{consent.id}/revoke",
                  {"reason": "participant asked on 23 Nov"}, f"{PAGE}/{consent.id}")
    assert answer.status_code == 302
    row = housing_consent(console_app)
    assert (row.status, row.revoked_by, row.revoked_via) == ("revoked", "cora", "console")
    with console_app.app_context():
        event = last_event(console_app, "consent.revoked")
        decision = state(console_app).session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "decision", AuditEvent.ref == decide(console_app, **referral)[0]
        )).one()
        denied = payload_of(decision)["denied"]
    assert payload_of(event)["reason"] == "participant asked on 23 Nov"
    assert denied == {"identity.name": "no_consent"}
    again = post(cora, f"{PAGE}/{consent.id}/revoke", {"reason": "twice"},
                 f"{PAGE}/{consent.id}")
    assert again.status_code in (200, 409)


# -- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("path, data", [
    ("/new", NEW), ("/{id}/amend", {**NEW, "fields": "identity.*"}),
    ("/{id}/renew", {"until": "2028-01-31"}), ("/{id}/revoke", {"reason": "asked"})])
def test_a_form_without_its_csrf_token_is_400_and_changes_nothing(console_app, signed_in, path,
                                                                  data):
    consent = housing_consent(console_app)
    cora = signed_in("cora")
    before, trail = consents(console_app), audit_count(console_app)
    answer = cora.post(PAGE + path.format(id=consent.id), data=data)
    assert answer.status_code == 400
    assert [(c.id, c.status, c.ended_at) for c in consents(console_app)] == [
        (c.id, c.status, c.ended_at) for c in before]
    assert audit_count(console_app) == trail


@pytest.mark.parametrize("method, path", [
    ("get", ""), ("get", "/participants/p-100"), ("get", "/{id}"), ("get", "/renew"),
    ("get", "/new"), ("post", "/new"), ("post", "/{id}/amend"), ("post", "/{id}/renew"),
    ("post", "/{id}/revoke")])
def test_without_a_consent_power_every_page_and_form_is_403(console_app, signed_in, method,
                                                            path):
    consent = housing_consent(console_app)
    alice = signed_in("alice")  # a case manager: no admin, auditor or approver power
    url = PAGE + path.format(id=consent.id)
    if method == "get":
        answer = alice.get(url)
    else:
        answer = alice.post(url, data={**NEW, "reason": "x", "until": "2028-01-01",
                                       "csrf_token": csrf_token(alice, "/console/")})
    assert answer.status_code == 403
    assert housing_consent(console_app).status == "active"
    assert "Consents" not in re.findall(r'<nav aria-label="Console">(.*?)</nav>',
                                        alice.get("/console/").get_data(as_text=True), re.S)[0]


def test_the_nav_shows_consents_to_those_who_may_open_it(console_app, signed_in):
    for user in ("ada", "cora", "sam"):
        nav = signed_in(user).get("/console/").get_data(as_text=True)
        assert '>Consents</a>' in nav, user


def test_a_consent_revoked_elsewhere_is_a_conflict_on_the_form(console_app, signed_in):
    from governance.operations.consents import RevokeConsent

    consent = housing_consent(console_app)
    cora = signed_in("cora")
    token = csrf_token(cora, f"{PAGE}/{consent.id}")
    with console_app.app_context():
        RevokeConsent(consent.id, "sam", "asked", NOW + timedelta(minutes=1)).execute(
            state(console_app).session)
    answer = cora.post(f"{PAGE}/{consent.id}/renew", data={"until": "2028-01-31",
                                                           "csrf_token": token})
    assert answer.status_code == 409
    assert "is revoked" in answer.get_data(as_text=True)
