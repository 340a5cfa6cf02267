"""The demo organisation's policy: programs, field catalogue, purposes, roles, partners, bundles.

Housing partners get contact details and risk flags, not clinical notes; warm handoffs carry a
focused summary; the county gets status counts; crisis teams get safety and medication facts;
billing sees billing.
"""
from __future__ import annotations

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


def ids(text: str, *, all_except: str = "") -> list[str]:
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

_CM_OUT = ids("identity.* contact.* demographics.language demographics.accessibility_needs "
               "housing.* benefits.enrollments enrollment.* services.* appointments.* "
               "care_plan.summary care_plan.goals care_plan.coordinator care_plan.discharge_plan "
               "risk.* medications.current_list medications.recent_changes "
               "school.attendance_barriers school.support_plan")
_CLIN_OUT = ids("identity.name identity.date_of_birth identity.record_number contact.* "
                 "demographics.language demographics.accessibility_needs appointments.* "
                 "care_plan.* risk.* clinical.* medications.* sud.*")
_BILLING = ids("identity.name identity.date_of_birth identity.record_number billing.*")
STATUS_FIELDS = ids("identity.name identity.record_number identity.date_of_birth enrollment.* "
               "services.* housing.status risk.escalation_flag")
_REVIEWED = {"elevated": True, "review_every_days": 90}

ROLES = (  # id, name, scope, description, grants (view, export, disclose), extra settings
    ("front_desk", "Front desk", "program", "Check-in, scheduling, reminders; no clinical detail",
     (ids("identity.name identity.date_of_birth identity.record_number "
           "contact.phone contact.email contact.mailing_address contact.preferred_method "
           "contact.emergency_contact demographics.language demographics.accessibility_needs "
           "appointments.next_appointment appointments.status appointments.transport_needed "
           "care_plan.coordinator billing.payer_name billing.member_id"),
      ids("identity.name appointments.next_appointment"), []), {}),
    ("case_manager", "Case manager", "case", "Housing and care coordination for their caseload",
     (ids("identity.* contact.* demographics.* housing.* benefits.* enrollment.* services.* "
           "appointments.* care_plan.* risk.* medications.current_list "
           "medications.recent_changes legal.* school.* family.*"),
      ids("identity.name identity.record_number enrollment.* services.* housing.status"),
      _CM_OUT), {}),
    ("clinician", "Clinician", "case", "Treating clinician for the participants on their caseload",
     (ids("housing.status housing.barriers benefits.enrollments legal.guardian "
           "legal.court_orders", all_except="housing benefits billing legal"),
      ids("identity.name identity.date_of_birth care_plan.summary medications.current_list "
           "appointments.*"), _CLIN_OUT), {}),
    ("billing", "Billing", "program", "Claims, denials and payer requests; billing data only",
     (_BILLING, _BILLING, ids("identity.name identity.date_of_birth billing.payer_name "
                               "billing.member_id billing.claims billing.service_codes")), {}),
    # Releases are assembled from the chart, but psychotherapy notes stay with the therapist.
    ("records", "Records and release of information", "organization",
     "Checks the authority and scope of record requests and assembles releases",
     (ids("", all_except="psychotherapy"),) * 3, {}),
    ("supervisor", "Program supervisor", "program",
     "Oversees a program; approves overrides and escalations; signs off county reports",
     (ids("", all_except="psychotherapy sud"), [*STATUS_FIELDS, "risk.incident_history"],
      [*STATUS_FIELDS, *ids("contact.* risk.safety_note appointments.status care_plan.summary")]),
     {**_REVIEWED, "approves": ["override", "escalation"], "max_override_minutes": 240,
      "console": ["reviewer"]}),
    ("compliance", "Compliance and privacy officer", "organization",
     "Signs off escalations, investigates complaints, answers regulators",
     (ids("identity.name identity.date_of_birth identity.record_number enrollment.* "
           "legal.release_authorizations legal.guardian"),
      ids("identity.name identity.record_number legal.release_authorizations"),
      ids("identity.name identity.record_number enrollment.status")),
     {**_REVIEWED, "approves": ["escalation"], "console": ["auditor", "reviewer"]}),
    ("it_admin", "IT administrator", "organization",
     "Runs the systems; a record number to trace a ticket, no record content",
     (["identity.record_number"], [], []), _REVIEWED),
    ("vendor_support", "Vendor support", "organization",
     "Case-system vendor's support desk under a BAA; troubleshooting only",
     (ids("identity.record_number appointments.status services.last_contact_date"), [], []),
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
