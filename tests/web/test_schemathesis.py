"""Schemathesis against the served OpenAPI document of a real app with the test organisation.

Every operation is called with generated requests, valid and invalid (examples, coverage and
fuzzing phases), then the stateful phase chains calls through the document's links (a
decision into an escalation or a disclosure, an override, escalation or campaign into its
approval, denial or decision). Every answer must be: not a 5xx, a status, content type,
headers and body the document declares for the operation, and never an allow for a request
the document calls malformed. Bounded and derandomized so CI runs the same cases every time.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from governance.api.openapi import SPEC_FILE
from governance.extension import state
from tests.conftest import BACKENDS, apply_file, new_key

# SQLite by default; GOVERNANCE_SCHEMATHESIS_BACKENDS=sqlite,postgres for both.
RUN_ON = os.environ.get("GOVERNANCE_SCHEMATHESIS_BACKENDS", "sqlite").split(",")
MAX_EXAMPLES = int(os.environ.get("GOVERNANCE_SCHEMATHESIS_EXAMPLES", "25"))
SCENARIOS = int(os.environ.get("GOVERNANCE_SCHEMATHESIS_SCENARIOS", "100"))
assert set(RUN_ON) <= set(BACKENDS), RUN_ON

SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=False,
                # A real app and store behind every call: slow examples and large generated
                # bodies are expected; the filters are schemathesis' own.
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                       HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
TUPLE = ("subject", "action", "resource", "context")
DECISION_OPERATIONS = {
    ("POST", "/api/v1/decisions"), ("POST", "/api/v1/decisions/explain"),
    ("POST", "/api/v1/filter"),
    ("POST", "/access/v1/evaluation"), ("POST", "/access/v1/evaluations")}


@pytest.fixture(params=RUN_ON)
def backend(request) -> str:
    return request.param


@pytest.fixture
def key(org_app) -> str:
    return new_key(org_app, "decide", "manage", name="schemathesis")


@pytest.fixture
def served_schema(org_app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", org_app)


def request_validator(schema, method: str, path: str) -> Draft202012Validator:
    document = schema.raw_schema
    registry = Registry().with_resource("urn:served", DRAFT202012.create_resource(document))
    pointer = "/paths/{}/{}/requestBody/content/application~1json/schema".format(
        path.replace("~", "~0").replace("/", "~1"), method.lower())
    return Draft202012Validator({"$ref": "urn:served#" + pointer}, registry=registry)


_VALIDATORS: dict = {}


def _valid(case, body, label: tuple[str, str] | None = None) -> bool:
    """The body validates against the operation's request schema (``label``: another
    operation's)."""
    operation = case.operation
    label = label or (operation.method.upper(), operation.path)
    if label not in _VALIDATORS:
        _VALIDATORS[label] = request_validator(operation.schema, *label)
    return _VALIDATORS[label].is_valid(body)


def no_allow_for_a_malformed_decision_request(ctx, response, case):
    """A decision request the document calls malformed must never come back 200 with an
    allowed field (the service fails closed). A batch is judged as the server reads it: its
    envelope (`evaluations`, `options`) and each item with the defaults it takes applied (a
    default that every item replaces is never read)."""
    operation = case.operation
    if (case.method.upper(), operation.path) not in DECISION_OPERATIONS:
        return None  # another operation, or a probe with another method (OPTIONS: 200)
    if response.status_code != 200:
        return None
    answer, body = response.json(), case.body
    is_json = case.media_type == "application/json"
    if operation.path == "/access/v1/evaluations" and isinstance(body, dict) and \
            isinstance(answer, dict) and "evaluations" in answer:
        envelope = {k: v for k, v in body.items() if k not in TUPLE}
        envelope_ok = is_json and _valid(case, envelope)
        items = body.get("evaluations") or []
        defaults = {k: body[k] for k in TUPLE if k in body}
        for index, result in enumerate(answer["evaluations"]):
            allowed = (result.get("context") or {}).get("allowed")
            item = items[index] if index < len(items) else None
            item_ok = envelope_ok and isinstance(item, dict) and _valid(
                case, {**defaults, **item}, ("POST", "/access/v1/evaluation"))
            if allowed and not item_ok:
                raise AssertionError(f"batch item {index} is malformed but was answered "
                                     f"with allowed fields {allowed}")
        return None
    allowed = answer.get("allowed") or (answer.get("context") or {}).get("allowed")
    if allowed and not (is_json and _valid(case, body)):
        raise AssertionError(f"a malformed decision request was answered 200 with allowed "
                             f"fields {allowed}")
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance,
          no_allow_for_a_malformed_decision_request]

