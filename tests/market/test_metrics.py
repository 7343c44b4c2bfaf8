"""Per-tick metrics: concentration, coverage, persistence, capacity and upstream exposure.

Expected values come from outside the code under test: closed forms (n equal
firms, a monopoly), public market shares worked by hand, a supply chain whose
exposures are derived by hand in the comments, conservation of supply, and, for
random networks that conserve flow, an absorbing Markov chain: under
proportional mixing each unit leaving a node picks its next node with the
node's out-flow fractions whatever its origin, so the amount of origin o's
supply ending at sink k is ``s_o * N[o, k]`` with ``N = (I - P)^-1``.
"""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from market.metrics import (
    buyer_supplier_hhi,
    buyer_top1_share,
    contract_coverage,
    exposure_by,
    hhi,
    market_hhi,
    relationship_persistence,
    stranded_capacity,
    supplier_shares,
    top_share,
    trace_exposure,
    utilisation,
)

FAST = settings(max_examples=60, deadline=None)


# --- concentration ------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 7, 50])
def test_hhi_of_n_equal_firms_is_10000_over_n(n):
    assert hhi({f"firm{i}": 12.5 for i in range(n)}) == pytest.approx(10_000 / n)


def test_hhi_of_monopoly_is_10000_and_zero_sellers_do_not_count():
    assert hhi({"tsmc": 42.0}) == pytest.approx(10_000)
    assert hhi({"tsmc": 42.0, "samsung": 0.0, "intel": 0.0}) == pytest.approx(10_000)


def test_hhi_of_public_hbm_shares():
    shares = {"SK hynix": 57, "Samsung": 22, "Micron": 21}  # percent
    expected = sum(s**2 for s in shares.values())
    assert expected == 4174
    assert hhi(shares) == pytest.approx(expected)
    # The same market in GB per tick (any scale) gives the same index.
    assert hhi({k: v * 3.7e6 for k, v in shares.items()}) == pytest.approx(expected)


@FAST
@given(
    st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=20),
    st.floats(1e-3, 1e3),
)
def test_hhi_is_invariant_to_scaling(quantities, scale):
    q = dict(enumerate(quantities))
    assert hhi({k: v * scale for k, v in q.items()}) == pytest.approx(hhi(q), rel=1e-9, abs=1e-9)


@FAST
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=20))
def test_hhi_lies_between_10000_over_n_and_10000(quantities):
    q = dict(enumerate(quantities))
    if sum(quantities) == 0:
        assert hhi(q) == 0.0
        return
    n = sum(1 for v in quantities if v > 0)
    assert 10_000 / n - 1e-6 <= hhi(q) <= 10_000 + 1e-6
    assert top_share(q) == pytest.approx(max(quantities) / sum(quantities))


def test_empty_and_all_zero_inputs_give_zero():
    assert hhi({}) == 0.0
    assert hhi({"a": 0.0, "b": 0}) == 0.0
    assert top_share({}) == 0.0
    assert top_share({"a": 0.0}) == 0.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, "lots"])
@pytest.mark.parametrize("func", [hhi, top_share])
def test_bad_quantity_raises_naming_the_key(func, bad):
    with pytest.raises(ValueError, match="hynix_bad"):
        func({"samsung": 1.0, "hynix_bad": bad})


def test_supplier_shares_sum_repeats_and_drop_zero_flows():
    flows = [
        ("tsmc", "nvidia", "wafer", 30.0),
        ("samsung", "nvidia", "wafer", 10.0),
        ("tsmc", "nvidia", "wafer", 20.0),
        ("hynix", "nvidia", "hbm", 40.0),
        ("micron", "nvidia", "hbm", 0.0),
        ("tsmc", "amd", "wafer", 5.0),
    ]
    assert supplier_shares(flows) == {
        ("nvidia", "wafer"): {"tsmc": 50.0, "samsung": 10.0},
        ("nvidia", "hbm"): {"hynix": 40.0},
        ("amd", "wafer"): {"tsmc": 5.0},
    }
    # nvidia wafers: shares 5/6 and 1/6 -> (500/6)^2 + (100/6)^2 = 260000/36.
    assert buyer_supplier_hhi(flows) == pytest.approx(
        {("nvidia", "wafer"): 260_000 / 36, ("nvidia", "hbm"): 10_000, ("amd", "wafer"): 10_000}
    )
    assert buyer_top1_share(flows) == pytest.approx(
        {("nvidia", "wafer"): 5 / 6, ("nvidia", "hbm"): 1.0, ("amd", "wafer"): 1.0}
    )


