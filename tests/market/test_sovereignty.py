"""Sovereignty metrics: self-sufficiency per region and good, and the labs' single points
of failure upstream (issue 10 part 9)."""

from __future__ import annotations

import math
from collections import defaultdict

import networkx as nx
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from worlds import small_world

from market import metrics, sovereignty
from market.agents import ChipDesigner, Hyperscaler, Lab
from market.goods import GOODS
from market.model import MarketModel

TICKS = 4


def _run(shocks=()) -> MarketModel:
    m = MarketModel(small_world(shocks=list(shocks)), seed=1)
    for _ in range(TICKS):
        m.step()
    return m


def _cut(factor: float) -> list[dict]:
    return [{"kind": "capacity_drop", "start": 0, "end": 12, "target": "tsmc", "factor": factor}]


def _last(m: MarketModel, table: str) -> pd.DataFrame:
    df = pd.DataFrame(m.tables()[table])
    return df[df.tick == TICKS - 1]


def test_self_sufficiency_is_own_capacity_over_own_use_capped_at_one():
    assert sovereignty.self_sufficiency(5.0, 10.0) == 0.5
    assert sovereignty.self_sufficiency(20.0, 10.0) == 1.0
    assert sovereignty.self_sufficiency(0.0, 10.0) == 0.0
    assert math.isnan(sovereignty.self_sufficiency(3.0, 0.0))
    with pytest.raises(ValueError, match="capacity >= 0"):
        sovereignty.self_sufficiency(-1.0, 2.0)


def test_recorded_self_sufficiency_matches_the_ticks_flows_and_capacities_by_hand():
    m = _run()
    regions = pd.DataFrame(m.tables()["agents"])[["agent", "region"]].drop_duplicates()
    region = dict(zip(regions.agent, regions.region))
    flows = _last(m, "flows")
    caps = _last(m, "capacity")
    use: dict[tuple[str, str], float] = defaultdict(float)
    for b, g, q in zip(flows.buyer, flows.good, flows.quantity):
        use[(region[b], g)] += q
    cap: dict[tuple[str, str], float] = defaultdict(float)
    for a, g, x in zip(caps.agent, caps.good, caps.available):
        cap[(region[a], g)] += x
    sov = _last(m, "sovereignty")
    assert len(sov) == len(set(region.values())) * len(GOODS)  # every region and good
    checked = 0
    for r, g, c, u, s in zip(sov.region, sov.good, sov.capacity, sov.use, sov.self_sufficiency):
        assert u == pytest.approx(use[(r, g)], rel=1e-12)
        assert c == pytest.approx(cap[(r, g)], rel=1e-12)
        if use[(r, g)] > 0:
            assert s == pytest.approx(min(1.0, cap[(r, g)] / use[(r, g)]), rel=1e-12)
            checked += 1
        else:
            assert math.isnan(s)
    assert checked >= 5  # US uses wafers, HBM, CoWoS, accelerators, power and compute


def test_a_region_with_no_capacity_of_a_good_it_uses_has_self_sufficiency_zero():
    sov = _last(_run(), "sovereignty").set_index(["region", "good"])
    # HBM is made only in KR and CoWoS only in TW; the US designers use both.
    for good in ("hbm", "cowos"):
        assert sov.loc[("US", good), "capacity"] == 0
        assert sov.loc[("US", good), "use"] > 0
        assert sov.loc[("US", good), "self_sufficiency"] == 0.0


def _wafer_shares_by_hand(m: MarketModel) -> dict[str, dict[str, float]]:
    """lab <- hyperscalers (compute shares) <- designers (fleet shares) <- fabs (wafer
    shares of what each designer received this tick), multiplied along the paths."""
    flows = m.outcome.flows
    wafers: dict[str, dict[str, float]] = defaultdict(dict)
    for (s, b, g), q in flows.items():
        if g == "wafer" and q > 0:
            wafers[b][s] = q
    out: dict[str, dict[str, float]] = {}
    for lab in m.agents_of(Lab):
        compute = {s: q for (s, b, g), q in flows.items() if g == "compute" and b == lab.name}
        total = sum(compute.values())
        acc: dict[str, float] = defaultdict(float)
        for h in m.agents_of(Hyperscaler):
            fleet = {d: sum(q for _, q, *_ in c) for d, c in h.fleet.items()}
            for d, units in fleet.items():
                w = sum(wafers[d].values())
                for fab, q in wafers[d].items():
                    acc[fab] += (
                        compute.get(h.name, 0.0) / total * units / sum(fleet.values()) * q / w
                    )
        out[lab.name] = dict(acc)
    return out


def test_a_tw_capacity_cut_lowers_tw_wafer_capacity_and_tsmc_stays_the_labs_wafer_single_point():
    base, cut = _last(_run(), "sovereignty"), _last(_run(_cut(0.5)), "sovereignty")
    tw = {
        name: df.set_index(["region", "good"]).loc[("TW", "wafer"), "capacity"]
        for name, df in (("base", base), ("cut", cut))
    }
    assert tw["cut"] == pytest.approx(0.5 * tw["base"], rel=1e-12)

    m = _run(_cut(0.5))
    by_hand = _wafer_shares_by_hand(m)
    spof = _last(m, "single_points").query("good == 'wafer'").set_index("lab")
    for lab in ("openai", "anthropic", "spot"):  # the US labs
        fab = max(by_hand[lab], key=by_hand[lab].get)
        assert fab == "tsmc"
        assert spof.loc[lab, "supplier"] == "tsmc"
        assert spof.loc[lab, "share"] == pytest.approx(by_hand[lab]["tsmc"], rel=1e-9)
        assert bool(spof.loc[lab, "single_point"])


