"""A realistic sample organisation as a plain org-file dict (the shape `governance apply` reads).

Housing partners get contact details and risk flags, not clinical notes; warm handoffs carry a
focused summary; the county gets status counts; crisis teams get safety and medication facts;
billing sees billing. Deterministic for a given seed and `today`; dates are relative to `today`.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

N, R, VR = "normal", "restricted", "very_restricted"

PROGRAMS = (("housing", "Rapid Rehousing and Tenancy Sustainment"),
            ("behavioral_health", "Behavioral Health Clinic"),
            ("county_contract", "County Care Coordination (county-funded)"))

FIELDS = (  # id, sensitivity, labels (space separated), description
    ("identity.name", N, "", "Legal name as verified at intake"),
    ("identity.date_of_birth", N, "", "Date of birth, used to match records across agencies"),
    ("identity.record_number", N, "", "Internal participant number (HMIS or chart number)"),
    ("identity.ssn_last4", R, "", "Last four digits of the SSN, for eligibility checks"),
    ("contact.phone", N, "", "Primary phone number"),
    ("contact.email", N, "", "Email address"),
    ("contact.mailing_address", N, "", "Where letters can safely be sent"),
    ("contact.preferred_method", N, "", "How and when to reach the participant, e.g. text first"),
    ("contact.emergency_contact", N, "third_party", "A person to call in an emergency"),
    ("contact.confidential_address", VR, "dv", "Real address behind a confidentiality substitute"),
    ("demographics.language", N, "", "Preferred language and whether an interpreter is needed"),
    ("demographics.accessibility_needs", N, "", "Hearing, vision, mobility or cognitive support"),
    ("demographics.race_ethnicity", R, "", "Race and ethnicity as self-reported"),
    ("housing.status", N, "", "Current situation: street, shelter, doubled up, housed"),
    ("housing.eligibility", N, "", "Eligibility indicators for rapid rehousing and subsidies"),
    ("housing.barriers", N, "", "Placement barriers: missing income documents, transport, credit"),
    ("housing.unit_address", R, "", "Address of the unit the participant leases"),
    ("housing.lease_status", N, "", "Lease dates and rent arrears"),
    ("housing.landlord_contact", N, "third_party", "Landlord or property manager contact"),
    ("benefits.enrollments", N, "", "Benefits held: SNAP, SSI/SSDI, Medicaid, TANF"),
    ("benefits.monthly_income", R, "financial", "Monthly income by source"),
    ("enrollment.status", N, "", "Program status: referred, active, on hold, discharged"),
    ("enrollment.milestones", N, "", "Milestones reached: assessment done, plan updated, housed"),
    ("services.contact_count", N, "", "Number of service contacts in the reporting period"),
    ("services.last_contact_date", N, "", "Date of the most recent service contact"),
    ("appointments.next_appointment", N, "", "Date, time and place of the next appointment"),
    ("appointments.status", N, "", "Whether recent appointments were kept, cancelled or missed"),
    ("appointments.transport_needed", N, "", "Whether transport support is needed to attend"),
    ("appointments.missed_history", R, "", "Pattern of missed appointments, last six months"),
    ("care_plan.summary", R, "", "One-paragraph summary of the current plan"),
    ("care_plan.goals", R, "", "Current goals in the participant's own words"),
    ("care_plan.coordinator", N, "", "Named care coordinator and how to reach them"),
    ("care_plan.discharge_plan", R, "", "Discharge status and follow-up requirements"),
    ("care_plan.case_notes", R, "third_party", "Narrative case notes; often name family members"),
    ("risk.safety_note", R, "", "Short note for partners, e.g. no unannounced visits"),
    ("risk.tenancy_flags", R, "", "Risks to tenancy: falls, confusion, unmanaged pain, hoarding"),
    ("risk.suicide_risk", R, "", "Suicide and self-harm risk level from the latest screening"),
    ("risk.crisis_plan", R, "", "What helps in a crisis, whom to call, what to avoid"),
    ("risk.escalation_flag", R, "", "Open risk escalation that needs county action"),
    ("risk.incident_history", R, "third_party", "Past incident reports, including allegations"),
    ("risk.dv_safety_plan", VR, "dv", "Domestic violence safety plan and the abuser's details"),
    ("clinical.diagnosis", R, "", "Current diagnoses"),
    ("clinical.allergies", R, "", "Known allergies and adverse reactions"),
    ("clinical.progress_notes", R, "", "Clinical progress notes (not psychotherapy notes)"),
    ("clinical.hiv_status", VR, "hiv", "HIV test results and status"),
    ("medications.current_list", R, "", "Current medications and doses"),
    ("medications.recent_changes", R, "", "Medication change notices, last 30 days"),
    ("psychotherapy.notes", VR, "psychotherapy_notes", "Therapist's own notes, kept apart"),
    ("sud.treatment_history", VR, "sud", "Substance use treatment episodes (42 CFR Part 2)"),
    ("sud.program_enrollment", VR, "sud", "The fact of enrollment in a Part 2 program"),
    ("sud.moud", VR, "sud", "Medication for opioid use disorder and dosing"),
    ("billing.payer_name", N, "", "Health plan or funder paying for services"),
    ("billing.member_id", N, "", "Insurance member id"),
    ("billing.claims", R, "", "Claims submitted, their status and denials"),
    ("billing.service_codes", R, "", "Procedure and diagnosis codes on claims"),
    ("legal.release_authorizations", N, "", "Signed releases and authorizations on file"),
    ("legal.guardian", R, "third_party", "Guardian or representative payee and their authority"),
    ("legal.court_orders", R, "justice", "Court orders and conditions affecting services"),
    ("legal.protective_order", VR, "dv third_party", "Protective orders and the people named"),
    ("school.attendance_barriers", R, "minor", "Barriers to attendance: moves, transport, health"),
    ("school.support_plan", R, "minor", "Support plan agreed with the school (IEP or 504)"),
    ("family.children", R, "minor third_party", "Children in the household, ages and custody"),
)

GROUPS = tuple(dict.fromkeys(fid.split(".")[0] for fid, *_ in FIELDS))


def _ids(text: str, *, all_except: str = "") -> list[str]:
    """Space-separated patterns, optionally after `group.*` for every group not in all_except."""
    skip = all_except.split()
    return [f"{g}.*" for g in GROUPS if all_except and g not in skip] + text.split()


PURPOSES = (
    ("housing_referral", "authorization", "Refer to a housing partner under a signed release"),
    ("warm_handoff", "treatment", "Connect a participant with a treating provider"),
    # The county funds the program but neither treats the participant nor runs our operations;
    # participants sign a county release at enrollment and every monthly report is checked
    # against it, so the participant's authorization is the basis (and the consent the scope).
    ("county_status_update", "authorization", "Monthly status report on a county-funded service"),
    ("crisis_escalation", "emergency", "Bring in a crisis team when someone is at imminent risk"),
    ("care_coordination", "treatment", "Coordinate appointments, medications and discharge"),
    ("claims_followup", "payment", "Answer a payer's claim denial or documentation request"),
    ("school_support", "authorization", "Agree attendance supports with a minor's school"),
)

_CM_OUT = _ids("identity.* contact.* demographics.language demographics.accessibility_needs "
               "housing.* benefits.enrollments enrollment.* services.* appointments.* "
               "care_plan.summary care_plan.goals care_plan.coordinator care_plan.discharge_plan "
               "risk.* medications.current_list medications.recent_changes "
               "school.attendance_barriers school.support_plan")
_CLIN_OUT = _ids("identity.name identity.date_of_birth identity.record_number contact.* "
                 "demographics.language demographics.accessibility_needs appointments.* "
                 "care_plan.* risk.* clinical.* medications.* sud.*")
_BILLING = _ids("identity.name identity.date_of_birth identity.record_number billing.*")
_STATUS = _ids("identity.name identity.record_number identity.date_of_birth enrollment.* "
               "services.* housing.status risk.escalation_flag")
_REVIEWED = {"elevated": True, "review_every_days": 90}

ROLES = (  # id, name, scope, description, grants (view, export, disclose), extra settings
    ("front_desk", "Front desk", "program", "Check-in, scheduling, reminders; no clinical detail",
     (_ids("identity.name identity.date_of_birth identity.record_number "
           "contact.phone contact.email contact.mailing_address contact.preferred_method "
           "contact.emergency_contact demographics.language demographics.accessibility_needs "
           "appointments.next_appointment appointments.status appointments.transport_needed "
           "care_plan.coordinator billing.payer_name billing.member_id"),
      _ids("identity.name appointments.next_appointment"), []), {}),
    ("case_manager", "Case manager", "case", "Housing and care coordination for their caseload",
     (_ids("identity.* contact.* demographics.* housing.* benefits.* enrollment.* services.* "
           "appointments.* care_plan.* risk.* medications.current_list "
           "medications.recent_changes legal.* school.* family.*"),
      _ids("identity.name identity.record_number enrollment.* services.* housing.status"),
      _CM_OUT), {}),
    ("clinician", "Clinician", "case", "Treating clinician for the participants on their caseload",
     (_ids("housing.status housing.barriers benefits.enrollments legal.guardian "
           "legal.court_orders", all_except="housing benefits billing legal"),
      _ids("identity.name identity.date_of_birth care_plan.summary medications.current_list "
           "appointments.*"), _CLIN_OUT), {}),
    ("billing", "Billing", "program", "Claims, denials and payer requests; billing data only",
     (_BILLING, _BILLING, _ids("identity.name identity.date_of_birth billing.payer_name "
                               "billing.member_id billing.claims billing.service_codes")), {}),
    # Releases are assembled from the chart, but psychotherapy notes stay with the therapist.
    ("records", "Records and release of information", "organization",
     "Checks the authority and scope of record requests and assembles releases",
     (_ids("", all_except="psychotherapy"),) * 3, {}),
    ("supervisor", "Program supervisor", "program",
     "Oversees a program; approves overrides and escalations; signs off county reports",
     (_ids("", all_except="psychotherapy sud"), [*_STATUS, "risk.incident_history"],
      [*_STATUS, *_ids("contact.* risk.safety_note appointments.status care_plan.summary")]),
     {**_REVIEWED, "approves": ["override", "escalation"], "max_override_minutes": 240}),
    ("compliance", "Compliance and privacy officer", "organization",
     "Signs off escalations, investigates complaints, answers regulators",
     (_ids("identity.name identity.date_of_birth identity.record_number enrollment.* "
           "legal.release_authorizations legal.guardian"),
      _ids("identity.name identity.record_number legal.release_authorizations"),
      _ids("identity.name identity.record_number enrollment.status")),
     {**_REVIEWED, "approves": ["escalation"]}),
    ("it_admin", "IT administrator", "organization",
     "Runs the systems; a record number to trace a ticket, no record content",
     (["identity.record_number"], [], []), _REVIEWED),
    ("vendor_support", "Vendor support", "organization",
     "Case-system vendor's support desk under a BAA; troubleshooting only",
     (_ids("identity.record_number appointments.status services.last_contact_date"), [], []),
     {**_REVIEWED, "review_every_days": 30}),
)

PARTNERS = (  # id, name, type, standard, channels, address
    ("city_housing", "City Housing Authority", "housing", True, "secure_portal", "400 Civic Plaza"),
    ("county_dhs", "County Department of Human Services", "county", True, "secure_portal sftp",
     "1200 County Way"),
    ("riverside_clinic", "Riverside Community Health Center", "provider", True,
     "direct_message fax", "85 Riverside Drive"),
    ("mobile_crisis", "County Mobile Crisis Team", "provider", True, "phone secure_portal",
     "1200 County Way (24/7 dispatch)"),
    ("maple_court", "Maple Court Apartments (landlord)", "housing", False, "email", "17 Maple Ct"),
    ("harbor_health_plan", "Harbor Health Plan (Medicaid managed care)", "payer", True,
     "secure_portal clearinghouse", "PO Box 4410, Capitol City"),
    ("lincoln_high", "Lincoln High School", "school", False, "email fax", "2 School Street"),
    ("carepath_software", "CarePath Software", "vendor", False, "secure_portal", "500 Tech Park"),
)

_NO_NOTES = "clinical.* sud.* psychotherapy.* care_plan.case_notes"
BUNDLES = (  # id, purpose, partner types, required, optional, prohibited, description
    ("housing_referral_standard", "housing_referral", "housing",
     "identity.name identity.date_of_birth contact.phone contact.preferred_method",
     "contact.email contact.mailing_address risk.safety_note risk.tenancy_flags "
     "housing.eligibility housing.barriers housing.status demographics.language "
     "demographics.accessibility_needs",
     f"{_NO_NOTES} medications.* risk.incident_history",
     "Housing Referral - Standard: who they are, how to reach them safely, tenancy risks"),
    ("warm_handoff", "warm_handoff", "provider",
     "identity.name identity.date_of_birth contact.phone contact.preferred_method "
     "care_plan.summary care_plan.coordinator",
     "appointments.next_appointment appointments.missed_history appointments.transport_needed "
     "medications.current_list medications.recent_changes care_plan.goals risk.safety_note "
     "risk.suicide_risk clinical.diagnosis clinical.allergies demographics.language "
     "demographics.accessibility_needs",
     "psychotherapy.* sud.* care_plan.case_notes",
     "Focused handoff to a treating provider: goals, immediate risks, practical barriers"),
    ("county_status_update", "county_status_update", "county",
     "identity.record_number enrollment.status services.contact_count",
     "identity.name identity.date_of_birth enrollment.milestones "
     "services.last_contact_date housing.status risk.escalation_flag",
     f"{_NO_NOTES} medications.*",
     "Monthly county report: status, contact counts, milestones, escalations; no narrative"),
    ("crisis_escalation", "crisis_escalation", "provider",
     "identity.name identity.date_of_birth contact.phone risk.suicide_risk risk.crisis_plan",
     "contact.mailing_address contact.emergency_contact risk.safety_note "
     "medications.current_list clinical.allergies clinical.diagnosis demographics.language "
     "care_plan.coordinator",
     "psychotherapy.* billing.* care_plan.case_notes",
     "What a crisis team needs on arrival: safety, how to reach, current medications"),
)

# Stable users for documentation and tests: id, name, active, [(role, program, until in days)].
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
               "fields": _ids("identity.* contact.* risk.*"), "exclude_labels": ["sud"]},
     -300, 60),
    ("p-100", {"partner_types": ["provider"], "purposes": ["treatment", "warm_handoff"],
               "fields": ["*"], "exclude_labels": ["sud"]}, None, None),
    ("p-101", {"partners": ["county_dhs"], "purposes": ["county_status_update"],
               "fields": _STATUS}, -240, 125),
    ("p-102", {"partners": ["city_housing"], "purposes": ["housing_referral"],
               "fields": _ids("identity.* contact.* housing.* risk.*"),
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
     ["housing_referral"], [_ids("identity.* contact.* housing.* risk.safety_note "
                                 "risk.tenancy_flags")], [[], ["sud"], ["dv"], ["sud", "dv"]]),
    ("housing", 0.07, [{"partners": ["maple_court"]}], ["housing_referral"],
     [_ids("identity.name contact.phone housing.lease_status")], [[]]),
    ("behavioral_health", 0.15, [{"partners": ["riverside_clinic"]}],
     ["treatment", "care_coordination"], [_ids("sud.* medications.*")], [[]]),
    ("behavioral_health", 0.06, [{"partners": ["harbor_health_plan"]}],
     ["payment", "claims_followup"], [_ids("billing.* sud.program_enrollment")], [[]]),
    ("behavioral_health", 0.7,
     [{"partner_types": ["provider"]}] * 2 + [{"partners": ["riverside_clinic"]}],
     ["treatment", "warm_handoff", "care_coordination"],
     [["*"], _ids("identity.* contact.* appointments.* care_plan.* medications.* "
                  "clinical.diagnosis")],
     [[], ["hiv"], ["psychotherapy_notes"], ["sud"], ["sud"], ["sud", "hiv"]]),
    ("county_contract", 0.9, [{"partners": ["county_dhs"]}], ["county_status_update"],
     [_STATUS], [[]]),
    (None, 0.05, [{"partners": ["lincoln_high"]}], ["school_support"],
     [_ids("identity.name school.*")], [[]]),
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