def test_supplier_shares_bad_flow_names_it():
    with pytest.raises(ValueError, match=r"'micron' -> 'nvidia'"):
        supplier_shares([("hynix", "nvidia", "hbm", 1.0), ("micron", "nvidia", "hbm", -2.0)])


def test_market_hhi_per_good():
    sales = [
        ("hynix", "hbm", 57.0),
        ("samsung", "hbm", 22.0),
        ("micron", "hbm", 21.0),
        ("tsmc", "cowos", 9.0),
        ("tsmc", "cowos", 1.0),
        ("idle", "power", 0.0),
    ]
    assert market_hhi(sales) == pytest.approx({"hbm": 4174.0, "cowos": 10_000.0, "power": 0.0})
    with pytest.raises(ValueError, match="'ase'"):
        market_hhi([("ase", "cowos", math.nan)])


# --- contracts and relationships ----------------------------------------------------------
def test_contract_coverage():
    cov = contract_coverage(
        {"openai": 30.0, "anthropic": 10.0, "xai": 5.0 * (1 + 1e-12)},
        {"openai": 40.0, "anthropic": 10.0, "xai": 5.0, "meta": 20.0, "idle": 0.0},
    )
    assert cov == pytest.approx(
        {"openai": 0.75, "anthropic": 1.0, "xai": 1.0, "meta": 0.0, "idle": 0.0}
    )
    assert cov["xai"] <= 1.0


@pytest.mark.parametrize(
    ("contracted", "total"),
    [
        ({"lab_x": 11.0}, {"lab_x": 10.0}),
        ({"lab_x": 1.0}, {}),
        ({"lab_x": -1.0}, {"lab_x": 10.0}),
        ({"lab_x": 1.0}, {"lab_x": math.nan}),
    ],
)
def test_contract_coverage_bad_input_names_the_buyer(contracted, total):
    with pytest.raises(ValueError, match="lab_x"):
        contract_coverage(contracted, total)


def test_relationship_persistence_is_share_of_current_not_jaccard():
    prev = {("tsmc", "nvidia", "wafer"), ("hynix", "nvidia", "hbm"), ("ase", "amd", "cowos")}
    cur = {("tsmc", "nvidia", "wafer"), ("hynix", "nvidia", "hbm"), ("micron", "nvidia", "hbm")}
    assert relationship_persistence(prev, cur) == pytest.approx(2 / 3)  # Jaccard would be 2/4
    assert relationship_persistence(set(), cur) == 0.0
    assert relationship_persistence(prev, prev) == 1.0
    assert math.isnan(relationship_persistence(prev, set()))


# --- capacity ----------------------------------------------------------------------------
def test_utilisation_and_stranded_capacity():
    assert utilisation(75.0, 100.0) == pytest.approx(0.75)
    assert utilisation(0.0, 100.0) == 0.0
    assert utilisation(100.0 * (1 + 1e-12), 100.0) == 1.0
    assert math.isnan(utilisation(0.0, 0.0))
    assert stranded_capacity(100.0, 75.0) == pytest.approx(25.0)
    assert stranded_capacity(100.0, 120.0) == 0.0
    with pytest.raises(ValueError, match="used"):
        utilisation(101.0, 100.0)
    with pytest.raises(ValueError, match="available"):
        utilisation(1.0, -5.0)
    with pytest.raises(ValueError, match="capacity"):
        stranded_capacity(math.nan, 1.0)


