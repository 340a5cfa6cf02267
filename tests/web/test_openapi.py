"""The OpenAPI 3.1 document: valid, complete, and true to the responses the API really gives."""
from __future__ import annotations

import json
import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from governance import create_app
from governance.api.openapi import SPEC_FILE
from governance.extension import state
from tests.conftest import new_key

SPEC = json.loads(SPEC_FILE.read_text())
SPEC_URI = "urn:need-to-know:openapi"
REGISTRY = Registry().with_resource(SPEC_URI, DRAFT202012.create_resource(SPEC))
PREFIXES = ("/api/v1", "/access/v1", "/.well-known", "/healthz")
METHODS = {"get", "put", "post", "delete", "patch"}
UNKNOWN_KEY = "ntk_" + "A" * 12 + "_" + "b" * 43  # well-formed, never issued

GOOD = {"subject": "alice", "action": "view", "participant": "p-100", "program": "housing",
        "fields": ["identity.name"]}
DISCLOSE = {**GOOD, "action": "disclose", "purpose": "housing_referral",
            "recipient": "city_housing", "bundle": "housing_referral_standard"}
RECORD = {"identity": {"name": "Jo Doe", "dob": "1990-01-01"}, "contact": {"phone": "555"},
          "clinical": {"diagnosis": "F32.1"}, "unknown": {"thing": 1}}


def az(action="view", fields=("identity.name",), **context):
    body = {"subject": {"type": "user", "id": "alice"}, "action": {"name": action},
            "resource": {"type": "participant_record", "id": "p-100",
                         "properties": {"program": "housing", "fields": list(fields)}}}
    return {**body, "context": context} if context else body


BATCH = {"subject": {"type": "user", "id": "alice"},
         "resource": az()["resource"],
         "evaluations": [{"action": {"name": "view"}}, "not an object",
                         {"action": {"name": "delete"}},
                         {"resource": az(fields=["clinical.diagnosis"])["resource"]},
                         {"action": {"name": "disclose"}, "context": {
                             "purpose": "housing_referral", "recipient": "acme_landlord",
                             "bundle": "housing_referral_standard"}}]}

