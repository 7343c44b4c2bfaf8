"""Parameter sweeps on dask.distributed: plan, sample, run, write every run at once, resume.

A sweep file (TOML) names a base scenario, parameters by dotted path (see
``experiments.scenarios.with_overrides``) with a range or a list of values, a
sampler, replications and the KPIs to keep::

    name = "hbm"
    base = "baseline.toml"          # relative to the sweep file
    sampler = "lhs"                 # grid | random | lhs | sobol | morris
    samples = 16                    # random/lhs: points; sobol: N (N*(D+2)); morris: trajectories
    seeds = 4                       # replications per point
    root_seed = 0                   # per-run seeds come from numpy SeedSequence(root_seed)
    outputs = ["unmet_share", "price_accelerator"]
    [[parameters]]
    path = "memory_makers[SK hynix].capacity"
    range = [1.4e8, 3.2e8]

Engine guarantees:

- every finished run is written at once as ``parts/<run>.parquet`` (under a
  temporary name, then renamed) and journaled in ``runs.jsonl``; ``resume``
  skips runs whose part exists, so a killed sweep loses nothing finished;
- a run that raises is recorded (status "failed" and its error) and the sweep
  goes on; a run lost with a killed worker is retried by Dask (``retries``);
- each run builds its own model and solver from plain data (nothing unpicklable
  crosses to workers), HiGHS uses one thread, and per-run seeds come from one
  root seed, so results are identical whatever the number of workers.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import Field, model_validator
from tqdm import tqdm

from experiments.kpis import KPIS, kpis
from experiments.runs import versions
from experiments.scenarios import (
    ScenarioError,
    read_toml,
    scenario_hash,
    validate_model,
    validate_scenario,
    with_overrides,
)
from market import MarketModel
from market.scenario import Strict
from optimizers import SolverOptions

Runner = Callable[[Mapping[str, Any], int], Mapping[str, float]]


# ----------------------------------------------------------------------------- the plan


class Parameter(Strict):
    """One swept parameter: a dotted path and either a range or a list of values."""

    path: str = Field(description="Dotted path into the scenario, e.g. labs[OpenAI].training.")
    range: tuple[float, float] | None = Field(None, description="[low, high] for samplers.")
    values: tuple[Any, ...] | None = Field(None, description="Explicit values (grid only).")

    @model_validator(mode="after")
    def _one_of(self) -> Parameter:
        if (self.range is None) == (self.values is None):
            raise ValueError(f"parameter {self.path!r}: give exactly one of range or values")
        if self.range is not None and not self.range[0] < self.range[1]:
            raise ValueError(f"parameter {self.path!r}: range must be [low, high] with low < high")
        return self


class SweepPlan(Strict):
    """A sweep: base scenario, parameters, sampler, replications, outputs."""

    name: str
    base: str = Field("", description="Base scenario file, relative to the sweep file.")
    sampler: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1)] = 8
    levels: Annotated[int, Field(ge=2)] = Field(
        4, description="Grid levels per parameter; Morris levels (even)."
    )
    seeds: Annotated[int, Field(ge=1)] = 1
    root_seed: Annotated[int, Field(ge=0)] = 0
    ticks: Annotated[int, Field(ge=1)] | None = None
    outputs: tuple[str, ...] = ("unmet_share", "price_accelerator", "price_compute")
    parameters: tuple[Parameter, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SweepPlan:
        if self.sampler != "grid":
            for i, p in enumerate(self.parameters):
                if p.range is None:
                    raise ValueError(
                        f"parameters[{i}].range: sampler {self.sampler!r} needs a range "
                        "(values are for the grid sampler)"
                    )
        if self.sampler == "morris" and self.levels % 2:
            raise ValueError(f"levels: Morris needs an even number of levels (got {self.levels})")
        if self.sampler == "sobol" and self.samples & (self.samples - 1):
            raise ValueError(f"samples: Sobol needs a power of two (got {self.samples})")
        return self


def load_sweep(path: str | os.PathLike[str]) -> tuple[SweepPlan, dict[str, Any] | None]:
    """Read and validate a sweep file; also load and validate its base scenario (as data).

    With a ``base``, outputs must be KPIs of ``experiments.kpis`` and every parameter
    path must exist in the base scenario; without one (a custom runner), outputs
    are whatever the runner returns. Raises ``ScenarioError`` naming the file and
    field (unknown KPI, bad range, a path that does not exist, ...).
    """
    source = os.fspath(path)
    plan = validate_model(SweepPlan, read_toml(path), source)
    assert isinstance(plan, SweepPlan)
    for i, name in enumerate(plan.outputs if plan.base else ()):  # market KPIs only with a base
        if name not in KPIS:
            raise ScenarioError(
                source, [f"outputs[{i}]: unknown KPI {name!r}; known KPIs: {', '.join(KPIS)}"]
            )
    base = None
    if plan.base:
        base_path = Path(path).parent / plan.base
        from experiments.scenarios import load_scenario

        scenario = load_scenario(base_path)
        for i, p in enumerate(plan.parameters):
            probe = p.range[0] if p.range is not None else p.values[0]
            try:
                with_overrides(scenario, {p.path: probe})
            except ScenarioError as exc:
                raise ScenarioError(source, [f"parameters[{i}].path: {exc}"]) from None
        base = scenario.model_dump(mode="python")
    return plan, base


# ----------------------------------------------------------------------------- sampling


def salib_problem(plan: SweepPlan) -> dict[str, Any]:
    """The SALib problem dict of a plan (parameter names are their paths)."""
    return {
        "num_vars": len(plan.parameters),
        "names": [p.path for p in plan.parameters],
        "bounds": [list(p.range) for p in plan.parameters],
    }


def sample(plan: SweepPlan) -> np.ndarray | list[tuple]:
    """The design points: rows of parameter values, in a deterministic order."""
    rng = np.random.default_rng(np.random.SeedSequence(plan.root_seed).spawn(2)[1])
    d = len(plan.parameters)
    if plan.sampler == "grid":
        axes = [
            list(p.values) if p.values is not None else list(np.linspace(*p.range, plan.levels))
            for p in plan.parameters
        ]
        return list(itertools.product(*axes))
    lo = np.array([p.range[0] for p in plan.parameters])
    hi = np.array([p.range[1] for p in plan.parameters])
    if plan.sampler == "random":
        return lo + (hi - lo) * rng.random((plan.samples, d))
    if plan.sampler == "lhs":
        u = (rng.permuted(np.tile(np.arange(plan.samples), (d, 1)), axis=1).T
             + rng.random((plan.samples, d))) / plan.samples  # fmt: skip
        return lo + (hi - lo) * u
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    problem = salib_problem(plan)
    if plan.sampler == "sobol":
        return sobol_sample.sample(
            problem, plan.samples, calc_second_order=False, seed=plan.root_seed
        )
    return morris_sample.sample(problem, plan.samples, num_levels=plan.levels, seed=plan.root_seed)


def replication_seeds(root_seed: int, n: int) -> list[int]:
    """``n`` run seeds (uint32) from one root seed: the rule every study uses, so a
    sweep, a what-if study and a sensitivity analysis with the same root share seeds.
    (The root's second child seeds the samplers.)"""
    if n < 1:
        raise ValueError(f"seeds must be >= 1 (got {n})")
    children = np.random.SeedSequence(root_seed).spawn(2)[0].spawn(n)
    return [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def run_seeds(plan: SweepPlan) -> list[int]:
    """One seed per replication, from the root seed (the same for every design point)."""
    return replication_seeds(plan.root_seed, plan.seeds)


@dataclass(frozen=True, slots=True)
class Task:
    """One run: a design point and a replication."""

    run: str
    point: int
    replicate: int
    seed: int
    params: dict[str, Any] = field(hash=False)


def tasks_of(plan: SweepPlan) -> list[Task]:
    names = [p.path for p in plan.parameters]
    seeds = run_seeds(plan)
    out = []
    for i, row in enumerate(sample(plan)):
        params = {n: (v.item() if isinstance(v, np.generic) else v) for n, v in zip(names, row)}
        for r, seed in enumerate(seeds):
            out.append(Task(f"p{i:05d}-r{r:03d}", i, r, seed, params))
    return out


# ----------------------------------------------------------------------------- runners


@dataclass(frozen=True)
class MarketRunner:
    """Runs the market model for one (params, seed): plain data in, KPIs out (picklable).

    ``scenarios`` maps a label to a scenario as plain data; ``params`` may pick
    one with the key ``"scenario"`` (default: the first) and override any field
    by dotted path.
    """

    scenarios: Mapping[str, Mapping[str, Any]]
    outputs: tuple[str, ...]
    ticks: int | None = None

    def __call__(self, params: Mapping[str, Any], seed: int) -> dict[str, float]:
        params = dict(params)
        label = params.pop("scenario", next(iter(self.scenarios)))
        scenario = validate_scenario(self.scenarios[label], f"scenario {label!r}")
        if params:
            scenario = with_overrides(scenario, params)
        model = MarketModel(scenario, seed=seed, solver_options=SolverOptions(threads=1))
        model.run(self.ticks)
        values = kpis(model.tables())
        return {k: values[k] for k in self.outputs}


def _call(runner: Runner, task: Task) -> dict[str, Any]:
    """Run one task on a worker; an exception becomes a failure record, never a crash."""
    start = time.perf_counter()
    row: dict[str, Any] = {"run": task.run, "point": task.point, "replicate": task.replicate,
                           "seed": task.seed}  # fmt: skip
    row.update({f"param:{k}": v for k, v in task.params.items()})
    try:
        row.update({f"out:{k}": float(v) for k, v in runner(task.params, task.seed).items()})
        row["status"], row["error"] = "done", ""
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    row["seconds"] = time.perf_counter() - start
    return row


# ----------------------------------------------------------------------------- the engine


def _write_part(out: Path, row: dict[str, Any]) -> None:
    parts = out / "parts"
    path = parts / f"{row['run']}.parquet"
    tmp = parts / f".{row['run']}.parquet.tmp"
    pq.write_table(pa.Table.from_pylist([row]), tmp)
    os.replace(tmp, path)
    # The part's rename is the commit point; the journal is a human-readable log.
    # (No fsync: a killed process loses nothing already renamed; fsync per run costs
    # more than the engine's whole overhead budget on some disks.)
    with open(out / "runs.jsonl", "a") as journal:
        journal.write(json.dumps({"run": row["run"], "status": row["status"]}) + "\n")


def _recover(out: Path, done: set[str]) -> None:
    """After a kill: drop half-written parts, and journal finished runs the journal missed
    (a kill between a part's rename and its journal line)."""
    for tmp in (out / "parts").glob(".*.tmp"):
        tmp.unlink()
    journal = out / "runs.jsonl"
    seen = set()
    if journal.exists():
        seen = {json.loads(line)["run"] for line in journal.read_text().splitlines() if line}
    missing = sorted(done - seen)
    if missing:
        with open(journal, "a") as fh:
            for run in missing:
                status = pq.read_table(out / "parts" / f"{run}.parquet").column("status")[0]
                fh.write(json.dumps({"run": run, "status": status.as_py(), "recovered": True}))
                fh.write("\n")


def finished_runs(out: Path) -> set[str]:
    """Runs whose part file exists (complete by construction: written, then renamed)."""
    return {p.stem for p in (out / "parts").glob("*.parquet")}


def collect(out: Path) -> pd.DataFrame:
    """All finished runs of a sweep folder as one DataFrame, sorted by run."""
    parts = sorted((out / "parts").glob("*.parquet"))
    if not parts:
        return pd.DataFrame()
    table = pa.concat_tables([pq.read_table(p) for p in parts], promote_options="default")
    return table.to_pandas().sort_values("run").reset_index(drop=True)


def execute(
    tasks: list[Task],
    runner: Runner,
    out: Path,
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    retries: int = 2,
    manifest: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Run ``tasks`` and write each as it finishes; return all runs as a DataFrame.

    ``workers=0`` and no scheduler runs in this process (a plain loop); otherwise
    on dask.distributed: an existing cluster at ``scheduler`` (or
    ``DASK_SCHEDULER_ADDRESS``), or a LocalCluster of ``workers`` processes with
    one thread each.
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    done = finished_runs(out)
    if done and not resume:
        raise FileExistsError(
            f"{out} already holds runs of a sweep; pass --resume to continue it or choose "
            "another --out"
        )
    _recover(out, done)
    todo = [t for t in tasks if t.run not in done]
    meta = {"runs": len(tasks), "skipped_as_finished": len(tasks) - len(todo),
            "workers": workers, "scheduler": scheduler or "", "versions": versions(),
            **(manifest or {})}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=str))
    failed = 0
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="run",
               disable=None if progress else True)  # fmt: skip

    def record(row: dict[str, Any]) -> None:
        nonlocal failed
        _write_part(out, row)
        failed += row["status"] == "failed"
        bar.update(1)
        bar.set_postfix(failed=failed)

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    try:
        if not address and workers <= 0:
            for t in todo:
                record(_call(runner, t))
        else:
            _run_on_dask(todo, runner, record, workers, address, retries)
    finally:
        bar.close()
    return collect(out)