# --- upstream exposure: a hand-worked chain ------------------------------------------------
def ai_chain() -> nx.DiGraph:
    """Flows in $bn per tick.

    fab_tw -30-> designer, fab_kr -10-> designer (wafers 3:1), hbm_kr -40-> designer.
    designer -60-> hs1, designer -20-> hs2; hs2 also supplies 20 of its own chips.
    hs1 -40-> lab1, hs1 -20-> lab2, hs2 -40-> lab2.
    """
    g = nx.DiGraph()
    for node, region in [
        ("fab_tw", "TW"),
        ("fab_kr", "KR"),
        ("hbm_kr", "KR"),
        ("designer", "US"),
        ("hs1", "US"),
        ("hs2", "US"),
        ("lab1", "US"),
        ("lab2", "US"),
    ]:
        g.add_node(node, region=region)
    g.nodes["hs2"]["own"] = 20.0
    for u, v, f in [
        ("fab_tw", "designer", 30.0),
        ("fab_kr", "designer", 10.0),
        ("hbm_kr", "designer", 40.0),
        ("designer", "hs1", 60.0),
        ("designer", "hs2", 20.0),
        ("hs1", "lab1", 40.0),
        ("hs1", "lab2", 20.0),
        ("hs2", "lab2", 40.0),
    ]:
        g.add_edge(u, v, flow=f)
    return g


def test_trace_exposure_on_hand_worked_chain():
    g = ai_chain()
    exp = trace_exposure(g, ["lab1", "lab2", "hs1"])
    # designer's 80 = 30 TW wafers + 10 KR wafers + 40 HBM -> 3/8, 1/8, 1/2; hs1 and lab1
    # only see the designer's mix.
    designer = {"fab_tw": 3 / 8, "fab_kr": 1 / 8, "hbm_kr": 1 / 2}
    assert exp["hs1"] == pytest.approx(designer)
    assert exp["lab1"] == pytest.approx(designer)
    # hs2 = 20 designer + 20 own -> half each. lab2 = 20 from hs1 (designer) + 40 from hs2
    # (20 designer, 20 hs2) -> 2/3 designer, 1/3 hs2.
    assert exp["lab2"] == pytest.approx(
        {"fab_tw": 1 / 4, "fab_kr": 1 / 12, "hbm_kr": 1 / 3, "hs2": 1 / 3}
    )
    regions = exposure_by("region", g, exp)
    assert regions["lab1"] == pytest.approx({"TW": 3 / 8, "KR": 5 / 8})
    assert regions["lab2"] == pytest.approx({"TW": 1 / 4, "KR": 5 / 12, "US": 1 / 3})


def test_sink_fed_by_a_single_origin_is_fully_exposed_to_it():
    g = nx.DiGraph()
    for u, v, f in [("fab", "a", 5.0), ("fab", "b", 7.0), ("a", "lab", 2.0), ("b", "lab", 3.0)]:
        g.add_edge(u, v, flow=f)
    g.add_edge("other_fab", "a", flow=0.0)  # a zero-flow edge is no dependency
    assert trace_exposure(g, ["lab", "a"]) == {"lab": {"fab": 1.0}, "a": {"fab": 1.0}}


def test_sink_that_received_nothing_has_empty_exposure_and_own_supply_counts():
    g = nx.DiGraph()
    g.add_edge("fab", "lab", flow=0.0)
    g.add_node("self_built", own=3.0)
    assert trace_exposure(g, ["lab", "self_built"]) == {
        "lab": {},
        "self_built": {"self_built": 1.0},
    }


def test_trace_exposure_solves_a_cycle_fed_from_outside():
    # o1 -10-> a, o2 -10-> b, a -15-> b, b -5-> a, b -20-> s. Flow is conserved at a and b
    # and all 20 units of supply end in s, 10 from each origin.
    g = nx.DiGraph()
    for u, v, f in [
        ("o1", "a", 10),
        ("o2", "b", 10),
        ("a", "b", 15),
        ("b", "a", 5),
        ("b", "s", 20),
    ]:
        g.add_edge(u, v, flow=float(f))
    exp = trace_exposure(g, ["s", "a"])
    assert exp["s"] == pytest.approx({"o1": 0.5, "o2": 0.5})
    # a: m_a = (10 o1 + 5 m_b) / 15, m_b = (10 o2 + 15 m_a) / 25 -> o1 share of a = 5/6.
    assert exp["a"] == pytest.approx({"o1": 5 / 6, "o2": 1 / 6})


