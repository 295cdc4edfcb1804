"""The local journal: after-images replayed over the snapshot, folded safely, a torn last line skipped."""
from __future__ import annotations

import json

from infra.local.journal import Journal

SCHEMAS = {"stock": ("sku", None), "carts": ("user_id", "sku_id")}


def stock(sku: str, available: int) -> dict:
    return {"sku": {"S": sku}, "available": {"N": str(available)}}


def journal(directory) -> Journal:
    return Journal(directory, SCHEMAS.get).open()


def test_restore_replays_every_line_over_the_snapshot_in_order(tmp_path):
    written = journal(tmp_path)
    written.append([("stock", None, stock("a", 5)), ("stock", None, stock("b", 1))])
    written.append([("stock", stock("a", 5), stock("a", 4))])
    written.append([("stock", stock("b", 1), None)])

    restored = Journal(tmp_path, SCHEMAS.get).restore()

    assert restored.tables == {"stock": [stock("a", 4)]}
    assert restored.lines_replayed == 3
    assert len(restored.changes_to_redeliver) == 4


def test_a_torn_last_line_is_skipped_and_nothing_before_it(tmp_path):
    written = journal(tmp_path)
    written.append([("stock", None, stock("a", 5))])
    written.close()
    with (tmp_path / "dynamodb.journal").open("a") as file:
        file.write(json.dumps({"w": [["stock", None, stock("z", 1)]]})[:20])  # killed mid-write

    restored = Journal(tmp_path, SCHEMAS.get).restore()

    assert restored.tables == {"stock": [stock("a", 5)]}


def test_folding_keeps_the_state_and_moves_the_segment_to_previous(tmp_path):
    written = journal(tmp_path)
    written.append([("carts", None, {"user_id": {"S": "u"}, "sku_id": {"S": "s1"}, "q": {"N": "1"}})])
    assert written.rotate()
    written.append([("carts", None, {"user_id": {"S": "u"}, "sku_id": {"S": "s2"}, "q": {"N": "2"}})])

    assert written.fold_rotated() == 1
    restored = Journal(tmp_path, SCHEMAS.get).restore()

    assert sorted(item["sku_id"]["S"] for item in restored.tables["carts"]) == ["s1", "s2"]
    assert restored.lines_replayed == 1, "the folded segment is in the snapshot, not replayed"
    assert len(restored.changes_to_redeliver) == 2, "its stream records are delivered again, at least once"


def test_a_segment_folded_twice_changes_nothing(tmp_path):
    """A crash after the snapshot was replaced but before the segment was moved folds it again on start."""
    written = journal(tmp_path)
    written.append([("stock", None, stock("a", 5))])
    written.append([("stock", stock("a", 5), stock("a", 3))])
    written.rotate()
    segment = (tmp_path / "dynamodb.journal.compacting").read_text()
    written.fold_rotated()
    (tmp_path / "dynamodb.journal.compacting").write_text(segment)  # as if the move never happened
    written.append([("stock", stock("a", 3), stock("a", 2))])

    again = Journal(tmp_path, SCHEMAS.get)
    again.fold_rotated()

    assert again.restore().tables == {"stock": [stock("a", 2)]}


def test_rotating_an_empty_journal_does_nothing(tmp_path):
    written = journal(tmp_path)
    assert not written.rotate()
    assert not (tmp_path / "dynamodb.journal.compacting").exists()


def test_items_of_tables_the_code_no_longer_defines_are_left_out(tmp_path):
    written = journal(tmp_path)
    written.append([("retired", None, {"id": {"S": "x"}}), ("stock", None, stock("a", 1))])

    assert Journal(tmp_path, SCHEMAS.get).restore().tables == {"stock": [stock("a", 1)]}


def test_lines_a_killed_run_left_are_folded_by_the_next_run_even_if_it_writes_nothing(tmp_path):
    killed = journal(tmp_path)
    killed.append([("stock", None, stock("a", 5))])  # then kill -9: no rotation, no fold

    next_run = journal(tmp_path)
    assert next_run.rotate()
    next_run.fold_rotated()

    assert json.loads((tmp_path / "dynamodb.json").read_text()) == {"stock": [stock("a", 5)]}
    assert (tmp_path / "dynamodb.journal").stat().st_size == 0