# (id, method, url, json body or raw (data, content type), auth, status, check on the body)
CASES = [
    ("allow", "post", "/api/v1/decisions", GOOD, "key", 200,
     lambda b: b["decision"] == "allow"),
    ("partial", "post", "/api/v1/decisions",
     {**GOOD, "fields": ["identity.*", "clinical.diagnosis"]}, "key", 200,
     lambda b: b["decision"] == "partial"),
    ("deny-unknown-subject", "post", "/api/v1/decisions", {**GOOD, "subject": "ghost"}, "key",
     200, lambda b: b["denied"] == {"identity.name": "subject_inactive"}),
    ("deny-unknown-pattern", "post", "/api/v1/decisions", {**GOOD, "fields": ["nothing.*"]},
     "key", 200, lambda b: b["decision"] == "deny"),
    ("deny-entire-record", "post", "/api/v1/decisions",
     {**GOOD, "action": "export", "fields": "*"}, "key", 200,
     lambda b: "entire_record_not_justified" in b["denied"].values()),
    ("disclose-obligations", "post", "/api/v1/decisions",
     {**DISCLOSE, "fields": ["identity.name", "contact.phone", "clinical.diagnosis"]}, "key",
     200, lambda b: b["obligations"] == ["log_disclosure", "cover_sheet"]),
    ("escalate", "post", "/api/v1/decisions", {**DISCLOSE, "recipient": "acme_landlord"},
     "key", 200, lambda b: b["decision"] == "escalate"),
    ("invalid", "post", "/api/v1/decisions", {**GOOD, "action": "dance", "x": 1}, "key", 400,
     lambda b: {"action", "x"} <= set(b["error"]["details"])),
    ("malformed-json", "post", "/api/v1/decisions", ('{"subject": ', "application/json"),
     "key", 400, lambda b: b["error"]["code"] == "malformed_json"),
    ("content-type", "post", "/api/v1/decisions", ("subject=alice", "text/plain"), "key", 400,
     lambda b: b["error"]["code"] == "bad_content_type"),
    ("no-key", "post", "/api/v1/decisions", GOOD, None, 401, None),
    ("unknown-key", "post", "/api/v1/decisions", GOOD, "bad", 401, None),
    ("manage-only", "post", "/api/v1/decisions", GOOD, "manage", 403, None),
    ("filter", "post", "/api/v1/filter", {**GOOD, "fields": "*", "record": RECORD}, "key",
     200, lambda b: "unknown.thing" in b["removed"]),
    ("filter-default-fields", "post", "/api/v1/filter",
     {k: v for k, v in GOOD.items() if k != "fields"} | {"record": RECORD}, "key", 200,
     lambda b: b["denied"]["unknown.thing"] == "unknown_field"),
    ("filter-no-record", "post", "/api/v1/filter", GOOD, "key", 400, None),
    ("filter-manage-only", "post", "/api/v1/filter", {**GOOD, "record": {}}, "manage", 403,
     None),
    ("az-allow", "post", "/access/v1/evaluation", az(), "key", 200,
     lambda b: b["decision"] is True),
    ("az-partial", "post", "/access/v1/evaluation",
     az(fields=["identity.name", "clinical.diagnosis"]), "key", 200,
     lambda b: b["decision"] is False),
    ("az-disclose", "post", "/access/v1/evaluation",
     az(action="disclose", fields=["identity.name"], purpose="housing_referral",
        recipient="city_housing", bundle="housing_referral_standard"), "key", 200,
     lambda b: b["context"]["obligations"] == ["log_disclosure", "cover_sheet"]),
    ("az-invalid", "post", "/access/v1/evaluation", {"action": {"name": "view"}}, "key", 400,
     lambda b: "subject" in b["error"]["details"]),
    ("az-bad-purpose", "post", "/access/v1/evaluation", az(purpose="curiosity"), "key", 400,
     lambda b: "context.purpose" in b["error"]["details"]),
    ("az-no-key", "post", "/access/v1/evaluation", az(), None, 401, None),
    ("az-batch", "post", "/access/v1/evaluations", BATCH, "key", 200,
     lambda b: [e["decision"] for e in b["evaluations"]] == [True, False, False, False, False]
     and "error" in b["evaluations"][1]["context"]),
    ("az-batch-deny-first", "post", "/access/v1/evaluations",
     {**BATCH, "options": {"evaluations_semantic": "deny_on_first_deny"}}, "key", 200,
     lambda b: b["evaluations"][-1]["context"]["reason"] == "deny_on_first_deny"),
    ("az-batch-permit-first", "post", "/access/v1/evaluations",
     {**BATCH, "options": {"evaluations_semantic": "permit_on_first_permit"}}, "key", 200,
     lambda b: len(b["evaluations"]) == 1),
    ("az-batch-as-single", "post", "/access/v1/evaluations", az(), "key", 200,
     lambda b: b["decision"] is True),
    ("az-batch-bad-semantic", "post", "/access/v1/evaluations",
     {**BATCH, "options": {"evaluations_semantic": "first"}}, "key", 400, None),
    ("az-batch-malformed", "post", "/access/v1/evaluations", ("[", "application/json"), "key",
     400, None),
    ("az-batch-manage-only", "post", "/access/v1/evaluations", BATCH, "manage", 403, None),
    ("az-metadata", "get", "/.well-known/authzen-configuration", None, None, 200, None),
    ("audit", "get", "/api/v1/audit", None, "key", 200, lambda b: b["events"]),
    ("audit-filtered", "get",
     "/api/v1/audit?subject=alice&kind=decision&since=2026-11-23T00:00:00Z"
     "&until=2026-11-24T00:00:00&limit=1", None, "key", 200,
     lambda b: b["next_after"] is not None and b["events"][0]["subject"] == "alice"),
    ("audit-empty", "get", "/api/v1/audit?participant=nobody&after=5", None, "key", 200,
     lambda b: b == {"events": [], "next_after": None}),
    ("audit-bad-since", "get", "/api/v1/audit?since=yesterday", None, "key", 400, None),
    ("audit-bad-limit", "get", "/api/v1/audit?limit=0", None, "key", 400, None),
    ("audit-no-key", "get", "/api/v1/audit", None, None, 401, None),
    ("audit-decide-only", "get", "/api/v1/audit", None, "decide", 403, None),
    ("healthz", "get", "/healthz", None, None, 200, None),
    ("openapi", "get", "/api/v1/openapi.json", None, None, 200,
     lambda b: b["servers"] == [{"url": "http://localhost"}]),
]


