"""Ids: unique under concurrency, carrying the moment they were made."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ulid import ULID

from governance.ids import new_id


def test_ids_are_unique_across_threads_and_carry_their_millisecond():
    before = time.time()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: new_id("dec"), range(20000)))
    after = time.time()
    assert len(set(ids)) == len(ids)
    for value in ids[:: 997]:
        prefix, _, text = value.partition("_")
        assert prefix == "dec" and len(text) == 26
        assert before - 0.001 <= ULID.from_str(text).timestamp <= after + 0.001
