"""Results that do not hang on listing order, on other agents, or on float noise (issue 8 part 6).

- Listing the agents of any section in another order gives the same tables (1e-6 relative).
- Each agent's random stream comes from (seed, its name): removing a lab leaves every
  other lab's demand draws unchanged.
- A 1e-9 relative change of a capacity moves no mean price by more than 1%.
- Solver noise below the stated tolerance reads as exactly zero.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from worlds import small_world

from experiments.scenarios import load_scenario
from market.agents import SECTIONS
from market.agents.base import agent_rng, stable_hash
from market.model import MarketModel
from market.scenario import Scenario
from market.tolerance import REL_QUANTITY, snap

BASELINE = Path(__file__).parents[2] / "experiments" / "scenarios" / "baseline.toml"


def reordered(world: Scenario, sections=SECTIONS) -> Scenario:
    """The same world with the agents of ``sections`` listed in reverse (fleets too)."""
    data = world.model_dump(mode="python")
    for section in sections:
        data[section] = list(reversed(data[section]))
        for spec in data[section]:
            if "fleet" in spec:
                spec["fleet"] = dict(reversed(list(spec["fleet"].items())))
    return Scenario.model_validate(data)


def assert_same_tables(a: dict, b: dict, rel: float = 1e-6) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].keys() == b[name].keys(), name
        for col in a[name]:
            x, y = a[name][col], b[name][col]
            assert len(x) == len(y), (name, col)
            for i, (u, v) in enumerate(zip(x, y, strict=True)):
                if isinstance(u, float) and isinstance(v, float):
                    if math.isnan(u) or math.isnan(v):
                        assert math.isnan(u) and math.isnan(v), (name, col, i, u, v)
                    else:
                        assert u == pytest.approx(v, rel=rel, abs=1e-9), (name, col, i)
                else:
                    assert u == v, (name, col, i, u, v)


def tables(world: Scenario, seed: int, ticks: int) -> dict:
    m = MarketModel(world, seed=seed)
    m.run(ticks)
    return m.tables()


@pytest.mark.parametrize("section", SECTIONS)
def test_listing_a_sections_agents_in_another_order_gives_the_same_tables(section):
    world = small_world()
    assert_same_tables(tables(world, 3, 12), tables(reordered(world, [section]), 3, 12))


def test_baseline_with_every_section_reversed_gives_the_same_tables():
    world = load_scenario(BASELINE)
    assert_same_tables(tables(world, 0, 8), tables(reordered(world), 0, 8))


def _demand(t: dict, lab: str) -> list[float]:
    a = t["agents"]
    return [d for name, d in zip(a["agent"], a["demand"]) if name == lab]


def test_removing_a_lab_leaves_every_other_labs_demand_draws_unchanged():
    world = small_world()
    data = world.model_dump(mode="python")
    data["labs"] = [lab for lab in data["labs"] if lab["name"] != "anthropic"]
    without = Scenario.model_validate(data)
    a, b = tables(world, 5, 10), tables(without, 5, 10)
    for lab in ("openai", "spot"):
        assert _demand(a, lab) == _demand(b, lab)  # exactly: the same draws
        assert len(set(_demand(a, lab))) > 5  # and the draws do move demand


def test_an_agents_stream_depends_on_seed_and_name_only():
    assert stable_hash("TSMC") == stable_hash("TSMC") != stable_hash("TSMC ")
    x = agent_rng(7, "OpenAI").standard_normal(4)
    assert np.array_equal(x, agent_rng(7, "OpenAI").standard_normal(4))
    assert not np.array_equal(x, agent_rng(8, "OpenAI").standard_normal(4))
    assert not np.array_equal(x, agent_rng(7, "Anthropic").standard_normal(4))


def _mean_prices(t: dict) -> dict[str, float]:
    p = t["prices"]
    out: dict[str, list[float]] = {}
    for g, v in zip(p["good"], p["price"]):
        if not math.isnan(v):
            out.setdefault(g, []).append(v)
    return {g: float(np.mean(v)) for g, v in out.items()}


@pytest.mark.parametrize(("section", "agent"), [("fabs", "tsmc"), ("memory_makers", "hynix")])
def test_a_1e_9_change_of_a_capacity_moves_no_mean_price_by_more_than_1_percent(section, agent):
    world = small_world()
    data = world.model_dump(mode="python")
    for spec in data[section]:
        if spec["name"] == agent:
            spec["capacity"] *= 1 + 1e-9
    nudged = Scenario.model_validate(data)
    for seed in (0, 1, 2):
        a, b = _mean_prices(tables(world, seed, 12)), _mean_prices(tables(nudged, seed, 12))
        assert a.keys() == b.keys()
        for g in a:
            assert b[g] == pytest.approx(a[g], rel=0.01), (seed, g)


def test_solver_noise_within_the_tolerance_reads_as_zero():
    assert snap(3.1e-10, 1e6) == 0.0
    assert snap(-2e-9, 1.0) == 0.0
    assert snap(2 * REL_QUANTITY * 1e6, 1e6) == pytest.approx(0.02)
    assert snap(5.0, 0.0) == 5.0


def test_a_price_on_a_threshold_is_not_above_it_whatever_the_rounding():
    from market.tolerance import exceeds

    # 11.0 x 1.05 and 1.1 x 10.5 are the same price but differ in the last bit.
    assert not exceeds(11.0 * 1.05, 1.1 * 10.5)
    assert not exceeds(1.1 * 10.5, 11.0 * 1.05)
    assert exceeds(11.56, 1.1 * 10.5)


def _late_means(world: Scenario, seed: int) -> dict[str, float]:
    """Mean transaction price per good over 2030-34 (ticks 20-39) of a baseline run."""
    t = tables(world, seed, 40)["prices"]
    out: dict[str, list[float]] = {}
    for tick, g, v in zip(t["tick"], t["good"], t["price"]):
        if tick >= 20 and not math.isnan(v):
            out.setdefault(g, []).append(v)
    return {g: float(np.mean(v)) for g, v in out.items()}


@pytest.mark.parametrize(
    ("section", "agent"), [("packagers", "Amkor"), ("power_providers", "Grid China")]
)
def test_on_the_baseline_a_1e_9_capacity_change_moves_no_2030_34_price_by_1_percent(section, agent):
    world = load_scenario(BASELINE)
    data = world.model_dump(mode="python")
    (spec,) = [s for s in data[section] if s["name"] == agent]
    spec["capacity"] *= 1 + 1e-9
    nudged = Scenario.model_validate(data)
    for seed in range(8):
        a, b = _late_means(world, seed), _late_means(nudged, seed)
        assert a.keys() == b.keys()
        for g in a:
            assert b[g] == pytest.approx(a[g], rel=0.01), (seed, g)


def test_a_designer_buying_from_a_supplier_that_asks_nothing_runs_on():
    """A supplier with unit_cost 0 asks $0: the reservation rule compares the node price
    with that ask and divided by it (found by tests/fuzz; ZeroDivisionError before)."""
    packagers = [dict(p, unit_cost=0.0) for p in small_world().model_dump()["packagers"]]
    m = MarketModel(small_world(packagers=packagers), seed=0)
    m.run(6)
    assert m.tick == 6
    assert all(math.isfinite(a.cash) for a in m.by_name.values())


@pytest.mark.parametrize("seed", range(4))
def test_on_the_baseline_no_quarter_moves_the_accelerator_or_compute_price_by_35_percent(seed):
    """Issue 8's spikes stay out (a mid-tick re-cap once let every chip generation make
    at full cap: the accelerator price tripled for a quarter, ODD 7.15). The bound, 35%,
    is above the largest move measured over 8 seeds (+17% / -16%) and far below a spike."""
    t = tables(load_scenario(BASELINE), seed, 40)["prices"]
    for good in ("accelerator", "compute"):
        p = [v for g, v in zip(t["good"], t["price"]) if g == good and not math.isnan(v)]
        moves = [b / a - 1 for a, b in zip(p, p[1:])]
        assert len(moves) >= 30, good
        assert max(map(abs, moves)) < 0.35, (good, max(moves), min(moves))
