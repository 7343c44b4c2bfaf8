"""The study engine: run a list of tasks with a runner, write each run as it finishes,
resume after a kill, on this process or on dask.distributed.

A study (sweep, what-if, sensitivity) is a list of :class:`Task` (a run name, a
design point, a replicate, a seed and parameters) and a runner
``runner(params, seed) -> {output: value}``. ``execute`` guarantees:

- every finished run is written at once as ``parts/<run>.parquet`` (under a
  temporary name, then renamed) and journaled in ``runs.jsonl``; ``resume``
  skips runs whose part exists, so a killed study loses nothing finished;
- a run that raises is recorded (status "failed" and its error) and the study
  goes on; a run lost with a killed worker is retried by Dask (``retries``);
- each run builds its own model and solver from plain data (nothing unpicklable
  crosses to workers), HiGHS uses one thread, and per-run seeds come from one
  root seed, so results are identical whatever the number of workers.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from experiments.cluster import dask_client, scheduler_address
from experiments.errors import OutputError
from experiments.outputs.files import atomic_write, read_table, versions, write_json

Runner = Callable[[Mapping[str, Any], int], Mapping[str, float]]
"""``runner(params, seed) -> {output: value}``; picklable to run on Dask workers."""


@dataclass(frozen=True, slots=True)
class Task:
    """One run: a design point and a replication."""

    run: str
    point: int
    replicate: int
    seed: int
    params: dict[str, Any] = field(hash=False)


def call_task(runner: Runner, task: Task) -> dict[str, Any]:
    """Run one task (on a worker); an exception becomes a failure record, never a crash."""
    start = time.perf_counter()
    row: dict[str, Any] = {"run": task.run, "point": task.point, "replicate": task.replicate,
                           "seed": task.seed}  # fmt: skip
    row.update({f"param:{k}": v for k, v in task.params.items()})
    try:
        row.update({f"out:{k}": float(v) for k, v in runner(task.params, task.seed).items()})
        row["status"], row["error"] = "done", ""
    except Exception as exc:  # noqa: BLE001 - recorded, the study goes on
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    row["seconds"] = time.perf_counter() - start
    return row


def _write_part(out: Path, row: dict[str, Any]) -> None:
    table = pa.Table.from_pylist([row])
    atomic_write(out / "parts" / f"{row['run']}.parquet", lambda p: pq.write_table(table, p))
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
                status = read_table(out / "parts" / f"{run}.parquet").column("status")[0]
                fh.write(json.dumps({"run": run, "status": status.as_py(), "recovered": True}))
                fh.write("\n")


def finished_runs(out: Path) -> set[str]:
    """Runs whose part file exists (complete by construction: written, then renamed)."""
    return {p.stem for p in (Path(out) / "parts").glob("*.parquet")}


def collect(out: Path) -> pd.DataFrame:
    """All finished runs of a study folder as one DataFrame, sorted by run.

    Raises ``OutputError`` naming a part file that cannot be read.
    """
    parts = sorted((Path(out) / "parts").glob("*.parquet"))
    if not parts:
        return pd.DataFrame()
    table = pa.concat_tables([read_table(p) for p in parts], promote_options="default")
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
    one thread each (``experiments.cluster``).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "parts").mkdir(exist_ok=True)
    done = finished_runs(out)
    if done and not resume:
        raise OutputError(
            f"{out} already holds runs of a study; pass --resume to continue it or choose "
            "another --out"
        )
    _recover(out, done)
    todo = [t for t in tasks if t.run not in done]
    meta = {"runs": len(tasks), "skipped_as_finished": len(tasks) - len(todo),
            "workers": workers, "scheduler": scheduler or "", "versions": versions(),
            **(manifest or {})}  # fmt: skip
    write_json(out / "manifest.json", meta)
    failed = 0
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="run",
               disable=None if progress else True)  # fmt: skip

    def record(row: dict[str, Any]) -> None:
        nonlocal failed
        _write_part(out, row)
        failed += row["status"] == "failed"
        bar.update(1)
        bar.set_postfix(failed=failed)

    try:
        if not scheduler_address(scheduler) and workers <= 0:
            for t in todo:
                record(call_task(runner, t))
        else:
            _run_on_dask(todo, runner, record, workers, scheduler, retries)
    finally:
        bar.close()
    return collect(out)


def _run_on_dask(todo, runner, record, workers: int, scheduler: str | None, retries: int) -> None:
    from dask.distributed import as_completed

    with dask_client(workers, scheduler) as client:
        # The runner travels with each task (small plain data): a copy scattered once
        # would be lost with the workers holding it if they die.
        futures = [
            client.submit(call_task, runner, t, key=f"run-{t.run}", pure=False, retries=retries)
            for t in todo
        ]
        for fut in as_completed(futures):
            record(fut.result())


__all__ = ["Runner", "Task", "call_task", "collect", "execute", "finished_runs"]
