"""Two weeks of activity on a browser test's database, made through the service's own API (an
app in this process on the server's database, its clock moved day by day), so pages that read
the trail (the dashboard's charts, the audit page) have something real to show."""
from __future__ import annotations

import secrets
from datetime import datetime, time, timedelta

from governance import create_app
from governance.clock import utcnow
from governance.extension import state
from tests.conftest import new_key

# What a fortnight of a small agency's requests looks like: mostly allowed, a few withheld for
# each of the common reasons. (subject, action, participant, program, fields, extra members)
REQUESTS = (
    ("alice", "view", "p-100", "housing", ["identity.*", "contact.phone"], {}),
    ("alice", "view", "p-200", "housing", ["identity.name", "contact.*"], {}),
    ("alice", "view", "p-100", "housing", ["identity.name", "clinical.diagnosis",
                                           "clinical.hiv_status"], {}),
    ("nick", "view", "p-100", "housing", ["identity.name", "risk.safety_note"], {}),
    ("dana", "view", "p-300", "behavioral_health", ["identity.*", "clinical.*"], {}),
    ("dana", "export", "p-300", "behavioral_health", ["clinical.psychotherapy_notes",
                                                      "clinical.diagnosis"], {}),
    ("rita", "disclose", "p-100", "housing", ["identity.name"],
     {"purpose": "payment", "recipient": "riverside_clinic"}),
    ("alice", "disclose", "p-100", "housing", ["identity.name", "contact.phone",
                                               "sud.screening"],
     {"purpose": "housing_referral", "recipient": "city_housing"}),
    ("ivy", "view", "p-100", "housing", ["identity.name"], {}),
    ("alice", "view", "p-100", "housing", ["case.notes"], {}),
)


def app_on(database_url: str):
    return create_app({"GOVERNANCE_DATABASE_URL": database_url,
                       "GOVERNANCE_SECRET_KEY": secrets.token_hex(16)})


def seed_activity(database_url: str, days: int = 14, now: datetime | None = None) -> dict:
    """Decisions on each of the last ``days`` days (a weekday busier than a weekend), and
    today an override request, an escalation, a break-glass use and a consent flagged for
    renewal, all still waiting. Returns counts of what was made."""
    now = now or utcnow()
    app = app_on(database_url)
    made = {"decisions": 0}
    with app.app_context():
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = (
            f"Bearer {new_key(app, 'decide', 'manage', name=f'seed-{secrets.token_hex(3)}')}")
        for back in range(days - 1, -1, -1):
            day = (now - timedelta(days=back)).date()
            busy = 3 if day.weekday() < 5 else 1
            for n in range(busy * len(REQUESTS) // 2 + back % 3):
                subject, action, participant, program, fields, extra = REQUESTS[
                    (n * 7 + back) % len(REQUESTS)]
                moment = datetime.combine(day, time(8)) + timedelta(minutes=17 * n)
                if moment > now:
                    break
                state(app).clock = lambda moment=moment: moment
                answer = client.post("/api/v1/decisions", json={
                    "subject": subject, "action": action, "participant": participant,
                    "program": program, "fields": fields, **extra})
                assert answer.status_code == 200, answer.get_data(as_text=True)
                made["decisions"] += 1
        state(app).clock = lambda: now
        made["waiting"] = _waiting_today(client)
        state(app).engine.close()
        state(app).session.remove()
        state(app).db.engine.dispose()
    return made


def _waiting_today(client) -> list[str]:
    def post(path: str, body: dict, status: int = 201) -> dict:
        answer = client.post(path, json=body)
        assert answer.status_code == status, answer.get_data(as_text=True)
        return answer.json

    post("/api/v1/overrides", {"actor": "nick", "program": "housing", "participant": "p-100",
                               "fields": ["identity.*", "contact.*"], "actions": ["view"],
                               "reason": "covering for alice this week", "minutes": 240})
    decision = post("/api/v1/decisions", {
        "subject": "rita", "action": "disclose", "participant": "p-100", "program": "housing",
        "fields": ["identity.name"], "purpose": "payment", "recipient": "riverside_clinic"}, 200)
    post("/api/v1/escalations", {"actor": "rita", "decision_id": decision["decision_id"],
                                 "justification": "claim dispute needs the member's name"})
    post("/api/v1/break-glass", {"actor": "alice", "participant": "p-100", "program": "housing",
                                 "reason": "participant in crisis, after hours"})
    consents = client.get("/api/v1/consents?participant=p-300").json["consents"]
    post(f"/api/v1/consents/{consents[0]['id']}/flag-renewal",
         {"actor": "alice", "trigger": "hospitalization"}, 200)
    return ["override", "escalation", "break_glass", "consent_renewal"]