def test_self_loop_does_not_change_the_mix():
    g = nx.DiGraph()
    g.add_edge("o1", "a", flow=3.0)
    g.add_edge("o2", "a", flow=1.0)
    g.add_edge("a", "a", flow=100.0)
    g.add_edge("a", "s", flow=4.0)
    assert trace_exposure(g, ["s"])["s"] == pytest.approx({"o1": 0.75, "o2": 0.25})


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda g: g.add_edge("hs1", "lab1", flow=-1.0), r"'hs1' -> 'lab1'"),
        (lambda g: g.add_edge("hs1", "lab1", flow=math.nan), r"'hs1' -> 'lab1'"),
        (lambda g: g.add_edge("hs1", "lab9"), r"'hs1' -> 'lab9'.*'flow'"),
        (lambda g: g.nodes["hs2"].update(own=-3.0), r"'hs2'"),
        (lambda g: g.add_edge("lab1", "hs1", flow=1.0), None),  # fed from outside: fine
    ],
)
def test_trace_exposure_bad_graph_raises_naming_edge_or_node(edit, pattern):
    g = ai_chain()
    edit(g)
    if pattern is None:
        assert set(trace_exposure(g, ["lab2"])["lab2"]) == {"fab_tw", "fab_kr", "hbm_kr", "hs2"}
        return
    with pytest.raises(ValueError, match=pattern):
        trace_exposure(g, ["lab1", "lab2"])


def test_closed_cycle_without_outside_supply_names_a_node_on_it():
    g = ai_chain()
    g.add_edge("loop_a", "loop_b", flow=1.0)
    g.add_edge("loop_b", "loop_a", flow=1.0)
    g.add_edge("loop_b", "lab1", flow=1.0)
    with pytest.raises(ValueError, match=r"'loop_[ab]' is on a cycle"):
        trace_exposure(g, ["lab1"])
    # The closed loop is not upstream of lab2, which is still traced.
    assert trace_exposure(g, ["lab2"])["lab2"] == pytest.approx(
        trace_exposure(ai_chain(), ["lab2"])["lab2"]
    )


def test_unknown_sink_and_origin_without_attribute_are_named():
    g = ai_chain()
    with pytest.raises(ValueError, match="ghost_lab"):
        trace_exposure(g, ["ghost_lab"])
    del g.nodes["fab_kr"]["region"]
    with pytest.raises(ValueError, match="'fab_kr'.*'region'"):
        exposure_by("region", g, trace_exposure(g, ["lab1"]))


# --- upstream exposure: random networks ----------------------------------------------------
@st.composite
def random_dags(draw) -> nx.DiGraph:
    """A DAG on nodes 0..n-1 (edges i -> j for i < j), arbitrary flows, some zero, some own."""
    n = draw(st.integers(2, 10))
    g = nx.DiGraph()
    for v in range(n):
        own = draw(st.one_of(st.none(), st.just(0.0), st.floats(0.01, 50.0)))
        g.add_node(v, **({} if own is None else {"own": own}))
    for i in range(n):
        for j in range(i + 1, n):
            f = draw(st.one_of(st.none(), st.just(0.0), st.floats(0.01, 100.0)))
            if f is not None:
                g.add_edge(i, j, flow=f)
    return g


@FAST
@given(random_dags())
def test_shares_sum_to_one_on_random_dags(g):
    exp = trace_exposure(g, g.nodes)
    assert set(exp) == set(g.nodes)
    for v, shares in exp.items():
        received = g.nodes[v].get("own", 0.0) > 0 or any(
            d["flow"] > 0 for _, _, d in g.in_edges(v, data=True)
        )
        if not received:
            assert shares == {}
            continue
        assert all(s > 0 for s in shares.values())
        assert math.fsum(shares.values()) == pytest.approx(1.0, abs=1e-12)


@st.composite
def conserving_networks(draw, cyclic: bool) -> tuple[nx.DiGraph, np.ndarray, np.ndarray]:
    """A network where every unit of supply flows on until it ends in a sink.

    Nodes 0..n-1; the last ``k`` are sinks (no out-flow). Every other node sends its
    whole supply (own + in-flow) on with fractions ``P[i]``, including at least one
    edge to a later node so that all flow reaches a sink; with ``cyclic`` it may
    also send backwards. Returns the graph, own supply ``s`` and ``P``.
    """
    n = draw(st.integers(2, 9))
    k = draw(st.integers(1, n - 1))
    weights = np.zeros((n, n))
    for i in range(n - k):
        forward = draw(st.integers(i + 1, n - 1))
        weights[i, forward] = draw(st.floats(0.5, 10.0))
        for j in range(n):
            if j != i and (cyclic or j > i) and draw(st.booleans()):
                weights[i, j] += draw(st.floats(0.05, 10.0))
    p = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    s = np.array([draw(st.one_of(st.just(0.0), st.floats(0.1, 50.0))) for _ in range(n)])
    s[0] = max(s[0], 1.0)
    throughput = np.linalg.solve(np.eye(n) - p.T, s)
    g = nx.DiGraph()
    for v in range(n):
        g.add_node(v, own=float(s[v]))
    for i, j in zip(*np.nonzero(p)):
        g.add_edge(int(i), int(j), flow=float(throughput[i] * p[i, j]))
    return g, s, p


