"""Isolated studies: own Dask keys, one study per folder, resume only the same study,
damaged parts re-run, no stale plots in a reused folder."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.cluster import local_cluster
from experiments.engine import collect, execute, study_key
from experiments.errors import OutputError, StudyError
from experiments.outputs.files import LOCK_NAME, FolderLock
from experiments.outputs.report import build_report
from experiments.outputs.tables import write_run
from experiments.scenarios import load_scenario
from experiments.studies.plan import SweepPlan
from experiments.studies.run import run_scenario
from experiments.studies.sweep import sweep, tasks_of
from experiments.studies.whatif import ShockWindowWarning, whatif

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "experiments" / "scenarios"


def slow_echo(params, seed):
    """A runner that returns its parameter after a pause (so two studies overlap)."""
    time.sleep(0.3)
    return {"y": float(params["x"])}


def echo(params, seed):
    return {"y": float(params["x"]) * 2.0}


def plan_of(values: list[float], name: str = "p") -> SweepPlan:
    return SweepPlan(name=name, sampler="grid", parameters=[{"path": "x", "values": values}])


PLANS = {"a": [1.0, 2.0, 3.0], "b": [10.0, 20.0, 30.0]}


def _study(label: str, address: str, out: str) -> list[float]:
    """One study in its own process, as two `aimarket` commands would run."""
    frame = execute(tasks_of(plan_of(PLANS[label])), slow_echo, Path(out) / label,
                    scheduler=address, progress=False)  # fmt: skip
    return [float(y) for y in frame["out:y"]]


def test_two_different_plans_on_one_scheduler_at_once_get_their_own_rows(tmp_path):
    import concurrent.futures
    import multiprocessing

    plans = {k: plan_of(v) for k, v in PLANS.items()}
    # Same run names (p00000-r000, ...) in both: only the study hash tells them apart.
    assert [t.run for t in tasks_of(plans["a"])] == [t.run for t in tasks_of(plans["b"])]
    # Two studies at once are two processes, each with its own client (two clients in
    # one process, on two threads, share client state and hung now and then).
    spawn = multiprocessing.get_context("spawn")
    with (
        local_cluster(2) as cluster,
        concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool,
    ):
        address = cluster.scheduler_address
        futures = {k: pool.submit(_study, k, address, str(tmp_path)) for k in plans}
        results = {k: f.result(timeout=300) for k, f in futures.items()}
    assert results["a"] == [1.0, 2.0, 3.0]
    assert results["b"] == [10.0, 20.0, 30.0]


def test_study_keys_differ_by_plan_and_by_runner():
    a, b = tasks_of(plan_of([1.0])), tasks_of(plan_of([2.0]))
    assert study_key({}, a, echo) != study_key({}, b, echo)
    assert study_key({}, a, echo) != study_key({}, a, slow_echo)
    assert study_key({"base_hash": "1"}, a, echo) != study_key({"base_hash": "2"}, a, echo)
    assert study_key({}, a, echo) == study_key({}, tasks_of(plan_of([1.0])), echo)


def test_a_second_study_into_a_locked_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out):
        with pytest.raises(OutputError, match="another study is writing into this folder"):
            execute(tasks_of(plan_of([1.0])), echo, out, progress=False)
        assert not (out / "parts").exists()  # refused before writing anything
    # Released on exit: the same study now runs.
    assert list(execute(tasks_of(plan_of([1.0])), echo, out, progress=False)["out:y"]) == [2.0]
    assert not (out / LOCK_NAME).exists()


def sweep_file(folder: Path, body: str, name: str = "s.toml") -> Path:
    path = folder / name
    path.write_text(f'name = "t"\nbase = "{SCENARIOS / "baseline.toml"}"\n' + body)
    return path


SLOW = """
sampler = "lhs"
samples = 40
seeds = 1
ticks = 12
outputs = ["unmet_share"]
[[parameters]]
path = "behaviour.foresight"
range = [0.1, 0.6]
"""


def test_cli_refuses_a_second_sweep_into_the_same_out_and_takes_over_a_stale_lock(tmp_path):
    path = sweep_file(tmp_path, SLOW)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "experiments.cli", "sweep", str(path), "--workers", "0",
           "--out", str(out), "--quiet"]  # fmt: skip
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not list((out / "parts").glob("*.parquet")):
            time.sleep(0.05)
        second = subprocess.run([*cmd, "--resume"], cwd=ROOT, capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert "another study is writing into this folder" in second.stderr
        assert f"pid {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (out / LOCK_NAME).exists()  # left behind by the killed study: stale
    with FolderLock(out):  # taken over, not an obstacle
        pass


def test_resume_refuses_a_changed_plan_and_says_what_changed(tmp_path):
    body = 'name = "t"\nsampler = "grid"\noutputs = ["y"]\n[[parameters]]\npath = "x"\n'
    path = tmp_path / "plan.toml"
    path.write_text(body + "values = [1.0, 2.0]\n")
    out = tmp_path / "out"
    sweep(path, out, runner=echo, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["plan_hash"])
    assert manifest["base_hash"] is None and manifest["plan"]["parameters"][0]["values"] == [1, 2]
    path.write_text(body + "values = [1.0, 5.0]\n")
    with pytest.raises(StudyError) as err:
        sweep(path, out, resume=True, runner=echo, progress=False)
    message = str(err.value)
    assert "--resume refused" in message and "plan.parameters[0].values[1]: 2.0 -> 5.0" in message
    assert len(collect(out)) == 2  # nothing mixed in


def test_resume_refuses_a_changed_base_scenario(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text((SCENARIOS / "baseline.toml").read_text())
    path = tmp_path / "s.toml"
    path.write_text(f'name = "t"\nbase = "{base}"\n' + SLOW.replace("samples = 40", "samples = 2")
                    .replace("ticks = 12", "ticks = 2"))  # fmt: skip
    out = tmp_path / "out"
    sweep(path, out, progress=False)
    text = base.read_text()
    base.write_text(text.replace("horizon = 40", "horizon = 39", 1))
    assert base.read_text() != text
    with pytest.raises(StudyError, match="base_hash"):
        sweep(path, out, resume=True, progress=False)


def test_whatif_resume_refuses_a_different_policy_file(tmp_path):
    policy = tmp_path / "pol.toml"
    policy.write_text((SCENARIOS / "baseline.toml").read_text())
    whatif(SCENARIOS / "baseline.toml", [policy], seeds=2, ticks=2, out=tmp_path / "w",
           progress=False, outputs=("unmet_share",))  # fmt: skip
    policy.write_text((SCENARIOS / "taiwan_outage.toml").read_text())
    # (its outage starts after the 2 ticks run: warned about, then the resume refused)
    with pytest.warns(ShockWindowWarning), pytest.raises(StudyError, match=r"scenarios\.pol"):
        whatif(SCENARIOS / "baseline.toml", [policy], seeds=2, ticks=2, out=tmp_path / "w",
               progress=False, outputs=("unmet_share",), resume=True)  # fmt: skip


def test_a_truncated_part_is_run_again_on_resume(tmp_path, capsys):
    tasks = tasks_of(plan_of([1.0, 2.0, 3.0]))
    out = tmp_path / "out"
    execute(tasks, echo, out, progress=False)
    victim = out / "parts" / "p00001-r000.parquet"
    victim.write_bytes(victim.read_bytes()[:40])  # a disk-full or copy cut it short
    df = execute(tasks, echo, out, resume=True, progress=False)
    assert list(df["out:y"]) == [2.0, 4.0, 6.0] and (df["status"] == "done").all()
    assert (out / "parts" / "p00001-r000.parquet.corrupt").exists()
    assert "set aside" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["skipped_as_finished"] == 2


def tables_ticks_columns(folder: Path) -> list[str]:
    import pyarrow.parquet as pq

    return pq.read_schema(folder / "ticks.parquet").names


def test_a_reused_run_folder_does_not_embed_old_plots(tmp_path):
    out = tmp_path / "run"
    scenario = load_scenario(SCENARIOS / "baseline.toml")
    write_run(run_scenario(scenario, ticks=3, progress=False), out)
    stale = out / "network_t039.png"
    stale.write_bytes(b"\x89PNG old plot from a longer run")
    text = build_report(out).read_text()
    assert "network_t039" not in text
    lead = any(name.startswith("lead_time") for name in tables_ticks_columns(out))
    # 7 plots (with the field's KPIs, ODD 7.16, and who bears the risk, ODD 7.18), lead times
    # if quoted, networks at ticks 0-2
    assert len(re.findall(r'src="data:image/png;base64,', text)) == 7 + lead + 3


def test_resume_refuses_a_folder_whose_manifest_does_not_name_its_study(tmp_path):
    tasks = tasks_of(plan_of([1.0, 2.0]))
    out = tmp_path / "out"
    execute(tasks, echo, out, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    del manifest["study_hash"]  # as written before studies were hashed
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StudyError, match="does not record which study"):
        execute(tasks, echo, out, resume=True, progress=False)
    (out / "manifest.json").write_text('{"runs": 2, ')  # cut short
    with pytest.raises(OutputError, match="manifest.json: not readable JSON"):
        execute(tasks, echo, out, resume=True, progress=False)
