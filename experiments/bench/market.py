"""Benchmark of the market model: ticks per second, clearing vs agents, peak memory.

    python -m experiments.bench.market [--scenario FILE] [--copies 1 10 29] [--ticks 16]

A synthetic world of about 1,000 agents comes from ``scale_world``: copies of
the scenario's agents, each copy in its own cluster (so routes stay within a
copy, and the LP grows linearly), with each copy's labs also able to rent from
the next copy's hyperscalers. Each size runs in a fresh process, so its peak
resident memory is its own. Figures, not pass/fail; the targets (agents' time
per tick at most linear in the number of agents; at 1,000 agents the agents'
share of a tick below half) are printed beside them.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time

from experiments.scenarios import load_scenario
from market import MarketModel, Scenario

DEFAULT = "experiments/scenarios/baseline.toml"


def _renamed(name: str, i: int) -> str:
    return name if i == 0 else f"{name}#{i}"


def scale_world(scenario: Scenario, copies: int) -> Scenario:
    """``copies`` copies of every agent and contract, each copy its own cluster."""
    data = scenario.model_dump(mode="python")
    sections = [s for s, _ in {s: None for s, _ in scenario.agent_specs()}.items()]
    out = {k: v for k, v in data.items() if k not in (*sections, "contracts", "routes", "shocks")}
    names = {spec.name for _, spec in scenario.agent_specs()}
    for section in sections:
        out[section] = []
        for i in range(copies):
            for spec in data[section]:
                s = dict(spec, name=_renamed(spec["name"], i), cluster=i)
                if "fleet" in s:
                    s["fleet"] = {_renamed(d, i): q for d, q in s["fleet"].items()}
                if "captive_to" in s:
                    s["captive_to"] = tuple(_renamed(h, i) for h in s["captive_to"])
                out[section].append(s)
    out["contracts"] = [
        dict(c, seller=_renamed(c["seller"], i), buyer=_renamed(c["buyer"], i))
        for i in range(copies)
        for c in data["contracts"]
    ]
    out["routes"] = [
        dict(r, seller=_renamed(r["seller"], i), buyer=_renamed(r["buyer"], i))
        for i in range(copies)
        for r in data["routes"]
    ]
    if copies > 1:
        for i in range(copies):
            nxt = (i + 1) % copies
            for h in data["hyperscalers"]:
                for lab in data["labs"]:
                    out["routes"].append(
                        {"seller": _renamed(h["name"], nxt), "buyer": _renamed(lab["name"], i),
                         "good": "compute"}
                    )  # fmt: skip
    out["shocks"] = [
        dict(s, target=_renamed(s["target"], i) if s["target"] in names else s["target"])
        for s in data["shocks"]
        for i in range(copies if s["target"] in names else 1)
    ]
    return Scenario.model_validate(out)


def _measure(args: tuple[str, int, int], queue) -> None:
    path, copies, ticks = args
    world = scale_world(load_scenario(path), copies)
    m = MarketModel(world, seed=0)
    m.step()  # first tick builds the clearing model; time the rest
    m.timing = {k: 0.0 for k in m.timing}
    start = time.perf_counter()
    for _ in range(ticks):
        m.step()
    wall = time.perf_counter() - start
    queue.put(
        {
            "copies": copies,
            "agents": len(m.by_name),
            "columns": m.clearer.layout.num_cols,
            "ticks_per_second": ticks / wall,
            "agents_s_per_tick": m.timing["agents"] / ticks,
            "clearing_s_per_tick": m.timing["clearing"] / ticks,
            "metrics_s_per_tick": m.timing["metrics"] / ticks,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    )


def measure(path: str, copies: int, ticks: int) -> dict:
    """Run one size in a fresh process and return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_measure, args=((path, copies, ticks), queue))
    p.start()
    result = queue.get()
    p.join()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=DEFAULT)
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 10, 29])
    parser.add_argument("--ticks", type=int, default=16, help="timed ticks per size")
    args = parser.parse_args(argv)
    rows = [measure(args.scenario, c, args.ticks) for c in args.copies]
    head = (
        f"{'agents':>7}{'columns':>9}{'ticks/s':>9}{'agents s':>10}{'clear s':>9}"
        f"{'metrics s':>10}{'agents %':>9}{'agent-ms/agent':>15}{'peak MB':>9}"
    )
    print(head)
    for r in rows:
        tick = r["agents_s_per_tick"] + r["clearing_s_per_tick"] + r["metrics_s_per_tick"]
        share = 100 * r["agents_s_per_tick"] / tick
        per_agent = 1e3 * r["agents_s_per_tick"] / r["agents"]
        print(
            f"{r['agents']:>7}{r['columns']:>9}{r['ticks_per_second']:>9.2f}"
            f"{r['agents_s_per_tick']:>10.3f}{r['clearing_s_per_tick']:>9.3f}"
            f"{r['metrics_s_per_tick']:>10.3f}{share:>8.1f}%{per_agent:>15.3f}{r['peak_rss_mb']:>9.0f}"
        )
    base, big = rows[0], rows[-1]
    big_tick = big["agents_s_per_tick"] + big["clearing_s_per_tick"] + big["metrics_s_per_tick"]
    growth = (big["agents_s_per_tick"] / base["agents_s_per_tick"]) / (
        big["agents"] / base["agents"]
    )
    print(
        f"\nagents' time per tick grew {growth:.2f}x as fast as the number of agents "
        f"(target <= 1, i.e. at most linear); agents' share at {big['agents']} agents: "
        f"{100 * big['agents_s_per_tick'] / big_tick:.1f}% "
        "(target < 50%)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
