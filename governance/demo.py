"""A realistic sample organisation, as a plain org-file dict (the shape `governance apply` reads).

A housing provider, a behavioral health clinic and a county-funded program share one catalogue.
The grants, bundles and consents follow what front-line staff describe: housing partners get
contact details and risk flags, not clinical notes; warm handoffs carry a focused summary; the
county gets status counts; crisis teams get safety and medication facts; billing sees billing.
Deterministic for a given seed and `today`; every date is relative to `today`.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

N, R, VR = "normal", "restricted", "very_restricted"

PROGRAMS = (
    ("housing", "Rapid Rehousing and Tenancy Sustainment"),
    ("behavioral_health", "Behavioral Health Clinic"),
    ("county_contract", "County Care Coordination (county-funded)"),
)

FIELDS = (  # id, sensitivity, labels (space separated), description
    ("identity.name", N, "", "Legal name as verified at intake"),
    ("identity.preferred_name", N, "", "Name and pronouns the participant asks staff to use"),
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
    ("demographics.household_size", N, "", "Number of people in the household"),
    ("demographics.gender_identity", R, "", "Gender identity as self-reported"),
    ("demographics.race_ethnicity", R, "", "Race and ethnicity as self-reported"),
    ("housing.status", N, "", "Current situation: street, shelter, doubled up, housed"),
    ("housing.eligibility", N, "", "Eligibility indicators for rapid rehousing and subsidies"),
    ("housing.barriers", N, "", "Placement barriers: missing income documents, transport, credit"),
    ("housing.unit_address", R, "", "Address of the unit the participant leases"),
    ("housing.lease_status", N, "", "Lease dates and rent arrears"),
    ("housing.landlord_contact", N, "third_party", "Landlord or property manager contact"),
    ("housing.eviction_history", R, "", "Past evictions and court filings"),
    ("benefits.enrollments", N, "", "Benefits held: SNAP, SSI/SSDI, Medicaid, TANF"),
    ("benefits.monthly_income", R, "financial", "Monthly income by source"),
    ("enrollment.status", N, "", "Program status: referred, active, on hold, discharged"),
    ("enrollment.start_date", N, "", "Date the participant enrolled in the program"),
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
    ("clinical.assessment", R, "", "Psychiatric or biopsychosocial assessment"),
    ("clinical.progress_notes", R, "", "Clinical progress notes (not psychotherapy notes)"),
    ("clinical.hospitalizations", R, "", "Recent emergency visits and inpatient stays"),
    ("clinical.hiv_status", VR, "hiv", "HIV test results and status"),
    ("medications.current_list", R, "", "Current medications and doses"),
    ("medications.recent_changes", R, "", "Medication change notices, last 30 days"),
    ("medications.history", R, "", "Full medication history"),
    ("psychotherapy.session_notes", VR, "psychotherapy_notes", "Therapist's own session notes"),
    ("psychotherapy.process_notes", VR, "psychotherapy_notes", "Therapist's working hypotheses"),
    ("sud.treatment_history", VR, "sud", "Substance use treatment episodes (42 CFR Part 2)"),
    ("sud.program_enrollment", VR, "sud", "The fact of enrollment in a Part 2 program"),
    ("sud.moud", VR, "sud", "Medication for opioid use disorder and dosing"),
    ("billing.payer_name", N, "", "Health plan or funder paying for services"),
    ("billing.member_id", N, "", "Insurance member id"),
    ("billing.claims", R, "", "Claims submitted, their status and denials"),
    ("billing.service_codes", R, "", "Procedure and diagnosis codes on claims"),
    ("billing.prior_authorizations", N, "", "Prior authorization numbers and units left"),
    ("legal.release_authorizations", N, "", "Signed releases and authorizations on file"),
    ("legal.guardian", R, "third_party", "Guardian or representative payee and their authority"),
    ("legal.court_orders", R, "justice", "Court orders and conditions affecting services"),
    ("legal.protective_order", VR, "dv third_party", "Protective orders and the people named"),
    ("school.name", R, "minor", "School a minor participant attends"),
    ("school.attendance_barriers", R, "minor", "Barriers to attendance: moves, transport, health"),
    ("school.support_plan", R, "minor", "Support plan agreed with the school (IEP or 504)"),
    ("family.children", R, "minor third_party", "Children in the household, ages and custody"),
)