#: GIL switch interval (s) on workers. The worker's event-loop thread otherwise takes
#: the GIL every 5 ms and slows the model's pure-Python ticks by ~14% (measured);
#: heartbeats tolerate a 0.1 s delay.
WORKER_SWITCH_INTERVAL = 0.1


def tune_workers(client) -> None:
    """On every current and future worker of ``client``: a longer GIL switch interval,
    and the model's packages imported up front."""
    from distributed import WorkerPlugin

    class SwitchInterval(WorkerPlugin):
        name = "aimarket-switch-interval"

        def setup(self, worker) -> None:
            import importlib
            import sys

            sys.setswitchinterval(WORKER_SWITCH_INTERVAL)
            # Preload the model's packages (Pyomo, HiGHS, Mesa) before the first run.
            importlib.import_module("experiments.sweep")

    client.register_plugin(SwitchInterval())


def _run_on_dask(todo, runner, record, workers: int, address: str | None, retries: int) -> None:
    from dask.distributed import Client, LocalCluster, as_completed

    if address:
        client = Client(address)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0")  # fmt: skip
        client = Client(cluster)
    try:
        tune_workers(client)
        # The runner travels with each task (small plain data): a copy scattered once
        # would be lost with the workers holding it if they die.
        futures = [
            client.submit(_call, runner, t, key=f"run-{t.run}", pure=False, retries=retries)
            for t in todo
        ]
        for fut in as_completed(futures):
            record(fut.result())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def sweep(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    workers: int = 0,
    scheduler: str | None = None,
    resume: bool = False,
    progress: bool = True,
    runner: Runner | None = None,
) -> pd.DataFrame:
    """Run the sweep file at ``path`` into folder ``out``; one row per run (DataFrame).

    ``runner(params, seed) -> {kpi: value}`` defaults to the market model on the
    plan's base scenario; any picklable callable works (e.g. a test function).
    """
    plan, base = load_sweep(path)
    if runner is None:
        if base is None:
            raise ScenarioError(os.fspath(path), ["base: missing; name a base scenario file"])
        runner = MarketRunner({"base": base}, plan.outputs, plan.ticks)
    manifest = {"plan": plan.model_dump(mode="json"), "sweep_file": os.fspath(path)}
    if base is not None:
        manifest["base_hash"] = scenario_hash(validate_scenario(base))
    df = execute(tasks_of(plan), runner, Path(out), workers, scheduler, resume, progress,
                 manifest=manifest)  # fmt: skip
    tmp = Path(out) / ".results.parquet.tmp"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
    os.replace(tmp, Path(out) / "results.parquet")
    return df


def summarise(df: pd.DataFrame) -> str:
    """Runs done and failed, and each output's mean, sd, min and max over the runs."""
    done = df[df["status"] == "done"]
    lines = [f"runs: {len(df)} ({len(done)} done, {len(df) - len(done)} failed)"]
    outs = [c for c in df.columns if c.startswith("out:")]
    if outs and len(done):
        lines.append(f"{'output':<24}{'mean':>14}{'sd':>14}{'min':>14}{'max':>14}")
        for c in outs:
            v = done[c]
            lines.append(f"{c[4:]:<24}{v.mean():>14.4g}{v.std():>14.4g}{v.min():>14.4g}"
                         f"{v.max():>14.4g}")  # fmt: skip
    for _, row in df[df["status"] == "failed"].head(5).iterrows():
        lines.append(f"failed {row['run']}: {row['error'].splitlines()[0]}")
    return "\n".join(lines)


__all__ = [
    "MarketRunner",
    "Parameter",
    "SweepPlan",
    "Task",
    "collect",
    "execute",
    "load_sweep",
    "sample",
    "sweep",
    "tasks_of",
]
