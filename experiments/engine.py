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
  root seed, so results are identical whatever the number of workers;
- studies are isolated: Dask task keys carry a hash of the study (its identity,
  its tasks and its runner), so two studies on one scheduler never share
  results; one study at a time writes into a folder (``FolderLock``); the
  manifest records the study's hashes, and ``resume`` refuses a folder written
  by a different study, saying what changed; a part that cannot be read back
  (truncated, damaged) is set aside as ``<run>.parquet.corrupt`` and run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
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
from experiments.errors import OutputError, StudyError
from experiments.outputs.files import (
    FolderLock,
    atomic_write,
    prepare_folder,
    read_json,
    read_table,
    versions,
    write_json,
)


@dataclass(frozen=True)
class RunOutputs:
    """What a runner may return instead of a plain mapping: its outputs and per-tick
    series (a DataFrame, e.g. columns tick, series, value), which the engine writes as
    ``series/<run>.parquet`` before the run's part (so a finished run has both)."""

    values: Mapping[str, float]
    series: pd.DataFrame | None = None


Runner = Callable[[Mapping[str, Any], int], "Mapping[str, float] | RunOutputs"]
"""``runner(params, seed) -> {output: value}`` (or ``RunOutputs``); picklable to run on
Dask workers."""

SERIES_KEY = "_series"
"""The key under which ``call_task`` carries a run's series to the writer."""


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
        result = runner(task.params, task.seed)
        if isinstance(result, RunOutputs):
            row[SERIES_KEY] = result.series
            result = result.values
        row.update({f"out:{k}": float(v) for k, v in result.items()})
        row["status"], row["error"] = "done", ""
    except Exception as exc:  # noqa: BLE001 - recorded, the study goes on
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    row["seconds"] = time.perf_counter() - start
    return row


def digest(data: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data`` (sorted keys, fixed separators)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tasks_hash(tasks: list[Task]) -> str:
    """A hash of every task's run name, point, replicate, seed and parameters, in order."""
    return digest([[t.run, t.point, t.replicate, t.seed, t.params] for t in tasks])


def runner_hash(runner: Runner) -> str:
    """A hash of the runner as Dask would ship it (cloudpickle), or of its repr."""
    try:
        import cloudpickle

        data = cloudpickle.dumps(runner)
    except Exception:  # noqa: BLE001 - an unpicklable runner still gets a fingerprint
        data = repr(runner).encode()
    return hashlib.sha256(data).hexdigest()


def study_key(identity: Mapping[str, Any], tasks: list[Task], runner: Runner) -> str:
    """The prefix of a study's Dask task keys: 16 hex digits of a hash of its identity
    (e.g. plan and base scenario), its tasks and its runner."""
    return digest([digest(dict(identity)), tasks_hash(tasks), runner_hash(runner)])[:16]


def _changes(old: Any, new: Any, where: str = "") -> list[str]:
    """Lines ``path: old -> new`` for each leaf that differs between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            here = f"{where}.{k}" if where else str(k)
            if k not in old:
                out.append(f"{here}: added ({json.dumps(new[k], default=str)})")
            elif k not in new:
                out.append(f"{here}: removed (was {json.dumps(old[k], default=str)})")
            else:
                out += _changes(old[k], new[k], here)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (a, b) in enumerate(zip(old, new))
                for line in _changes(a, b, f"{where}[{i}]")]  # fmt: skip
    if old != new:
        return [f"{where or 'value'}: {json.dumps(old, default=str)} -> "
                f"{json.dumps(new, default=str)}"]  # fmt: skip
    return []


def _check_same_study(out: Path, identity: dict[str, Any], study: str, todo_hash: str) -> None:
    """Refuse to resume ``out`` unless its manifest records the same study."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        raise StudyError(
            f"{out}: holds finished runs but no manifest.json, so it cannot be checked that "
            "they belong to this study; choose another --out"
        )
    old = read_json(manifest)
    if old.get("study_hash") == study:
        return
    if "study_hash" not in old:
        raise StudyError(
            f"{out}: --resume refused: {manifest} does not record which study wrote the runs "
            "(an earlier version of aimarket); choose another --out"
        )
    # Through JSON, so tuples and lists compare alike.
    lines = _changes(old.get("identity", {}), json.loads(json.dumps(identity, default=str)))
    if not lines and old.get("tasks_hash") != todo_hash:
        lines = [f"the runs differ ({old.get('runs', '?')} runs before)"]
    shown = "\n  ".join(lines[:12]) + ("\n  ..." if len(lines) > 12 else "")
    raise StudyError(
        f"{out}: --resume refused: the folder holds runs of a different study. What changed:\n"
        f"  {shown or '(the study was written by another version of aimarket)'}\n"
        "Resume with the same plan and base scenario, or choose another --out"
    )


