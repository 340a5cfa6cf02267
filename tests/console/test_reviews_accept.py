"""``Accept recommendations`` (issue 15 item 3): it revokes exactly the items the page showed,
named by their fingerprint, and refuses a list that changed since, even one of the same
length."""
from __future__ import annotations

import re

from governance.extension import state
from governance.operations.apply_organisation import ApplyOrganisation
from governance.orgfile import validate
from governance.reads.reviews import id_set_fingerprint
from tests.conftest import NOW
from tests.console.conftest import console_org
from tests.console.test_reviews import (  # noqa: F401 - review_app is a fixture
    MORE_SUPERVISORS,
    audit_count,
    decide,
    items_of,
    open_campaign,
    review_app,
)

JUSTIFICATION = "unused since spring"


def shown_form(client) -> dict[str, str]:
    """The hidden fields of the Accept recommendations form as the Reviews page shows it now
    (what a browser would send back, however long the reviewer looks at the page)."""
    page = client.get("/console/reviews").get_data(as_text=True)
    form = re.search(r'<form method="post" action="[^"]*accept-recommendations[^"]*">(.*?)'
                     r"</form>", page, re.S).group(1)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def accept(client, form: dict[str, str], justification: str = JUSTIFICATION):
    return client.post("/console/reviews/accept-recommendations",
                       data={**form, "justification": justification})


def sam_reviews_behavioral_health_too(app) -> None:
    """The org again, sam now a supervisor in behavioral health as well (so bea's item in
    that program becomes his to decide)."""
    org = console_org()
    org["users"] += [{"id": u, "name": name, "roles": [{"role": "supervisor", "program": p}]}
                     for u, name, p in MORE_SUPERVISORS]
    sam = next(u for u in org["users"] if u["id"] == "sam")
    sam["roles"].append({"role": "supervisor", "program": "behavioral_health"})
    with app.app_context():
        ApplyOrganisation(validate(org), actor="test", now=NOW).execute(state(app).session)


def test_the_fingerprint_is_of_the_set_of_ids_whatever_their_order():
    assert id_set_fingerprint(["b", "a"]) == id_set_fingerprint(["a", "b", "a"])
    assert id_set_fingerprint(["a", "b"]) != id_set_fingerprint(["a", "c"])


def test_accept_recommendations_revokes_the_unused_with_a_justification(
        review_app, signed_in):  # noqa: F811
    sam = signed_in("sam")
    review_app.clock.advance(minutes=5)  # with unused_days 0, nothing used since is "unused"
    campaign = open_campaign(sam, unused_days="0")
    page = sam.get("/console/reviews").get_data(as_text=True)
    assert "3 items are recommended for revoke" in page
    shown = shown_form(sam)
    assert shown["fingerprint"] == id_set_fingerprint(
        [i.id for u, i in items_of(review_app, campaign).items() if u != "sam"])
    refused = accept(sam, shown, justification=" ")
    assert refused.status_code == 400 and "write a justification" in refused.get_data(
        as_text=True)
    stale = accept(sam, {**shown, "fingerprint": id_set_fingerprint([])})
    assert stale.status_code == 409 and "the list changed" in stale.get_data(as_text=True)
    assert all(i.status == "open" for i in items_of(review_app, campaign).values())
    done = accept(sam, shown)
    assert done.status_code == 302
    after = items_of(review_app, campaign)
    assert {u: (i.decision, i.note) for u, i in after.items() if u != "sam"} == {
        u: ("revoke", JUSTIFICATION) for u in ("vic", "wes", "xia")}
    assert after["sam"].status == "open"  # his own, for another reviewer
    assert audit_count(review_app, "review.item_decided") == 3


def test_a_list_of_the_same_length_but_other_items_is_refused_and_nothing_revoked(
        review_app, signed_in):  # noqa: F811
    """sam is shown vic, wes and xia. Then vic keeps xia's item, and sam becomes a reviewer in
    behavioral health, where bea's item waits: still three items, but one sam never saw."""
    sam, bea = signed_in("sam"), signed_in("bea")
    review_app.clock.advance(minutes=5)
    housing = open_campaign(sam, unused_days="0")
    health = open_campaign(bea, programs="behavioral_health", unused_days="0")
    page = sam.get("/console/reviews").get_data(as_text=True)
    assert "3 items are recommended for revoke" in page
    shown = shown_form(sam)

    xia = items_of(review_app, housing)["xia"]
    assert decide(signed_in("vic"), {xia.id: ("keep", "covers nights")}).status_code == 302
    sam_reviews_behavioral_health_too(review_app)
    now_page = sam.get("/console/reviews").get_data(as_text=True)
    assert "3 items are recommended for revoke" in now_page  # the same count, not the same items
    assert shown_form(sam)["fingerprint"] != shown["fingerprint"]

    stale = accept(sam, shown)
    assert stale.status_code == 409
    assert "the list changed since the page was shown: 3 items" in stale.get_data(as_text=True)
    items = {**items_of(review_app, housing), **items_of(review_app, health)}
    assert {u: i.status for u, i in items.items()} == {
        "sam": "open", "vic": "open", "wes": "open", "xia": "decided", "bea": "open"}
    assert items["xia"].decision == "keep"
    assert audit_count(review_app, "review.item_decided") == 1  # vic's keep, nothing revoked


def test_an_unchanged_list_is_revoked_whole(review_app, signed_in):  # noqa: F811
    sam, bea = signed_in("sam"), signed_in("bea")
    review_app.clock.advance(minutes=5)
    sam_reviews_behavioral_health_too(review_app)
    housing = open_campaign(sam, unused_days="0")
    health = open_campaign(bea, programs="behavioral_health", unused_days="0")
    assert "4 items are recommended for revoke" in sam.get("/console/reviews").get_data(
        as_text=True)
    assert accept(sam, shown_form(sam)).status_code == 302
    items = {**items_of(review_app, housing), **items_of(review_app, health)}
    assert {u: (i.decision, i.decided_by) for u, i in items.items() if u != "sam"} == {
        u: ("revoke", "sam") for u in ("vic", "wes", "xia", "bea")}
    assert audit_count(review_app, "review.item_decided") == 4