# The document as served (the file plus `servers`, which the WSGI transport does not need);
# test_served_document_is_the_one_tested checks the served one is this. Loaded at import so
# that each operation is its own test; each calls a fresh app with the test organisation.
schema = schemathesis.openapi.from_dict(json.loads(SPEC_FILE.read_text()))
TALLY: Counter = Counter()


def test_served_document_is_the_one_tested(org_app):
    served = org_app.test_client().get("/api/v1/openapi.json").json
    served.pop("servers")
    assert served == schema.raw_schema


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, **SETTINGS)
def test_every_operation(case, org_app, key):
    TALLY[f"{case.operation.method.upper()} {case.operation.path}"] += 1
    case.call_and_validate(app=org_app, headers={"Authorization": f"Bearer {key}"},
                           checks=CHECKS)


# Test data the stateful phase sends on every other call of these operations, so that chains
# reach approvals and decisions (random actors are never active users): a request body of the
# test organisation's, with the members a link supplied kept (`decision_id`, `fields`).
REFERRAL = {"subject": "alice", "action": "disclose", "participant": "p-100",
            "program": "housing", "fields": ["identity.name", "contact.phone"],
            "purpose": "housing_referral", "recipient": "city_housing",
            "bundle": "housing_referral_standard"}
REALISTIC = {
    ("POST", "/api/v1/decisions"): [
        {**REFERRAL, "recipient": "acme_landlord"},  # escalate: a non-standard partner
        REFERRAL,
        {**REFERRAL, "action": "export", "fields": "*", "purpose": "operations",
         "recipient": None, "bundle": None},  # entire_record_not_justified
    ],
    ("POST", "/api/v1/escalations"): [{"actor": "alice", "justification": "landlord asks"}],
    ("POST", "/api/v1/escalations/{escalation_id}/{verdict}"): [{"actor": "sam"}],
    ("POST", "/api/v1/disclosures"): [{"actor": "alice", "channel": "secure_portal"},
                                      {"actor": "alice", "channel": "email"}],
    ("POST", "/api/v1/consents"): [{
        "actor": "alice", "participant": "p-200", "partners": ["city_housing"],
        "purposes": ["housing_referral"], "fields": ["identity.*", "contact.*"],
        "from": "2026-11-01", "until": "2027-11-01"}],
    ("POST", "/api/v1/consents/{consent_id}/amend"): [{"actor": "alice",
                                                       "exclude_labels": ["dv"]}],
    ("POST", "/api/v1/consents/{consent_id}/renew"): [{"actor": "alice",
                                                       "until": "2028-11-01"}],
    ("POST", "/api/v1/consents/{consent_id}/revoke"): [{"actor": "alice", "reason": "asked"}],
    ("POST", "/api/v1/consents/{consent_id}/flag-renewal"): [{"actor": "alice",
                                                              "trigger": "expiring"}],
    ("POST", "/api/v1/overrides"): [
        {"actor": "nick", "program": "housing", "participant": "p-100",
         "fields": ["identity.*"], "actions": ["view"], "reason": "covering for alice",
         "minutes": 60}],
    ("POST", "/api/v1/overrides/{override_id}/{verdict}"): [{"actor": "sam"}],
    ("POST", "/api/v1/break-glass"): [{"actor": "alice", "participant": "p-100",
                                       "program": "housing", "reason": "overdose"}],
    ("POST", "/api/v1/break-glass/reviews/{item_id}/close"): [{"actor": "sam",
                                                               "finding": "justified"}],
    ("POST", "/api/v1/reviews/campaigns"): [{"actor": "rita", "programs": ["housing"],
                                             "due": "2026-12-31", "on_no_decision": "revoke"}],
    ("POST", "/api/v1/reviews/items/{item_id}/decide"): [{"actor": "sam", "decision": "keep"},
                                                         {"actor": "sam",
                                                          "decision": "revoke"}],
}
LINKED_MEMBERS = ("decision_id", "fields")
# Chains the stateful phase should complete (method, path, status). A decision that
# escalates, then its escalation and its approval, is three linked steps from a root chosen
# among forty operations: too rare in a bounded run on a fresh store per scenario to demand
# here; tests/web/test_disclosure_workflow.py walks that chain (and disclosures) step by step.
CHAINS = [("POST", "/api/v1/overrides/{override_id}/{verdict}", 200),
          ("POST", "/api/v1/reviews/items/{item_id}/decide", 200),
          ("POST", "/api/v1/break-glass/reviews/{item_id}/close", 200),
          ("POST", "/api/v1/consents/{consent_id}/amend", 200)]


