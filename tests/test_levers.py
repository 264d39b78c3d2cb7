"""The lever table: every lever run against the base row of its own run."""

import json


def test_lever_summary_pairs_each_lever_with_the_base_of_its_own_run(tmp_path):
    from benchmark.scripts.levers import summarise

    def row(lever, wins, p=None):
        return {
            "env": "E",
            "lever": lever,
            "success %": f"{10 * wins}",
            "expert %": 100,
            "p vs base": p,
            "p vs floor": 0.5,
            "_success": [True] * wins + [False] * (10 - wins),
        }

    lines = [row("base", 2), row("a", 6, 0.1), row("base", 4), row("b", 5, 1.0)]
    (tmp_path / "levers-e.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    df = summarise(tmp_path)
    assert df["lever"].tolist() == ["a", "b"]
    assert df["change (points)"].tolist() == [40, 10]
    assert df[">= half expert"].tolist() == [True, True]