def assert_matches_markov_chain(g: nx.DiGraph, s: np.ndarray, p: np.ndarray) -> None:
    n = len(s)
    sinks = [v for v in range(n) if not p[v].any()]
    exp = trace_exposure(g, sinks)
    reach = np.linalg.inv(np.eye(n) - p)  # reach[o, k]: expected visits to k per unit from o
    arrived = s[:, None] * reach  # units of o's supply that end at (sink) k
    consumption = {
        k: math.fsum(d["flow"] for *_, d in g.in_edges(k, data=True)) + s[k] for k in sinks
    }
    for k in sinks:
        if consumption[k] == 0:
            assert exp[k] == {}
            continue
        expected = {o: arrived[o, k] / consumption[k] for o in range(n) if arrived[o, k] > 0}
        for o in expected.keys() | exp[k].keys():
            assert exp[k].get(o, 0.0) == pytest.approx(expected.get(o, 0.0), rel=1e-7, abs=1e-9)
    # Conservation: every origin's supply is found, in full, across the sinks.
    for o in range(n):
        found = math.fsum(consumption[k] * exp[k].get(o, 0.0) for k in sinks)
        assert found == pytest.approx(s[o], rel=1e-7, abs=1e-7)


@FAST
@given(conserving_networks(cyclic=False))
def test_conservation_and_markov_oracle_on_random_dags(network):
    assert_matches_markov_chain(*network)


@FAST
@given(conserving_networks(cyclic=True))
def test_conservation_and_markov_oracle_on_random_cyclic_networks(network):
    assert_matches_markov_chain(*network)


def test_long_chain_and_wide_fan_in_are_traced_exactly():
    # A 20,000-node chain from one origin, then 2,000 origins fanning into one node.
    n, m = 20_000, 2_000
    g = nx.DiGraph()
    g.add_node(0, region="TW")
    for i in range(n):
        g.add_edge(i, i + 1, flow=1.0)
    for j in range(m):
        g.add_node(("fab", j), region="KR")
        g.add_edge(("fab", j), "hub", flow=1.0)
    g.add_edge(n, "hub", flow=float(m))
    exp = trace_exposure(g, [n, "hub"])
    assert exp[n] == {0: 1.0}
    assert exp["hub"][0] == pytest.approx(0.5)
    assert exp["hub"][("fab", 7)] == pytest.approx(0.5 / m)
    assert exposure_by("region", g, exp)["hub"] == pytest.approx({"TW": 0.5, "KR": 0.5})


# --- margins ------------------------------------------------------------------------------
def test_gross_margin_from_a_hand_ledger():
    from market.metrics import gross_margins

    rows = [
        ("hyper", "nv", 30000.0, "spot:accelerator"),  # a chip sold (capital for the buyer)
        ("nv", "tsmc", 1000.0, "contract:wafer"),
        ("nv", "hynix", 2400.0, "spot:hbm"),
        ("nv", "<external>", 3900.0, "operating"),
        ("nv", "<external>", 700.0, "switching"),  # a selling cost, not cost of sales
        ("tsmc", "<external>", 600.0, "operating"),
        ("lab", "hyper", 5000.0, "spot:compute"),
        ("hyper", "<external>", 600.0, "operating"),
        ("<external>", "lab", 6000.0, "revenue"),
    ]
    m = gross_margins(rows, capital_goods=["accelerator", "power"])
    assert m["nv"] == pytest.approx((30000 - 1000 - 2400 - 3900) / 30000)
    assert m["tsmc"] == pytest.approx((1000 - 600) / 1000)
    assert m["hyper"] == pytest.approx((5000 - 600) / 5000)  # the chip is capex
    assert m["lab"] == pytest.approx((6000 - 5000) / 6000)
