"""The plain path of ``normal_dn`` answers exactly as ldap3's ``safe_dn`` does wherever both
apply (and the escaped DNs take ``safe_dn``'s path)."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ldap3.utils.dn import safe_dn

from governance.directory.reader import normal_dn

ATTR = st.sampled_from(["uid", "cn", "ou", "dc", "UID", "Cn", "o"])
VALUE = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_. @", min_size=1,
                max_size=12).map(str.strip).filter(bool)


@given(st.lists(st.tuples(ATTR, VALUE), min_size=1, max_size=5))
def test_the_plain_path_agrees_with_safe_dn(rdns):
    dn = ",".join(f"{a}={v}" for a, v in rdns)
    assert normal_dn(dn) == safe_dn(dn).lower()


@pytest.mark.parametrize("dn", ["cn=Smith\\, John,ou=People,dc=x", "cn=a+uid=b,dc=x",
                                "cn=#04024869,dc=x"])
def test_escaped_and_multi_valued_dns_take_safe_dns_path(dn):
    assert normal_dn(dn) == safe_dn(dn).lower()


def test_spacing_and_case_do_not_matter():
    assert normal_dn("UID=Ann , OU=People,dc=Example") == "uid=ann,ou=people,dc=example"



SPACE = st.sampled_from(["", " ", "  ", "\t", "\u00a0"])


def split_plainly(dn: str) -> str:
    """The slower plain path: each RDN's type and value stripped, then lower case."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1))
                    for rdn in dn.split(",")).lower()


@given(st.lists(st.tuples(SPACE, ATTR, SPACE, SPACE, VALUE, SPACE), min_size=1, max_size=5))
def test_the_quickest_path_answers_as_splitting_does_whatever_the_spacing(rdns):
    dn = ",".join(f"{a}{attr}{b}={c}{value}{d}" for a, attr, b, c, value, d in rdns)
    assert normal_dn(dn) == split_plainly(dn)
