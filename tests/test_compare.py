"""Two runs compared cell by cell on the same tasks."""

import json

import pytest

from benchmark.results import Cell, record_path, write_record
from benchmark.scripts.compare import compare, field_diff


def _record(out, wins, digest="t"):
    cell = Cell("wmbench/TwoRoom-v0", "lewm", "cem", 0)
    write_record(
        record_path(out, "quick", cell),
        {
            "suite": "quick",
            "cell": {"env_id": cell.env_id, "model": "lewm", "planner": "cem", "seed": 0},
            "status": "ok",
            "tasks_digest": digest,
            "outcomes": [{"success": i < wins} for i in range(20)],
            "better_floor": "random",
            "random_success_rate": 0.1,
            "expert_success_rate": 1.0,
            "git_commit": "abcdef0123",
        },
    )


def test_compare_pairs_the_cells_per_task(tmp_path):
    _record(tmp_path / "a", 2)
    _record(tmp_path / "b", 12)
    (row,) = compare(tmp_path / "a", tmp_path / "b").to_dict("records")
    assert (row["before %"], row["after %"], row["change (points)"]) == (10, 60, 50)
    assert row["p (paired)"] == pytest.approx(2 * 0.5**10, rel=0.03)  # 10 discordant, all one way


def test_compare_refuses_cells_whose_tasks_differ(tmp_path):
    _record(tmp_path / "a", 2, digest="x")
    _record(tmp_path / "b", 12, digest="y")
    with pytest.raises(ValueError, match="different tasks"):
        compare(tmp_path / "a", tmp_path / "b")


def test_field_diff_sets_apart_times_and_provenance_and_lists_the_rest(tmp_path):
    _record(tmp_path / "a", 2)
    _record(tmp_path / "b", 2)
    (same,) = field_diff(tmp_path / "a", tmp_path / "b").to_dict("records")
    assert same["other"] == "none" and same["wall time"] == same["provenance"] == 0
    _record(tmp_path / "b", 3)  # one task's outcome changes
    path = record_path(tmp_path / "b", "quick", Cell("wmbench/TwoRoom-v0", "lewm", "cem", 0))
    rec = json.loads(path.read_text().splitlines()[-1])
    write_record(path, {**rec, "eval_wall_s": 9.0, "git_commit": "fedcba"})
    (row,) = field_diff(tmp_path / "a", tmp_path / "b").to_dict("records")
    assert row["wall time"] == 1 and row["provenance"] == 1
    assert row["other"] == "outcomes[2].success: False -> True"
