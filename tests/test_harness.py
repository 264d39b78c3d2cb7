"""The harness: the smoke grid end to end, resume, failures, records and the report, on the toy
env, model and planner of tests/plugins (the ``plugins`` fixture, tests/conftest.py; the README
recipes themselves are tests/test_recipes.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from plugins import tiny_run

import run_benchmark
from agents import planners, world_models
from benchmark import grid, suites
from benchmark.grid import RunConfig, run
from benchmark.report import ReportConfig, build_report, leaderboard
from benchmark.results import SCHEMA_VERSION, load_records, write_record


def test_the_page_links_figures_relative_to_itself(plugins, tmp_path, monkeypatch):
    run(tiny_run(tmp_path), progress=False)
    monkeypatch.chdir(tmp_path)
    build_report(ReportConfig(out=Path("results")))  # a relative --out, as users type it
    page = (tmp_path / "results" / "index.html").read_text()
    assert 'src="figures/smoke/success.png"' in page


def test_finished_cells_are_not_recomputed(plugins, tmp_path, monkeypatch):
    cfg = tiny_run(tmp_path, planners=("shooting", "cem"))
    first = run(cfg, progress=False)
    assert all(r["status"] == "ok" for r in first.values())

    def boom(*args):
        raise AssertionError("a finished cell was recomputed")

    monkeypatch.setattr(grid, "evaluate_stage", boom)
    monkeypatch.setattr(grid, "train_stage", boom)
    assert run(cfg, progress=False) == first
    # a new planner reuses the dataset and the checkpoint, and evaluates only its own cell
    monkeypatch.setattr(grid, "train_stage", boom)
    calls = []
    monkeypatch.setattr(
        grid, "evaluate_stage", lambda *a: calls.append(a[2].planner) or _real_eval(*a)
    )
    run(tiny_run(tmp_path, planners=("shooting", "cem", "mppi")), progress=False)
    assert calls == ["mppi"]


def _real_eval(*args):
    from benchmark.evaluate import evaluate

    checkpoint, dataset, eval_cfg, device, video_dir = args
    return evaluate(checkpoint, dataset, eval_cfg, device=device, video_dir=video_dir)


def test_a_crashed_cell_is_recorded_and_the_grid_goes_on(plugins, tmp_path, monkeypatch):
    from plugins.random_shooting import RandomShooting

    class Broken(RandomShooting):
        name = "broken"

        def _solve(self, *args):
            raise RuntimeError("planner exploded")

    monkeypatch.setitem(planners.REGISTRY, "broken", Broken)
    records = run(tiny_run(tmp_path, planners=("broken", "shooting")), progress=False)
    status = {c.planner: r["status"] for c, r in records.items()}
    assert status == {"broken": "failed", "shooting": "ok"}
    broken = next(r for c, r in records.items() if c.planner == "broken")
    assert "planner exploded" in broken["error"] and "Traceback" in broken["traceback"]
    build_report(ReportConfig(out=tmp_path / "results"))
    assert "planner exploded" in (tmp_path / "results" / "leaderboard.md").read_text()


def test_old_schema_records_are_reported_not_mixed_in(plugins, tmp_path):
    run(tiny_run(tmp_path), progress=False)
    old = tmp_path / "results" / "runs" / "smoke" / "old.jsonl"
    rec = json.loads(next((tmp_path / "results" / "runs" / "smoke").glob("Dot*")).read_text())
    rec["schema_version"] = 1  # older than any schema this wmbench reads
    rec["cell"]["planner"] = "ancient"
    old.write_text(json.dumps(rec) + "\n")
    with pytest.warns(UserWarning, match="schema_version"):
        records, problems = load_records(tmp_path / "results")
    assert len(records) == 1 and len(problems) == 1
    with pytest.warns(UserWarning):
        df = build_report(ReportConfig(out=tmp_path / "results"))
    assert "ancient" not in set(df["planner"])
    assert "records not included" in (tmp_path / "results" / "leaderboard.md").read_text()


def test_interrupted_write_leaves_no_half_record(tmp_path, monkeypatch):
    path = tmp_path / "runs" / "smoke" / "x.jsonl"

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr("benchmark.results.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_record(path, {"status": "ok"})
    assert not path.exists()
    assert load_records(tmp_path) == ([], [])


def test_unknown_names_list_the_valid_ones(tmp_path):
    for kw, match in (
        (dict(envs=("wmbench/Nope-v0",)), "valid ids"),
        (dict(models=("jepa9000",)), "valid: " + re.escape(", ".join(world_models.names()))),
        (dict(planners=("astar",)), "valid names: " + re.escape(", ".join(planners.names()))),
        (dict(suite="huge"), "valid: smoke, quick, paper"),
        (dict(executor="slurm"), "valid: local, ray"),
    ):
        with pytest.raises(ValueError, match=match):
            run(RunConfig(out=tmp_path, data=tmp_path, **kw), progress=False)


def test_comma_separated_axes():
    suite, e, m, p, s = grid.resolve(
        RunConfig(
            envs=("wmbench/TwoRoom-v0",),
            models=("lewm",),
            planners=("cem,mppi", "gd"),
            seeds=("0,1", "2"),
        )
    )
    assert p == ("cem", "mppi", "gd") and s == (0, 1, 2)


def test_cli_help_and_unknown_subcommand(capsys):
    with pytest.raises(SystemExit):
        run_benchmark.main(["--help"])
    assert "--suite" in capsys.readouterr().out
    assert run_benchmark.main(["frobnicate"]) == 2


def _record(seed, successes, planner="p", noop=None, random=None, expert=None):
    n = len(successes)

    def outs(xs):
        return [{"success": bool(x), "success_final": bool(x), "final_distance": 0.0} for x in xs]

    return {
        "status": "ok",
        "suite": "s",
        "device": "cpu",
        "git_commit": "abc",
        "cell": {"env_id": "wmbench/E-v0", "model": "m", "planner": planner, "seed": seed},
        "outcomes": outs(successes),
        "baselines": {
            "noop": outs(noop or [0] * n),
            "random": outs(random or [0] * n),
            "expert": outs(expert or [1] * n),
        },
        "tasks": [{"episode": i, "step": 0} for i in range(n)],
        "tasks_digest": "d",
        "eval_config": {"goal_offset": 25, "budget": 50, "horizon": 5, "receding": 0},
        "solve_time_per_episode_s": 0.1,
        "prediction": {},
        "_path": f"runs/s/E__m__{planner}__s{seed}.jsonl",
    }


def test_leaderboard_pools_tasks_over_seeds():
    df = leaderboard([_record(0, [1, 1, 0, 0]), _record(1, [1, 1, 1, 1])])
    assert df.loc[0, "success_%"] == pytest.approx(75.0)
    assert df.loc[0, "tasks"] == 4 and df.loc[0, "seeds"] == 2
    assert df.loc[0, "ci95_low_%"] < 75 < df.loc[0, "ci95_high_%"]
    assert (df.loc[0, "noop_%"], df.loc[0, "expert_%"]) == (0.0, 100.0)


def test_leaderboard_paired_tests_against_the_floor_and_the_best_cell():
    n = 12
    noop = [1, 1] + [0] * (n - 2)  # doing nothing solves tasks 0 and 1
    random = [0] * (n - 1) + [1]
    good = _record(0, [1] * n, "good", noop, random)  # 10 wins, no loss vs noop
    floorish = _record(0, [1, 1, 1] + [0] * (n - 3), "floorish", noop, random)
    df = leaderboard([good, floorish]).set_index("planner")
    assert df.loc["good", "better_floor"] == "noop"
    assert df.loc["good", "p_vs_floor"] == pytest.approx(2 / 2**10)
    assert df.loc["good", "above_floor"] and not df.loc["floorish", "above_floor"]
    assert df.loc["floorish", "p_vs_floor"] == 1.0  # one win, no loss
    assert df.loc["good", "p_vs_best"] == 1.0  # it is the best cell
    assert df.loc["floorish", "p_vs_best"] == pytest.approx(2 / 2**9)


def test_records_without_floors_are_named_for_a_rerun(tmp_path):
    old = _record(0, [1, 0], "old")
    del old["baselines"]
    new = _record(0, [1, 0], "new")
    root = tmp_path / "runs" / "s"
    root.mkdir(parents=True)
    for r in (old, new):
        body = {k: v for k, v in r.items() if k != "_path"}
        write_record(root / f"{r['cell']['planner']}.jsonl", body)
    with pytest.warns(UserWarning, match="old.jsonl has no per-task floors"):
        df = build_report(ReportConfig(out=tmp_path))
    assert list(df["planner"]) == ["new"]
    text = (tmp_path / "leaderboard.md").read_text()
    assert "records to re-run" in text and "old.jsonl" in text


@pytest.mark.slow
def test_ray_executor_gives_the_same_records(tmp_path):
    """The smoke grid on a real local Ray instance gives the local executor's outcomes. (Built-in
    components only: an env/model/planner registered at run time in the driver, like the
    recipes' toys, does not exist in Ray's worker processes; ship it as an importable module.)"""
    pytest.importorskip("ray")

    def smoke(name, **kw):
        return RunConfig(
            suite="smoke",
            planners=("cem", "gd"),
            out=tmp_path / name,
            data=tmp_path / name / "data",  # each run collects and trains on its own
            device="cpu",
            workers=1,
            **kw,
        )

    local = run(smoke("local"), progress=False)
    ray_run = run(smoke("ray", executor="ray"), progress=False)
    assert set(local) == set(ray_run)
    for cell, rec in local.items():
        assert rec["status"] == ray_run[cell]["status"] == "ok", ray_run[cell].get("error")
        # same successes; distances agree to float noise (Ray workers run torch on 1 thread)
        ours, theirs = rec["outcomes"], ray_run[cell]["outcomes"]
        assert [o["success"] for o in theirs] == [o["success"] for o in ours]
        assert [o["final_distance"] for o in theirs] == pytest.approx(
            [o["final_distance"] for o in ours], abs=1e-4
        )


def test_smoke_suite_end_to_end_from_the_command_line(tmp_path):
    """What CI promises a user: `python run_benchmark.py --suite smoke` collects, trains, plans
    with every planner and writes records, a leaderboard and figures, with a model that has
    learned something (its 1-step prediction beats copying the last frame)."""
    import subprocess
    import sys

    out, data = tmp_path / "results", tmp_path / "data"
    cmd = [sys.executable, "run_benchmark.py", "--suite", "smoke", "--device", "cpu"]
    cmd += ["--out", str(out), "--data", str(data)]
    root = Path(run_benchmark.__file__).parent
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    smoke = suites.get("smoke")
    records, problems = load_records(out)
    assert len(records) == len(smoke.envs) * len(smoke.models) * len(smoke.planners)
    assert not problems
    for rec in records:
        assert rec["status"] == "ok", rec.get("traceback")
        assert rec["suite"] == "smoke"
        assert len(rec["outcomes"]) == 16
        cos = rec["prediction"]
        assert cos["cos"][0] > cos["cos_copy"][0] + 0.3
    assert {r["cell"]["planner"] for r in records} == set(smoke.planners)
    assert "TwoRoom-v0" in (out / "leaderboard.md").read_text()
    assert (out / "leaderboard.csv").exists()
    for fig in ("horizon_error.png", "success.png", "success_vs_time.png"):
        assert (out / "figures" / "smoke" / fig).stat().st_size > 5000
    # Running it again recomputes nothing.
    again = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "0 to run" in again.stdout + again.stderr


def test_per_env_task_settings_reach_the_evaluations():
    plan = grid.build_plan(RunConfig(suite="quick", planners=("cem",)))
    by_env = {cell.env_id: spec.eval for cell, spec in plan.cells.items()}
    maze = by_env["wmbench/PointMaze-v0"]
    assert (maze.goal_offset, maze.budget, maze.horizon, maze.receding) == (50, 75, 10, 5)
    room = by_env["wmbench/TwoRoom-v0"]
    assert (room.goal_offset, room.budget, room.horizon, room.receding) == (25, 50, 5, 0)
    # every env of the quick suite has a protocol chosen for it, none falls back silently
    assert set(by_env) <= set(suites.PROTOCOLS)


def test_failed_collect_and_train_stages_are_printed_and_the_run_exits_nonzero(
    plugins, tmp_path, monkeypatch, capsys
):
    def no_train(*args):
        raise RuntimeError("disk full\nsecond line of the error")

    monkeypatch.setattr(grid, "train_stage", no_train)
    records = run(tiny_run(tmp_path), progress=True)
    assert all(r["status"] == "failed" for r in records.values())
    err = capsys.readouterr().err
    assert "FAILED RuntimeError: disk full" in err and "second line" not in err
    assert "1 of 1 cells FAILED" in err

    def no_collect(*args):
        raise OSError("read-only file system")

    monkeypatch.setattr(grid, "collect_stage", no_collect)
    code = run_benchmark.main(
        [
            "--suite", "smoke", "--envs", "wmbench/TwoRoom-v0", "--planners", "cem",
            "--out", str(tmp_path / "r2"), "--data", str(tmp_path / "d2"), "--device", "cpu",
        ]
    )  # fmt: skip
    assert code == 1
    assert "collect wmbench/TwoRoom-v0: FAILED OSError: read-only file system" in (
        capsys.readouterr().err
    )


def test_report_works_when_no_cell_succeeded(plugins, tmp_path, monkeypatch):
    monkeypatch.setattr(grid, "train_stage", lambda *a: (_ for _ in ()).throw(RuntimeError("x")))
    run(tiny_run(tmp_path), progress=False)
    with pytest.warns(UserWarning, match="no cell .* succeeded"):
        df = build_report(ReportConfig(out=tmp_path / "results"))
    assert df.empty
    text = (tmp_path / "results" / "leaderboard.md").read_text()
    assert "No cell succeeded" in text and "failed cells" in text


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(device="cudaa"), "not a device; valid: auto, cpu, cuda"),
        (dict(seeds=("-1",)), "--seeds: '-1' is not a non-negative integer"),
        (dict(seeds=("one",)), "--seeds: 'one'"),
    ],
)
def test_device_and_seeds_are_checked_before_any_work(plugins, tmp_path, monkeypatch, kw, match):
    monkeypatch.setattr(grid, "collect_stage", lambda *a: pytest.fail("work started"))
    with pytest.raises(ValueError, match=match):
        run(tiny_run(tmp_path, **kw), progress=False)


def test_rerun_recomputes_the_cells_it_names_and_only_those(plugins, tmp_path, monkeypatch):
    cfg = tiny_run(tmp_path, planners=("shooting", "cem"))
    first = run(cfg, progress=False)
    calls = []
    monkeypatch.setattr(
        grid, "evaluate_stage", lambda *a: calls.append(a[2].planner) or _real_eval(*a)
    )
    run(tiny_run(tmp_path, planners=("shooting", "cem"), rerun=("*__CEM__*",)), progress=False)
    assert calls == ["cem"]  # a case-insensitive glob of cell names
    calls.clear()
    again = run(tiny_run(tmp_path, planners=("shooting", "cem"), rerun=("all",)), progress=False)
    assert sorted(calls) == ["cem", "shooting"]
    assert {c: r["cell_fingerprint"] for c, r in again.items()} == {
        c: r["cell_fingerprint"] for c, r in first.items()
    }
    assert "--rerun" not in grid.equivalent_command(tiny_run(tmp_path, rerun=("all",)))


def test_the_code_version_and_the_device_are_part_of_every_fingerprint(
    plugins, tmp_path, monkeypatch
):
    """Editing the code that produced a record (or changing device) never reuses it."""
    from benchmark import provenance

    def keys():
        plan = grid.build_plan(tiny_run(tmp_path))
        ((cell, spec),) = plan.cells.items()
        train = plan.trainings[spec.training].out.name
        return plan.datasets[cell.env_id].fingerprint(), train, spec.fingerprint

    base = keys()
    real = provenance.code_version
    for part in ("data", "train", "eval"):
        monkeypatch.setattr(
            grid, "code_version", lambda p, part=part: "edited" if p == part else real(p)
        )
        import benchmark.collect as collect_mod

        monkeypatch.setattr(
            collect_mod, "code_version", lambda p, part=part: "edited" if p == part else real(p)
        )
        changed = keys()
        # data changes all three; train changes the checkpoint and the cell; eval the cell
        expect = {"data": (0, 1, 2), "train": (1, 2), "eval": (2,)}[part]
        assert [i for i in range(3) if changed[i] != base[i]] == list(expect), part
        monkeypatch.setattr(grid, "code_version", real)
        monkeypatch.setattr(collect_mod, "code_version", real)
    monkeypatch.setattr(grid, "resolve_device", lambda d: __import__("torch").device("cuda"))
    on_gpu = keys()
    assert on_gpu[0] == base[0] and on_gpu[1] != base[1] and on_gpu[2] != base[2]


def test_records_store_no_absolute_paths_and_name_the_code_and_device(plugins, tmp_path):
    (rec,) = run(tiny_run(tmp_path), progress=False).values()
    assert rec["schema_version"] == SCHEMA_VERSION == 3
    text = json.dumps(rec)
    assert str(tmp_path) not in text and str(Path.cwd()) not in text
    assert set(rec["code_version"]) == {"data", "train", "eval"}
    assert rec["device_name"] and rec["checkpoint"]["train_wall_s"] > 0
    assert (tmp_path / "data" / rec["checkpoint"]["path"]).is_dir()
    assert all((tmp_path / "results" / v).is_file() for v in rec["videos"])


def test_a_run_never_writes_the_committed_results_unless_asked():
    assert RunConfig().out != Path("results") and ReportConfig().out != Path("results")
    assert RunConfig().out == ReportConfig().out


def test_a_swept_learning_rate_trains_that_model_in_the_run_the_sweep_made(monkeypatch):
    """suites.LEARNING_RATES changes one model's training, and it lands in the very run
    directory that lr_sweep trained at that rate (grid.training names both)."""
    cfg = RunConfig(suite="quick", envs=("wmbench/TwoRoom-v0",), models=("lewm", "dreamer"))
    before = dict(grid.build_plan(cfg).trainings)
    rates = {**suites.LEARNING_RATES["quick"], "lewm": 1e-3}
    monkeypatch.setitem(suites.LEARNING_RATES, "quick", rates)
    after = dict(grid.build_plan(cfg).trainings)
    lewm, dreamer = ("wmbench/TwoRoom-v0", "lewm", 0), ("wmbench/TwoRoom-v0", "dreamer", 0)
    assert after[dreamer] == before[dreamer]
    assert after[lewm].resolved().lr == 1e-3 and after[lewm].out != before[lewm].out
    suite = suites.get("quick")
    collect_cfg = suites.collect_config(suite, "wmbench/TwoRoom-v0", Path("data/datasets"))
    swept, _ = grid.training(suite, collect_cfg, "lewm", 0, Path("data"), lr=1e-3)
    assert swept.out == after[lewm].out
