"""Sweeps: same results on any number of workers, nothing lost when killed, failures recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from experiments.engine import collect, execute
from experiments.errors import StudyError
from experiments.samplers import sample
from experiments.scenarios import ScenarioError
from experiments.studies.plan import SweepPlan, load_sweep
from experiments.studies.sweep import run_seeds, sweep, tasks_of

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"
ROOT = Path(__file__).parents[2]


def sweep_file(tmp_path: Path, body: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(f'name = "t"\nbase = "{BASELINE}"\n' + body)
    return path


SMALL = """
sampler = "lhs"
samples = 2
seeds = 2
ticks = 4
outputs = ["unmet_share", "price_accelerator", "contract_coverage"]
[[parameters]]
path = "behaviour.foresight"
range = [0.1, 0.6]
[[parameters]]
path = "labs[OpenAI].training_growth"
range = [0.2, 1.0]
"""


def without_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["seconds"]).reset_index(drop=True)


def test_two_local_workers_give_the_same_table_as_a_serial_run(tmp_path):
    path = sweep_file(tmp_path, SMALL)
    serial = sweep(path, tmp_path / "serial", workers=0, progress=False)
    dask2 = sweep(path, tmp_path / "dask", workers=2, progress=False)
    assert len(serial) == 4 and (serial["status"] == "done").all()
    pd.testing.assert_frame_equal(without_timing(serial), without_timing(dask2))
    # Replicates differ (different seeds), points differ (different parameters).
    assert serial["out:unmet_share"].nunique() == 4
    assert (tmp_path / "dask" / "results.parquet").exists()


def test_seeds_come_from_the_root_seed_and_are_shared_across_points(tmp_path):
    plan, _ = load_sweep(sweep_file(tmp_path, SMALL))
    tasks = tasks_of(plan)
    assert [t.seed for t in tasks if t.point == 0] == [t.seed for t in tasks if t.point == 1]
    assert run_seeds(plan) == run_seeds(plan) and len(set(run_seeds(plan))) == plan.seeds
    other = plan.model_copy(update={"root_seed": 1})
    assert run_seeds(other) != run_seeds(plan)


def test_samplers_respect_ranges_and_sizes():
    params = [{"path": "a", "range": [0.0, 1.0]}, {"path": "b", "range": [10.0, 20.0]}]
    for sampler, n, expected in (("random", 5, 5), ("lhs", 8, 8), ("sobol", 8, 8 * 4),
                                 ("morris", 3, 3 * 3)):  # fmt: skip
        plan = SweepPlan(name="x", sampler=sampler, samples=n, parameters=params)
        x = sample(plan)
        assert len(x) == expected, sampler
        for row in x:
            assert 0.0 <= row[0] <= 1.0 and 10.0 <= row[1] <= 20.0
    lhs = sample(SweepPlan(name="x", sampler="lhs", samples=10, parameters=params))
    # Latin hypercube: one point in each of the 10 strata of every parameter.
    assert sorted(int(v * 10) for v in lhs[:, 0]) == list(range(10))
    grid = sample(SweepPlan(name="x", sampler="grid", levels=3, parameters=params))
    assert len(grid) == 9


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path):
    # foresight = 5 is outside [0, 1]: that run's scenario is invalid and raises.
    body = """