def test_under_a_deep_tw_cut_each_labs_largest_wafer_supplier_matches_the_flows_by_hand():
    m = _run(_cut(0.1))  # TSMC down to 10%: Intel's wafers now feed part of the fleet
    by_hand = _wafer_shares_by_hand(m)
    spof = _last(m, "single_points").query("good == 'wafer'").set_index("lab")
    suppliers = set()
    for lab, shares in by_hand.items():
        fab = max(shares, key=shares.get)
        suppliers.add(fab)
        assert len(shares) == 2  # both fabs reach every lab through the fleets
        assert spof.loc[lab, "supplier"] == fab
        assert spof.loc[lab, "share"] == pytest.approx(shares[fab], rel=1e-9)
        assert bool(spof.loc[lab, "single_point"]) == (shares[fab] >= sovereignty.SPOF_SHARE)
    assert suppliers == {"tsmc", "intel"}  # the cut moved some labs' single point to Intel


def test_upstream_shares_multiply_shares_along_the_paths():
    # lab <- h1 (3), h2 (1); h1 <- d1 fleet; h2 <- d1 (1), d2 (1); d1 <- f1; d2 <- f2
    layers = [
        [("h1", "lab", 3.0), ("h2", "lab", 1.0)],
        [("d1", "h1", 10.0), ("d1", "h2", 5.0), ("d2", "h2", 5.0)],
        [("f1", "d1", 2.0), ("f2", "d2", 7.0)],
    ]
    shares = sovereignty.upstream_shares(layers, ["lab", "idle"], {"f1", "f2"})
    assert shares["lab"] == pytest.approx({"f1": 0.75 + 0.125, "f2": 0.125})
    assert shares["idle"] == {}
    spof = sovereignty.single_points_of_failure(shares)
    assert spof == {"lab": [("f1", pytest.approx(0.875))], "idle": []}


def test_designers_without_the_tiers_input_are_not_reported_as_its_suppliers():
    m = _run(_cut(0.0))  # no TSMC wafers: designers without Intel wafers are untraced
    designers = {d.name for d in m.agents_of(ChipDesigner)}
    rows = _last(m, "single_points").query("good in ['wafer', 'cowos', 'hbm']")
    assert len(rows) > 0 and not designers & set(rows.supplier)


@given(st.data())
def test_upstream_shares_equal_proportional_tracing_on_a_layered_graph(data):
    # Tiers of distinct nodes: lab <- h* <- d* <- f*, random positive flows.
    sizes = [data.draw(st.integers(1, 3)) for _ in range(3)]
    tiers = [["lab"], *[[f"{p}{i}" for i in range(n)] for p, n in zip("hdf", sizes)]]
    flow = st.one_of(st.just(0.0), st.floats(1e-6, 10.0))  # flows as the model has them
    layers = [
        [(u, v, data.draw(flow)) for v in down for u in up] for down, up in zip(tiers, tiers[1:])
    ]
    g = nx.DiGraph()
    g.add_node("lab")
    for layer in layers:
        for u, v, f in layer:
            if f > 0:
                g.add_edge(u, v, flow=f)
    traced = metrics.trace_exposure(g, ["lab"])["lab"] if g.in_degree("lab") else {}
    for keep in (set(tiers[1]), set(tiers[2]), set(tiers[3])):
        ours = sovereignty.upstream_shares(layers, ["lab"], keep)["lab"]
        assert ours == pytest.approx({s: x for s, x in traced.items() if s in keep}, abs=1e-12)


def test_networking_and_shell_tiers_trace_labs_to_the_makers_their_hyperscalers_bought_from():
    from worlds import stack_world

    m = MarketModel(stack_world(), seed=1)
    m.run(TICKS)
    rows = _last(m, "single_points")
    flows = _last(m, "flows")
    for good in ("networking", "shell"):
        bought = flows[flows.good == good]
        got = rows[rows.good == good]
        assert bought.quantity.sum() > 0 and len(got) == 3  # every lab traced
        # By hand: a lab's share through maker s = sum over its hyperscalers h of
        # (h's share of the lab's compute) x (s's share of h's units of the good).
        compute = flows[flows.good == "compute"]
        for lab, share, supplier in zip(got.lab, got.share, got.supplier):
            mine = compute[compute.buyer == lab]
            total = mine.quantity.sum()
            x = 0.0
            for h, q in zip(mine.seller, mine.quantity):
                into = bought[bought.buyer == h]
                if into.quantity.sum() > 0:
                    x += (
                        q
                        / total
                        * into[into.seller == supplier].quantity.sum()
                        / into.quantity.sum()
                    )
            assert share == pytest.approx(x, rel=1e-9)
