"""Dask clusters for studies: the one ``LocalCluster`` factory, connecting to a scheduler,
and the tuning every worker gets.

Every study (sweep, what-if, sensitivity), the EMA Workbench connector and the
benchmarks get their workers here, so they all run the same way: processes with
one thread each (HiGHS also uses one), a longer GIL switch interval, and the
model's packages imported by each worker's first run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

#: GIL switch interval (s) on workers. The worker's event-loop thread otherwise takes
#: the GIL every 5 ms and slows the model's pure-Python ticks by ~14% (measured);
#: heartbeats tolerate a 0.1 s delay.
WORKER_SWITCH_INTERVAL = 0.1


def scheduler_address(scheduler: str | None = None) -> str | None:
    """``scheduler``, else ``DASK_SCHEDULER_ADDRESS``, else None (start a local cluster)."""
    return scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None


def local_cluster(workers: int):
    """A ``dask.distributed.LocalCluster`` of ``workers`` single-threaded processes
    (dashboard on a free port). The caller closes it."""
    from dask.distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=":0")  # fmt: skip


def tune_workers(client) -> None:
    """On every current and future worker of ``client``: a longer GIL switch interval
    (packages are imported by the first task, not up front: see ``setup``)."""
    from distributed import WorkerPlugin

    class SwitchInterval(WorkerPlugin):
        name = "aimarket-switch-interval"
        # A second client on the same scheduler (two studies at once) leaves the plugin in
        # place instead of replacing it on workers that are running the first study's tasks.
        idempotent = True

        def setup(self, worker) -> None:
            import sys

            sys.setswitchinterval(WORKER_SWITCH_INTERVAL)
            # No imports here: setup runs on the worker's event loop, and importing
            # packages there while a task imports them on the task thread deadlocked
            # now and then (a study that never finished); the first task imports them.

    client.register_plugin(SwitchInterval())


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator:
    """A tuned ``dask.distributed.Client``: on the scheduler at ``scheduler`` (or
    ``DASK_SCHEDULER_ADDRESS``), else on a new local cluster of ``workers``
    processes that is closed on exit."""
    from dask.distributed import Client

    address = scheduler_address(scheduler)
    cluster = None if address else local_cluster(workers)
    client = Client(address or cluster)
    try:
        tune_workers(client)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = ["WORKER_SWITCH_INTERVAL", "dask_client", "local_cluster", "scheduler_address",
           "tune_workers"]  # fmt: skip