sampler = "grid"
seeds = 1
ticks = 3
outputs = ["unmet_share"]
[[parameters]]
path = "behaviour.foresight"
values = [0.3, 5.0, 0.5]
"""
    for workers in (0, 2):
        df = sweep(sweep_file(tmp_path, body), tmp_path / f"w{workers}", workers=workers,
                   progress=False)  # fmt: skip
        assert list(df["status"]) == ["done", "failed", "done"]
        assert "foresight" in df.loc[1, "error"]
        assert df.loc[[0, 2], "out:unmet_share"].notna().all()


def die_once(params, seed):
    """A runner whose first attempt of every run kills its worker process."""
    marker = Path(params["dir"]) / f"{params['k']}.tried"
    if not marker.exists():
        marker.write_text("x")
        os._exit(1)
    return {"y": params["k"] * 2.0}


def test_a_killed_workers_runs_are_retried(tmp_path):
    import dask

    params = [{"path": "k", "values": [1, 2, 3]}, {"path": "dir", "values": [str(tmp_path)]}]
    plan = SweepPlan(name="die", sampler="grid", parameters=params)
    # Three deaths in all: a run queued on a dying worker counts each one against it, so
    # give Dask's allowance (default 3) headroom; the point is that the runs come back.
    with dask.config.set({"distributed.scheduler.allowed-failures": 10}):
        df = execute(tasks_of(plan), die_once, tmp_path / "out", workers=2, progress=False)
    assert list(df["status"]) == ["done"] * 3
    assert list(df["out:y"]) == [2.0, 4.0, 6.0]


def test_a_killed_sweep_resumes_with_every_run_exactly_once(tmp_path):
    body = SMALL.replace("samples = 2", "samples = 6").replace("ticks = 4", "ticks = 10")
    path = sweep_file(tmp_path, body)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--workers", "0",
           "--out", str(out), "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list((out / "parts").glob("*.parquet"))) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "parts").glob("*.parquet")}
    assert 3 <= len(before) < 12, "the kill should land part way"
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 2 and "--resume" in again.stderr  # refuses to overwrite
    resumed = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    df = collect(out)
    assert sorted(df["run"]) == sorted(t.run for t in tasks_of(load_sweep(path)[0]))
    assert df["run"].is_unique and (df["status"] == "done").all()
    for name, mtime in before.items():  # finished runs were kept, not redone
        assert (out / "parts" / name).stat().st_mtime_ns == mtime
    assert not list((out / "parts").glob(".*.tmp"))
    journal = (out / "runs.jsonl").read_text().splitlines()
    assert len(journal) == 12  # each run journaled exactly once


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (SMALL + "\nsampels = 3\n", "sampels"),
        (SMALL.replace('"lhs"', '"lhc"'), "sampler"),
        (SMALL.replace('"unmet_share"', '"unmet"'), "outputs[0]"),
        (SMALL.replace("behaviour.foresight", "behaviour.foresite"), "parameters[0].path"),
        (SMALL.replace("[0.1, 0.6]", "[0.6, 0.1]"), "parameters"),
        (SMALL.replace("seeds = 2", "seeds = 0"), "seeds"),
    ],
)
def test_a_malformed_sweep_file_names_the_field(tmp_path, body, field):
    path = sweep_file(tmp_path, body, "bad.toml")
    with pytest.raises(ScenarioError) as info:
        load_sweep(path)
    assert "bad.toml" in str(info.value) and field in str(info.value)


@pytest.mark.parametrize("path", sorted((ROOT / "experiments" / "sweeps").glob("*.toml")))
def test_shipped_sweep_files_load(path):
    plan, base = load_sweep(path)
    assert base is not None and len(tasks_of(plan)) >= plan.seeds


def test_package_level_api_returns_dataframes(tmp_path):
    import experiments

    df = experiments.sweep(sweep_file(tmp_path, SMALL), tmp_path / "api", progress=False)
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert callable(experiments.whatif) and callable(experiments.sensitivity)


def test_resume_drops_half_written_parts_and_journals_missed_runs(tmp_path):
    path = sweep_file(tmp_path, SMALL)
    out = tmp_path / "out"
    sweep(path, out, progress=False)
    parts = out / "parts"
    victim = sorted(parts.glob("*.parquet"))[0]
    (parts / f".{victim.name}.tmp").write_bytes(b"half")  # a kill mid-write
    lines = (out / "runs.jsonl").read_text().splitlines()
    (out / "runs.jsonl").write_text("\n".join(lines[1:]) + "\n")  # a kill before journaling
    df = sweep(path, out, resume=True, progress=False)
    assert len(df) == 4 and df["run"].is_unique
    assert not list(parts.glob(".*.tmp"))
    journaled = [line for line in (out / "runs.jsonl").read_text().splitlines() if line]
    assert len(journaled) == 4 and "recovered" in journaled[-1]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (SMALL.replace("ticks = 4", "ticks = 41"), "ticks", "past the base scenario's horizon"),
        (
            SMALL.replace("labs[OpenAI].training_growth", "behaviour.foresight"),
            "parameters[1].path",
            "listed twice",
        ),  # fmt: skip
        (
            SMALL.replace('sampler = "lhs"', 'sampler = "grid"').replace(
                "range = [0.1, 0.6]", "values = []"
            ),
            "parameters[0]",
            "values is empty",
        ),  # fmt: skip
        (SMALL.replace("samples = 2", f"samples = {2**62}"), "samples", "must be <="),
        (SMALL.replace("seeds = 2", f"seeds = {2**40}"), "seeds", "must be <="),
        (
            SMALL.replace('sampler = "lhs"', 'sampler = "grid"\nlevels = 1000')
            + "".join(
                f'[[parameters]]\npath = "labs[{i}].volatility"\nrange = [0.1, 0.2]\n'
                for i in range(3)
            ),
            "runs",
            "lower samples",
        ),  # fmt: skip
    ],
)
def test_a_plan_out_of_bounds_is_refused_naming_the_field(tmp_path, body, field, words):
    path = sweep_file(tmp_path, body, "bad.toml")
    with pytest.raises(ScenarioError) as info:
        load_sweep(path)
    message = str(info.value)
    assert "bad.toml" in message and field in message and words in message, message


def test_a_very_large_sweep_needs_yes_and_says_its_size(tmp_path, capsys):
    from experiments.cli import main

    body = SMALL.replace("samples = 2", "samples = 6000")  # 6000 points x 2 seeds
    path = sweep_file(tmp_path, body)
    out = tmp_path / "big"
    assert main(["sweep", str(path), "--workers", "0", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "12,000 runs" in err and "--yes" in err and "hours" in err
    assert not (out / "parts").exists()  # nothing started
    with pytest.raises(StudyError, match="12,000 runs"):
        sweep(path, out, progress=False)
