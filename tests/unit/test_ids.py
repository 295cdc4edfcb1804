"""core/ids.py makes ULIDs as python-ulid does (the oracle): the same text for the same bits, the same order."""
from __future__ import annotations

import threading

from hypothesis import given, settings
from hypothesis import strategies as st
from ulid import ULID, ULIDGenerator

from chalicelib.core import clock, ids
from chalicelib.core.clock import FrozenClock


@settings(max_examples=300)
@given(milliseconds=st.integers(0, ids.MAX_TIMESTAMP), randomness=st.integers(0, ids.MAX_RANDOMNESS))
def test_the_text_of_any_ulid_is_python_ulids(milliseconds, randomness):
    expected = ULID.from_bytes(milliseconds.to_bytes(6, "big") + randomness.to_bytes(10, "big"))
    assert ids.ulid_text(milliseconds, randomness) == str(expected)


def test_an_id_carries_the_mall_clocks_millisecond():
    previous = clock.use(FrozenClock("2026-11-25T04:00:00.123Z"))
    try:
        made = ids.new_id()
    finally:
        clock.use(previous)
    assert ULID.from_str(made).datetime == ULID.from_datetime(FrozenClock("2026-11-25T04:00:00.123Z").now()).datetime
    assert len(made) == 26 and ids.is_out_trade_no(made)


def test_ids_of_one_millisecond_count_up_as_python_ulid_does():
    frozen = FrozenClock("2026-11-25T04:00:00Z")
    previous = clock.use(frozen)
    try:
        made = [ids.new_id() for _ in range(50)]
        frozen.advance(0.001)
        later = ids.new_id()
    finally:
        clock.use(previous)
    numbers = [int(ULID.from_str(text)) for text in made]
    assert numbers == list(range(numbers[0], numbers[0] + 50)), "each id is the previous one plus one"
    assert later > made[-1]
    # python-ulid's own generator, fed the same first randomness, makes the same ids
    first = numbers[0] & ids.MAX_RANDOMNESS
    oracle = ULIDGenerator(randomness=lambda _ms: first.to_bytes(10, "big"))
    assert [str(oracle.generate(frozen.now().replace(microsecond=0))) for _ in range(50)] == made


def test_ids_made_by_many_threads_at_once_are_distinct():
    frozen = FrozenClock("2026-11-25T04:00:00Z")
    previous = clock.use(frozen)
    made: list[str] = []
    try:
        threads = [threading.Thread(target=lambda: made.extend(ids.new_id() for _ in range(200))) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        clock.use(previous)
    assert len(set(made)) == 1600
