import math

import pandas as pd

from benchmark.scripts.lr_sweep import choose, rates


def test_the_preset_rate_is_the_middle_of_three():
    for lr in (2e-3, 3e-4, 5e-5):
        swept = rates(lr, (1 / 3, 1.0, 3.0))
        assert swept[1] == lr and swept[0] < lr < swept[2]


def test_choose_takes_the_best_held_out_score_per_model_and_never_a_diverged_run():
    df = pd.DataFrame(
        {
            "model": ["a", "a", "a", "b", "b", "c"],
            "lr": [1, 2, 3, 1, 2, 1],
            "score": [0.2, 0.5, math.nan, math.nan, -0.1, math.nan],
        }
    )
    chosen = choose(df)
    assert chosen.loc[chosen.chosen, ["model", "lr"]].values.tolist() == [["a", 2], ["b", 2]]


def test_score_reads_every_validation_episode(tiny_checkpoint, tworoom_dataset):
    from benchmark.datasets import Recording, WindowDataset
    from benchmark.scripts.lr_sweep import SweepConfig, score

    cfg = SweepConfig(horizon=2, windows=10_000)
    row = score(tiny_checkpoint, tworoom_dataset, tworoom_dataset, cfg)
    assert math.isfinite(row["score"]) and row["step"] == 40
    assert set(row) >= {"skill@1", "skill@2", "mse/copy@1", "train s"}
    # split "all" reaches windows the held-out split alone does not have
    rec = Recording.open(tworoom_dataset, progress=False)
    test, every = (len(WindowDataset(rec, s, 1, 2, 5)) for s in ("test", "all"))
    assert every > test