def spec_path(url: str) -> str:
    """The documented path a URL is served under (a concrete path before a templated one)."""
    path = url.split("?")[0]
    if path in SPEC["paths"]:
        return path
    parts = path.split("/")
    matches = [template for template in SPEC["paths"]
               if len(segments := template.split("/")) == len(parts) and all(
                   t == s or t.startswith("{") for t, s in zip(segments, parts, strict=True))]
    assert len(matches) == 1, f"{path} matches {matches or 'no documented path'}"
    return matches[0]


def declared_response(path: str, method: str, status: int) -> tuple[dict, str]:
    """The declared response (refs followed) and a JSON pointer to it."""
    operation = SPEC["paths"].get(path, {}).get(method)
    assert operation is not None, f"{method.upper()} {path} is not documented"
    response = operation["responses"].get(str(status))
    assert response is not None, f"{method.upper()} {path}: status {status} is not documented"
    pointer = "/paths/{}/{}/responses/{}".format(path.replace("~", "~0").replace("/", "~1"),
                                                 method, status)
    if "$ref" in response:
        pointer = response["$ref"].removeprefix("#")
        response = SPEC["components"]["responses"][pointer.rsplit("/", 1)[1]]
    return response, pointer


def response_schema(path: str, method: str, status: int,
                    media: str = "application/json") -> tuple[dict, str]:
    """The declared response and a JSON pointer to its schema for ``media``."""
    response, pointer = declared_response(path, method, status)
    assert "schema" in response.get("content", {}).get(media, {}), \
        f"{method.upper()} {path} {status}: no {media} schema"
    return response, f"{pointer}/content/{media.replace('/', '~1')}/schema"


def validate(instance, pointer: str) -> list[str]:
    validator = Draft202012Validator({"$ref": SPEC_URI + "#" + pointer}, registry=REGISTRY,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(instance)]


def check_body(response, pointer: str, declared: dict, what: str) -> None:
    """The body validates against the schema at ``pointer`` (JSON, or text as a string);
    required headers are sent and every declared header sent matches its schema."""
    media = pointer.rsplit("/", 2)[-2].replace("~1", "/")
    assert response.mimetype == media, f"{what}: {response.mimetype}, declared {media}"
    body = response.json if media == "application/json" else response.get_data(as_text=True)
    errors = validate(body, pointer)
    assert not errors, f"{what} {response.status_code}: {errors}"
    for name, header in declared.get("headers", {}).items():
        assert "$ref" in header, f"{what}: {name}: declare it in components/headers"
        target = header["$ref"].removeprefix("#")
        if name in response.headers:
            errors = validate(response.headers[name], f"{target}/schema")
            assert not errors, f"{what}: {name}: {errors}"
        else:
            required = SPEC["components"]["headers"][target.rsplit("/", 1)[1]].get("required")
            assert not required and name != "X-Request-ID", f"{what}: no {name} header"
    if "X-Request-ID" in declared.get("headers", {}):
        assert response.headers["X-Request-ID"] == "req-42"


def check_against_spec(url: str, method: str, response) -> None:
    """The response is one the document declares for this URL, method and status."""
    path = spec_path(url)
    declared, pointer = response_schema(path, method, response.status_code, response.mimetype)
    check_body(response, pointer, declared, f"{method.upper()} {path}")


def test_document_is_valid_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1.")
    validate_openapi(SPEC)


def test_served_document_is_the_file_with_a_server(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    served = response.json
    assert served.pop("servers") == [{"url": "http://localhost"}]
    assert served == SPEC
    validate_openapi(response.json)


def test_every_route_is_documented_and_every_documented_route_exists(app):
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIXES):
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            served |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, item in SPEC["paths"].items() for m in item if m in METHODS}
    assert served == documented