def _set_aside_corrupt(out: Path, done: set[str]) -> set[str]:
    """Move parts that cannot be read back to ``<run>.parquet.corrupt``; the runs left."""
    bad = set()
    for run in sorted(done):
        path = out / "parts" / f"{run}.parquet"
        try:
            table = read_table(path)
            ok = table.num_rows == 1 and table.column("run")[0].as_py() == run
        except (OutputError, KeyError):
            ok = False
        if not ok:
            os.replace(path, path.with_name(path.name + ".corrupt"))
            bad.add(run)
    if bad:
        print(f"aimarket: {len(bad)} damaged part(s) in {out / 'parts'} set aside as "
              "*.corrupt and run again", file=sys.stderr)  # fmt: skip
    return done - bad


def _write_part(out: Path, row: dict[str, Any]) -> None:
    row = dict(row)
    series = row.pop(SERIES_KEY, None)
    if series is not None:  # written first: the part's rename commits the run
        (out / "series").mkdir(exist_ok=True)
        table = pa.Table.from_pandas(series, preserve_index=False)
        atomic_write(out / "series" / f"{row['run']}.parquet",
                     lambda p: pq.write_table(table, p))  # fmt: skip
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
    for tmp in [*(out / "parts").glob(".*.tmp"), *(out / "series").glob(".*.tmp")]:
        tmp.unlink()
    journal = out / "runs.jsonl"
    seen = set()
    if journal.exists():
        for line in journal.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):  # a line cut by a kill
                seen.add(json.loads(line)["run"])
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


def collect_series(out: Path) -> pd.DataFrame:
    """The per-tick series of every finished run of a study folder, with a ``run``
    column (empty if the runner gave none)."""
    out = Path(out)
    frames = []
    for run in sorted(finished_runs(out)):
        path = out / "series" / f"{run}.parquet"
        if path.exists():
            frames.append(read_table(path).to_pandas().assign(run=run))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


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
    identity: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Run ``tasks`` and write each as it finishes; return all runs as a DataFrame.

    ``workers=0`` and no scheduler runs in this process (a plain loop); otherwise
    on dask.distributed: an existing cluster at ``scheduler`` (or
    ``DASK_SCHEDULER_ADDRESS``), or a LocalCluster of ``workers`` processes with
    one thread each (``experiments.cluster``).

    ``identity`` is what makes the study itself (e.g. ``{"plan": ..., "base_hash":
    ...}``), JSON-able; with the tasks it gives the ``study_hash`` recorded in the
    manifest, which ``resume`` checks. ``manifest`` adds other entries.

    Raises ``OutputError`` if ``out`` cannot be written, is in use by another
    study, or holds runs and ``resume`` is false; ``StudyError`` if ``resume``
    meets runs of a different study.
    """
    out = prepare_folder(Path(out))
    with FolderLock(out):
        return _execute_locked(tasks, runner, out, workers, scheduler, resume, progress,
                               retries, dict(manifest or {}), dict(identity or {}))  # fmt: skip


def _execute_locked(tasks, runner, out, workers, scheduler, resume, progress, retries,
                    manifest, identity) -> pd.DataFrame:  # fmt: skip
    (out / "parts").mkdir(exist_ok=True)
    todo_hash = tasks_hash(tasks)
    study = digest([digest(identity), todo_hash])
    done = finished_runs(out)
    if done and not resume:
        raise OutputError(
            f"{out} already holds runs of a study; pass --resume to continue it or choose "
            "another --out"
        )
    if done:
        _check_same_study(out, identity, study, todo_hash)
        done = _set_aside_corrupt(out, done)
    _recover(out, done)
    todo = [t for t in tasks if t.run not in done]
    meta = {"runs": len(tasks), "skipped_as_finished": len(tasks) - len(todo),
            "workers": workers, "scheduler": scheduler or "", "versions": versions(),
            "study_hash": study, "tasks_hash": todo_hash, "identity": identity,
            **manifest}  # fmt: skip
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
            key = study_key(identity, tasks, runner)
            _run_on_dask(todo, runner, record, workers, scheduler, retries, key)
    finally:
        bar.close()
    return collect(out)


def _run_on_dask(todo, runner, record, workers: int, scheduler: str | None, retries: int,
                 key: str) -> None:  # fmt: skip
    from dask.distributed import as_completed

    with dask_client(workers, scheduler) as client:
        # The runner travels with each task (small plain data): a copy scattered once
        # would be lost with the workers holding it if they die.
        futures = [
            client.submit(
                call_task, runner, t, key=f"aimarket-{key}-{t.run}", pure=False, retries=retries
            )  # fmt: skip
            for t in todo
        ]
        for fut in as_completed(futures):
            record(fut.result())


__all__ = ["RunOutputs", "Runner", "Task", "call_task", "collect", "collect_series", "digest",
           "execute", "finished_runs", "study_key", "tasks_hash"]  # fmt: skip
