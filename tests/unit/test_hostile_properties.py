"""Property-based: any input gives a decision request or a named error, never another
exception; the glob matcher agrees with a reference and finishes for patterns of any shape."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance import jsontext
from governance.policy import patterns
from governance.policy.request import DecisionRequest, RequestError, parse_decision_request

pytestmark = pytest.mark.timeout(120)
SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

id_text = st.text(alphabet="ab.*_", max_size=12)


def reference_match(text: str, pattern: str) -> bool:
    """The old definition: each ``*`` as ``.*`` in a regular expression (fine for short input)."""
    return re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text) is not None


@SETTINGS
@given(text=id_text, pattern=id_text)
def test_glob_matches_exactly_as_the_regular_expression_reference(text, pattern):
    assert patterns.field_match(text, pattern) == reference_match(text, pattern)


@SETTINGS
@given(stars=st.integers(1, 200), filler=st.sampled_from(["", "a", "ab", "."]))
def test_many_star_patterns_finish_on_ids_that_almost_match(stars, filler):
    pattern = (filler + "*") * stars + "b"
    text = "a" * 200  # no "b": a backtracking matcher would try every split
    assert patterns.field_match(text, pattern) is False


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=30))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)),
    max_leaves=20)
members = st.sampled_from(["subject", "action", "participant", "program", "fields", "purpose",
                           "recipient", "bundle", "justification", "escalation", "bundel"])
requests = st.dictionaries(members, st.one_of(json_values, st.just("view"),
                                              st.lists(st.sampled_from(["*", "a.b", "a.*"]))),
                           max_size=11)


@SETTINGS
@given(data=st.one_of(requests, json_values))
def test_any_decoded_body_is_a_request_or_a_named_error(data):
    try:
        request = parse_decision_request(data)
    except RequestError as exc:
        assert exc.details and all(isinstance(k, str) for k in exc.details)
        return
    assert isinstance(request, DecisionRequest)
    assert all(patterns.is_pattern(f) and len(f) <= 200 for f in request.fields)


@SETTINGS
@given(body=st.one_of(st.binary(max_size=200),
                      st.text(alphabet='{}[]":,1a\\ud800 ', max_size=200).map(str.encode)))
def test_any_bytes_are_json_or_a_json_error(body):
    try:
        jsontext.loads(body)
    except jsontext.JsonError as exc:
        assert str(exc)


@pytest.mark.parametrize("body,problem", [
    (b'{"a": 1, "a": 2}', "duplicate member name 'a'"),
    (b'{"x": {"a": 1, "b": 2, "a": 3}}', "duplicate member name 'a'"),
    (b"[" * 33 + b"]" * 33, "nested deeper than 32"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nested deeper than 32"),
    (b"[" * 5000 + b"]" * 5000, "nested deeper than 32"),
    (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper than 32"),
    (b'"\\ud800"', "not valid JSON"),
    (b'{"subject": "\\udc00x"}', "not valid JSON"),
    (b"NaN", "not valid JSON"),
    (b'\xff\xfe{"a": 1}', "not valid JSON"),
])
def test_ambiguous_or_hostile_json_is_refused_by_name(body, problem):
    with pytest.raises(jsontext.JsonError, match=re.escape(problem)):
        jsontext.loads(body)


def test_nesting_up_to_the_limit_is_read():
    assert jsontext.loads(b"[" * 32 + b"]" * 32) is not None