def test_every_operation_declares_its_responses_and_security():
    for path, item in SPEC["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m in METHODS):
            statuses = set(operation["responses"])
            assert any(s.startswith("2") for s in statuses), (path, method)
            if "requestBody" in operation:
                assert "400" in statuses, (path, method)
            if operation.get("security", SPEC["security"]):
                assert {"401", "403", "503"} <= statuses, (path, method)
                scopes = operation["security"][0]["ApiKey"]
                assert scopes and f"`{scopes[0]}`" in operation["description"], (path, method)
            for status in statuses:
                content = declared_response(path, method, int(status))[0].get("content", {})
                assert content, (path, method, status)
                if not status.startswith("2"):  # an error is always the JSON envelope
                    assert set(content) == {"application/json"}, (path, method, status)
                for media in content:
                    response_schema(path, method, int(status), media)


def test_examples_match_their_schemas():
    def walk(node, pointer):
        if isinstance(node, dict):
            if "schema" in node:
                validator = Draft202012Validator({"$ref": f"{SPEC_URI}#{pointer}/schema"},
                                                 registry=REGISTRY)
                examples = {n: e["value"] for n, e in node.get("examples", {}).items()}
                if "example" in node:
                    examples["example"] = node["example"]
                for name, example in examples.items():
                    errors = [e.message for e in validator.iter_errors(example)]
                    assert not errors, (pointer, name, errors)
                    yield name
            for key, value in node.items():
                yield from walk(value, f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}")

    assert len(list(walk(SPEC, ""))) >= 15


@pytest.mark.parametrize("name,method,url,body,auth,status,check", CASES,
                         ids=[case[0] for case in CASES])
def test_real_response_matches_the_document(api, org_app, name, method, url, body, auth,
                                            status, check):
    assert api.post("/api/v1/decisions", json=GOOD).status_code == 200  # something to audit
    headers = {"X-Request-ID": "req-42"}
    if auth is None:
        api.environ_base.pop("HTTP_AUTHORIZATION")
    elif auth != "key":
        key = UNKNOWN_KEY if auth == "bad" else new_key(org_app, auth)
        headers["Authorization"] = f"Bearer {key}"
    kwargs = {"data": body[0], "content_type": body[1]} if isinstance(body, tuple) else \
        {"json": body}
    response = api.open(url, method=method.upper(), headers=headers,
                        **(kwargs if body is not None else {}))
    assert response.status_code == status, response.get_data(as_text=True)
    check_against_spec(url, method, response)
    assert check is None or check(response.json), response.json


@pytest.mark.parametrize("method,path,body", [
    ("get", "/healthz", None), ("post", "/api/v1/decisions", GOOD),
    ("post", "/access/v1/evaluation", az())])
def test_unreachable_store_is_a_documented_503(method, path, body):
    assert_unreachable_store_is_a_documented_503(method, path, body)


def assert_unreachable_store_is_a_documented_503(method: str, path: str, body) -> None:
    """An app whose database cannot be reached answers a documented 503 (fails closed)."""
    app = create_app({"GOVERNANCE_DATABASE_URL":
                      "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2",
                      "TESTING": True, "GOVERNANCE_SECRET_KEY": "x"})
    response = app.test_client().open(path, method=method.upper(), json=body, headers={
        "Authorization": f"Bearer {UNKNOWN_KEY}", "X-Request-ID": "req-42"})
    assert response.status_code == 503
    check_against_spec(path, method, response)
    state(app).engine.close()


@pytest.mark.parametrize("method,url,name", [
    ("get", "/api/v1/nope", "NotFound"), ("get", "/access/v1/nope", "NotFound"),
    ("get", "/api/v1/decisions", "MethodNotAllowed"),
    ("put", "/access/v1/evaluation", "MethodNotAllowed")])
def test_generic_errors_match_their_components(api, method, url, name):
    response = api.open(url, method=method.upper(), headers={"X-Request-ID": "req-42"})
    declared = SPEC["components"]["responses"][name]
    assert response.status_code == {"NotFound": 404, "MethodNotAllowed": 405}[name]
    check_body(response, f"/components/responses/{name}/content/application~1json/schema",
               declared, url)
