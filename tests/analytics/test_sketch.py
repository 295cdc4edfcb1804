"""The HyperLogLog sketches that estimate distinct visitors over a range of days."""
from __future__ import annotations

from chalicelib.analytics import sketch


def sketch_of(members) -> bytearray:
    registers = sketch.empty()
    sketch.add(registers, members)
    return registers


def test_small_counts_are_exact_and_a_thousand_within_half_a_percent():
    for size in (0, 1, 2, 10, 100):
        assert sketch.estimate(sketch_of(f"u:{n}" for n in range(size))) == size
    assert abs(sketch.estimate(sketch_of(f"u:{n}" for n in range(1000))) - 1000) <= 5


def test_large_counts_stay_within_a_few_standard_errors():
    for size in (20_000, 200_000):
        estimate = sketch.estimate(sketch_of(f"d:device-{n}" for n in range(size)))
        assert abs(estimate - size) / size < 3 * sketch.STANDARD_ERROR, (size, estimate)


def test_adding_a_member_again_changes_nothing():
    registers = sketch_of(["u:a", "u:b"])
    assert sketch.add(registers, ["u:a", "u:b"]) is False
    assert sketch.add(registers, ["u:c"]) is True


def test_the_union_of_days_counts_a_visitor_of_both_days_once():
    monday, tuesday = sketch_of(f"u:{n}" for n in range(0, 600)), sketch_of(f"u:{n}" for n in range(400, 1000))
    both = sketch.union([monday, tuesday])
    assert both == sketch_of(f"u:{n}" for n in range(1000)), "the union is the sketch of everyone, once each"
    assert sketch.union([]) == sketch.empty()


def test_a_sketch_survives_its_encoding():
    registers = sketch_of(f"u:{n}" for n in range(5000))
    assert sketch.decode(sketch.encode(registers)) == registers
    assert len(sketch.encode(sketch_of(["u:one"]))) < 100, "a small day's sketch stays small"
    assert sketch.decode(None) == sketch.empty()
