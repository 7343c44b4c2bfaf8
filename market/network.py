"""The supply network: a networkx MultiDiGraph of agents (nodes) and trade routes (edges).

Nodes carry ``type`` (the agent class name) and ``region``; each edge is keyed
by its good and carries ``capacity`` (units per tick, inf = unlimited) and
``cost`` ($ per unit: transport between regions, plus scenario overrides).
Default routes follow the chain: tool makers -> fabs, memory makers and packagers
(tools), fabs -> designers (wafer, and CoWoS where the
fab packages), memory makers -> designers (HBM) and, with a wafer pool, -> DRAM
buyers (DRAM), packagers -> designers (CoWoS), designers -> hyperscalers
(accelerators; captive designers only to their owners, regional parts only to their
regions' hyperscalers; open designers also to labs that buy for fleets of their own),
power providers -> hyperscalers (MW), network makers ->
hyperscalers whose installs take networking, data-centre developers -> hyperscalers
that build shells (MW of shell), hyperscalers -> labs (compute, and with traffic classes
compute_premium along each compute route: ODD 7.19), each only within one
``cluster`` (all 0 unless a scaled world sets them);
``scenario.routes`` add or override routes, across clusters too (a compute route's
override applies to its premium twin; policies on compute act on both).
Policies act on a tick's copy of the routes (``routes_for_tick``), never on the graph.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import networkx as nx

from market.agents.registry import BY_SECTION
from market.scenario import Scenario
from market.shocks import PolicyState
from market.traffic import ECONOMY, PREMIUM, enabled
from optimizers import Route


def build_network(scenario: Scenario) -> nx.MultiDiGraph:
    """The scenario's agents and default routes, with the scenario's overrides applied."""
    g = nx.MultiDiGraph()
    for section, spec in scenario.agent_specs():
        g.add_node(
            spec.name, type=BY_SECTION[section].name, region=spec.region, cluster=spec.cluster
        )
    region = nx.get_node_attributes(g, "region")
    cluster = nx.get_node_attributes(g, "cluster")

    def link(seller: str, buyer: str, good: str) -> None:
        if cluster[seller] != cluster[buyer]:
            return
        cost = scenario.transport_cost.get(good, 0.0) if region[seller] != region[buyer] else 0.0
        g.add_edge(seller, buyer, key=good, capacity=math.inf, cost=cost)

    designers = scenario.designers
    for t in scenario.tool_makers:  # tools to every line that may need them (ODD 7.14)
        for buyer in (*scenario.fabs, *scenario.memory_makers, *scenario.packagers):
            link(t.name, buyer.name, "tools")
    for f in scenario.fabs:
        for d in designers:
            link(f.name, d.name, "wafer")
            if f.cowos_capacity > 0:
                link(f.name, d.name, "cowos")
    for m in scenario.memory_makers:
        for d in designers:
            link(m.name, d.name, "hbm")
    for m in scenario.memory_makers:  # conventional DRAM, from makers with a wafer pool
        if m.wafers > 0:
            for buyer in scenario.dram_buyers:
                link(m.name, buyer.name, "dram")
    for p in scenario.packagers:
        for d in designers:
            link(p.name, d.name, "cowos")
    for d in designers:
        for h in scenario.hyperscalers:
            captive = not d.captive_to or h.name in d.captive_to
            if captive and (not d.sells_to_regions or h.region in d.sells_to_regions):
                link(d.name, h.name, "accelerator")
        for lab in scenario.labs:  # labs that buy for a fleet of their own (ODD 7.17)
            regional = not d.sells_to_regions or lab.region in d.sells_to_regions
            if lab.fleet_target > 0 and not d.captive_to and regional:
                link(d.name, lab.name, "accelerator")
    for p in scenario.power_providers:
        for h in scenario.hyperscalers:
            link(p.name, h.name, "power")
    for n in scenario.network_makers:
        for h in scenario.hyperscalers:
            if h.networking_per_h100e > 0:
                link(n.name, h.name, "networking")
    for dev in scenario.dc_developers:
        for h in scenario.hyperscalers:
            if h.shells:
                link(dev.name, h.name, "shell")
    for h in scenario.hyperscalers:
        for lab in scenario.labs:
            link(h.name, lab.name, "compute")
    for r in scenario.routes:
        g.add_edge(r.seller, r.buyer, key=r.good, capacity=r.capacity, cost=r.cost)
    if enabled(scenario.traffic):  # premium compute travels wherever compute does
        for s, b, good, data in list(g.edges(keys=True, data=True)):
            if good == ECONOMY:
                g.add_edge(s, b, key=PREMIUM, capacity=data["capacity"], cost=data["cost"])
    return g


def route_table(graph: nx.MultiDiGraph) -> list[tuple[str, str, str, float, float, str, str]]:
    """(seller, buyer, good, capacity, cost, seller region, buyer region) per edge, in order."""
    region = nx.get_node_attributes(graph, "region")
    return [
        (s, b, good, data["capacity"], data["cost"], region[s], region[b])
        for s, b, good, data in graph.edges(keys=True, data=True)
    ]


def routes_for_tick(
    table: list[tuple[str, str, str, float, float, str, str]],
    policy: PolicyState,
    exclusive: dict[tuple[str, str], set[str]],
    extra_cost: Callable[[str, str, str], float] | None = None,
) -> list[Route]:
    """This tick's routes, from ``route_table(graph)`` (the graph's stable edge order).

    ``policy``'s route rules cap capacity (export controls; a cap of 0 closes the
    route) and add cost (tariffs); ``exclusive`` maps (buyer, good) to the only
    sellers allowed by an exclusive contract; ``extra_cost(seller, buyer, good)``
    adds e.g. an ecosystem switching cost ($ per unit).
    """
    rules = policy.routes
    out = []
    for s, b, good, cap, cost, rs, rb in table:
        allowed = True
        base = ECONOMY if good == PREMIUM else good  # policies on compute act on both
        for rule in rules:
            if rule.matches(rs, rb, base):
                cap = cap * rule.cap if math.isfinite(cap) else (math.inf if rule.cap > 0 else 0)
                cost += rule.cost
                if rule.cap == 0:
                    allowed = False
        if exclusive:
            only = exclusive.get((b, base))
            if only is not None and s not in only:
                allowed = False
        if extra_cost is not None:
            cost += extra_cost(s, b, good)
        out.append(Route(s, b, good, cap, cost, allowed))
    return out
