"""One clean error path: every mistake a user can make ends in one message naming what to
change and exit status 2, never a traceback, and nothing is simulated first."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from experiments.cli import main
from experiments.errors import RunError
from experiments.outputs.files import safe_name
from experiments.scenarios import ScenarioError, with_overrides
from experiments.studies.run import MarketRunner
from market.model import MarketModel
from optimizers.errors import ClearingError

sys.path.insert(0, str(Path(__file__).parents[1] / "market"))
from worlds import small_world  # noqa: E402

ROOT = Path(__file__).parents[2]
BASELINE = ROOT / "experiments" / "scenarios" / "baseline.toml"


@pytest.fixture
def no_simulation(monkeypatch):
    """Fail the test if a model is stepped (the error must come before simulating)."""

    def step(self):
        raise AssertionError("simulated before checking the arguments")

    monkeypatch.setattr(MarketModel, "step", step)


# ----------------------------------------------------------------------------- --out


def test_an_out_under_a_file_is_refused_before_simulating(tmp_path, capsys, no_simulation):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    assert main(["run", str(BASELINE), "--ticks", "2", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and "is a file" in err and "Traceback" not in err


def test_a_sweep_out_that_is_a_file_is_refused_before_simulating(tmp_path, capsys, no_simulation):
    plan = ROOT / "experiments" / "sweeps" / "demand_and_hbm.toml"
    (tmp_path / "out").write_text("x")
    assert main(["sweep", str(plan), "--workers", "0", "--out", str(tmp_path / "out"),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_out_is_refused_before_simulating(tmp_path, capsys, no_simulation):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", str(BASELINE), "--out", str(locked / "x"), "--quiet"]) == 2
    finally:
        locked.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


def test_run_into_a_non_empty_folder_needs_force_which_clears_it(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", str(BASELINE), "--ticks", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    (out / "old-notes.txt").write_text("from before")
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err
    assert main([*argv, "--force"]) == 0
    assert not (out / "old-notes.txt").exists() and (out / "ticks.parquet").exists()


def test_force_does_not_clear_a_folder_that_is_not_an_aimarket_run(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", str(BASELINE), "--ticks", "2", "--out", str(out), "--force",
                 "--quiet"]) == 2  # fmt: skip
    assert "manifest.json" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious"


def test_a_scenario_name_cannot_steer_the_output_outside_runs(tmp_path, monkeypatch, capsys):
    text = BASELINE.read_text().replace('name = "baseline"', 'name = "../../escaped"', 1)
    scenario = tmp_path / "evil.toml"
    scenario.write_text(text)
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    code = main(["run", str(scenario), "--ticks", "2", "--quiet"])
    err = capsys.readouterr().err
    # Either the name is refused as a scenario error, or the run lands inside runs/.
    assert code == 0 or (code == 2 and "meta.name" in err), err
    assert not list(tmp_path.glob("escaped*")) and not list((tmp_path / "a").glob("escaped*"))
    if code == 0:
        assert (work / "runs" / "escaped-8seeds" / "ticks.parquet").exists()  # 8 seeds


@pytest.mark.parametrize(
    ("name", "safe"),
    [("../../escaped", "escaped"), ("a/b c", "a_b_c"), ("..", "unnamed"), ("ok-1.2", "ok-1.2")],
)
def test_output_names_are_one_safe_path_component(name, safe):
    assert safe_name(name) == safe


# ----------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", str(BASELINE), "--seed", "-1"], "--seed"),
        (["run", str(BASELINE), "--ticks", "0"], "--ticks"),
        (["run", str(BASELINE), "--seed", "x"], "not a whole number"),
        (["whatif", str(BASELINE), str(BASELINE), "--seeds", "0"], "--seeds"),
        (["dashboard", str(BASELINE), "--port", "70000"], "--port"),
        (["sweep", "p.toml", "--workers", "-1"], "--workers"),
        (["sweep", "p.toml", "--samples", "0"], "--samples"),
    ],
)
def test_argument_ranges_are_checked_at_parse_time(argv, words, capsys, no_simulation):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_named_pipe_as_scenario_is_refused_not_read(tmp_path, capsys):
    pipe = tmp_path / "scenario.toml"
    os.mkfifo(pipe)
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(pipe)])  # reading it would hang
    assert exit_.value.code == 2 and "not a regular file" in capsys.readouterr().err


def test_run_ticks_past_the_horizon_is_refused_naming_the_horizon(tmp_path, capsys):
    assert main(["run", str(BASELINE), "--ticks", "41", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--ticks 41" in err and "(40 ticks)" in err


# ----------------------------------------------------------------------------- during a run


def test_a_model_error_mid_run_names_the_tick_and_what_to_change(tmp_path, capsys, monkeypatch):
    step = MarketModel.step

    def failing_step(self):
        if self.tick == 1:
            raise ClearingError("HiGHS status: Infeasible")
        step(self)

    monkeypatch.setattr(MarketModel, "step", failing_step)
    assert main(["run", str(BASELINE), "--ticks", "3", "--out", str(tmp_path / "r"),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "tick 1 (2025Q2)" in err and "ClearingError" in err and "could not be cleared" in err
    assert "--ticks 1" in err and "Traceback" not in err


def test_an_extreme_value_fails_a_run_with_a_named_error_not_a_traceback():
    world = small_world()
    try:
        runner = MarketRunner({"w": with_overrides(world, {"labs[spot].volatility": 1e300})
                               .model_dump(mode="python")}, ("unmet_share",), 4)  # fmt: skip
    except ScenarioError:
        return  # refused when loaded: also a named error
    with pytest.raises(RunError, match=r"failed at tick \d+ .*OverflowError"):
        runner({}, 0)


# ----------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["run", str(BASELINE), "--ticks", "2", "--out", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("victim", ["ticks.parquet", "prices.parquet", "manifest.json"])
def test_report_of_a_damaged_run_names_the_file(run_folder, tmp_path, capsys, victim):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(run_folder, folder)
    data = (folder / victim).read_bytes()
    (folder / victim).write_bytes(data[: len(data) // 2])
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert victim in err and "Traceback" not in err


def test_report_of_a_sweep_with_a_damaged_part_names_the_part(tmp_path, capsys):
    from experiments.engine import execute
    from experiments.studies.plan import SweepPlan
    from experiments.studies.sweep import tasks_of

    plan = SweepPlan(name="p", sampler="grid", parameters=[{"path": "x", "values": [1, 2]}])
    execute(tasks_of(plan), lambda p, s: {"y": p["x"]}, tmp_path / "s", progress=False)
    part = tmp_path / "s" / "parts" / "p00001-r000.parquet"
    part.write_bytes(part.read_bytes()[:30])
    assert main(["report", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "p00001-r000.parquet" in err and "Traceback" not in err
