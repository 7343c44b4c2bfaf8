"""Shocks and policies: what the scenario's schedule changes at a given tick."""

from __future__ import annotations

from dataclasses import dataclass, field

from market.scenario import CAPACITY_BUILDERS, Scenario, ShockSpec


@dataclass(slots=True)
class RouteRule:
    """Routes from_region -> to_region for ``goods``: capacity x ``cap``, plus ``cost`` $/unit."""

    from_region: str
    to_region: str
    goods: tuple[str, ...]
    cap: float = 1.0
    cost: float = 0.0

    def matches(self, seller_region: str, buyer_region: str, good: str) -> bool:
        return (
            (not self.from_region or seller_region == self.from_region)
            and (not self.to_region or buyer_region == self.to_region)
            and (not self.goods or good in self.goods)
            and seller_region != buyer_region
        )


@dataclass(slots=True)
class PolicyState:
    """The combined effect of every shock active at one tick."""

    capacity: dict[str, float] = field(default_factory=dict)  # agent -> factor
    demand: dict[str, float] = field(default_factory=dict)  # lab or DRAM buyer -> factor
    capex: dict[str, float] = field(default_factory=dict)  # agent -> factor
    routes: list[RouteRule] = field(default_factory=list)
    contract_cap: float | None = None  # max share of a supplier's capacity per buyer
    carbon: dict[str, float] = field(default_factory=dict)  # hyperscaler -> $ per t CO2e
    clean: dict[str, float] = field(default_factory=dict)  # hyperscaler -> clean share required
    lead_time: dict[str, float] = field(default_factory=dict)  # supplier -> multiplier
    active: list[str] = field(default_factory=list)  # descriptions, for reports

    def capacity_factor(self, agent: str) -> float:
        return self.capacity.get(agent, 1.0)

    def demand_factor(self, agent: str) -> float:
        return self.demand.get(agent, 1.0)

    def capex_factor(self, agent: str) -> float:
        return self.capex.get(agent, 1.0)

    def lead_time_factor(self, agent: str) -> float:
        """Multiplier (>= 1) on the lead time of capacity the agent orders this tick."""
        return self.lead_time.get(agent, 1.0)

    def clean_share(self, agent: str) -> float:
        """Share of its energy (0..1) the agent must source clean this tick (0 without a
        requirement)."""
        return self.clean.get(agent, 0.0)

    def carbon_price(self, agent: str) -> float:
        """$ per t CO2e the agent pays on its emissions this tick (0 without a carbon price)."""
        return self.carbon.get(agent, 0.0)


def _targets(
    shock: ShockSpec, agents: dict[str, tuple[str, str]], section: str | None
) -> list[str]:
    """Agents hit by a shock: by name, by region, or all (of one section if given)."""
    out = []
    for name, (sec, region) in agents.items():
        if section is not None and sec != section:
            continue
        if not shock.target or shock.target in (name, region):
            out.append(name)
    return out


def policy_at(scenario: Scenario, tick: int) -> PolicyState:
    """The policy state in force at ``tick`` (shocks active for start <= tick < end)."""
    agents = {s.name: (sec, s.region) for sec, s in scenario.agent_specs()}
    state = PolicyState()
    for name, (_, region) in agents.items():  # permitting: regional lead-time multipliers
        if region in scenario.permitting:
            state.lead_time[name] = scenario.permitting[region]
    for s in scenario.shocks:
        if not s.start <= tick < s.end:
            continue
        state.active.append(f"{s.kind}:{s.target or s.from_region or 'all'}")
        if s.kind in ("outage", "capacity_drop"):
            for a in _targets(s, agents, None):
                state.capacity[a] = state.capacity.get(a, 1.0) * s.factor
        elif s.kind == "power_shortage":
            for a in _targets(s, agents, "power_providers"):
                state.capacity[a] = state.capacity.get(a, 1.0) * s.factor
        elif s.kind == "demand_bust":
            for a in _targets(s, agents, "labs"):
                state.demand[a] = state.demand.get(a, 1.0) * s.factor
        elif s.kind == "dram_demand":  # the outside DRAM market (market/agents/dram_buyer.py)
            for a in _targets(s, agents, "dram_buyers"):
                state.demand[a] = state.demand.get(a, 1.0) * s.factor
        elif s.kind == "subsidy":
            for a in _targets(s, agents, None):
                state.capex[a] = state.capex.get(a, 1.0) * s.factor
        elif s.kind == "export_control":
            state.routes.append(RouteRule(s.from_region, s.to_region, s.goods, cap=s.factor))
        elif s.kind == "tariff":
            state.routes.append(RouteRule(s.from_region, s.to_region, s.goods, cost=s.factor))
        elif s.kind == "carbon_price":  # prices in force together add up
            for a in _targets(s, agents, "hyperscalers"):
                state.carbon[a] = state.carbon.get(a, 0.0) + s.factor
        elif s.kind == "clean_energy_share":  # of requirements in force, the strictest
            for a in _targets(s, agents, "hyperscalers"):
                state.clean[a] = max(state.clean.get(a, 0.0), s.factor)
        elif s.kind == "permitting_delay":  # delays in force together multiply
            for a in _targets(s, agents, None):
                if agents[a][0] in CAPACITY_BUILDERS:
                    state.lead_time[a] = state.lead_time.get(a, 1.0) * s.factor
        elif s.kind == "contract_cap":
            cap = s.factor if state.contract_cap is None else min(state.contract_cap, s.factor)
            state.contract_cap = cap
    return state