class FreshStore:
    """A WSGI app that is a new app on a new store with the test organisation each time
    ``renew`` is called: every scenario starts from the same state, as hypothesis requires
    (it replays a scenario's choices and would otherwise meet what earlier scenarios left:
    a revoked consent, a disabled account, a decided item)."""

    def __init__(self, make_app, backend: str) -> None:
        self.make_app, self.backend, self.app, self.headers = make_app, backend, None, {}
        self.renew()

    def renew(self) -> None:
        if self.app is not None:
            with self.app.app_context():
                state(self.app).session.remove()
                state(self.app).engine.close()
                state(self.app).db.engine.dispose()
        self.app = self.make_app(self.backend)
        apply_file(self.app)
        self.headers = {"Authorization": f"Bearer {new_key(self.app, 'decide', 'manage')}"}

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204 - WSGI
        return self.app(environ, start_response)


def test_stateful_links(make_app, backend):
    """The stateful phase: scenarios that follow the document's links (and the links
    schemathesis infers), every answer checked as above, each on a fresh store."""
    steps: Counter = Counter()
    sent: Counter = Counter()
    store = FreshStore(make_app, backend)
    served_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", store)
    links = sum(len(r.get("links", {})) for item in served_schema.raw_schema["paths"].values()
                for o in item.values() if isinstance(o, dict) and "responses" in o
                for r in o["responses"].values())

    class Workflow(served_schema.as_state_machine()):
        def setup(self):
            store.renew()
            sent.clear()  # which realistic body comes next must not outlive a scenario

        def before_call(self, case):
            label = (case.method.upper(), case.operation.path)
            bodies = REALISTIC.get(label)
            if not bodies:
                return
            sent[label] += 1
            turn = sent[label]
            if not turn % 3:  # every third call: the generated body as it is
                return
            body = dict(bodies[(turn - 1) % len(bodies)])
            if isinstance(case.body, dict):
                body |= {k: case.body[k] for k in LINKED_MEMBERS if k in case.body}
            case.body = {k: v for k, v in body.items() if v is not None}

        def get_call_kwargs(self, case):
            return {"headers": store.headers}

        def after_call(self, response, case):
            steps[(case.method.upper(), case.operation.path, response.status_code)] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs or None)

    started = time.monotonic()
    run_state_machine_as_test(Workflow, settings=settings(
        max_examples=SCENARIOS, stateful_step_count=15, phases=[Phase.generate], **SETTINGS))
    print(f"\nschemathesis stateful: {links} links, {SCENARIOS} scenarios, "
          f"{sum(steps.values())} calls in {time.monotonic() - started:.1f}s")
    for (method, path, status), count in sorted(steps.items()):
        print(f"  {count:5d} {method} {path} {status}")
    missing = [chain for chain in CHAINS if not steps[chain]]
    # Which chains a bounded random run completes varies with the document; at least half
    # must have been walked to the end, or the links are not being followed at all.
    assert len(missing) <= len(CHAINS) // 2, f"the stateful phase never completed {missing}"
