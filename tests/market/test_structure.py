"""The model's parts: one registry of agent types, a frozen tick outcome, behaviour as fields."""

from __future__ import annotations

import dataclasses

import pytest
from worlds import small_world

from market.agents import AGENT_TYPES, BY_SECTION, MarketAgent
from market.model import MarketModel
from market.scenario import Scenario


def test_every_scenario_section_of_agents_has_one_registered_type():
    agent_fields = {name for name, f in Scenario.model_fields.items() if name in BY_SECTION}
    assert agent_fields == set(BY_SECTION)
    assert len({t.cls for t in AGENT_TYPES}) == len(AGENT_TYPES)
    m = MarketModel(small_world(), seed=0)
    for section, spec in m.world.agent_specs():
        agent = m.by_name[spec.name]
        assert type(agent) is BY_SECTION[section].cls
        assert m.graph.nodes[spec.name]["type"] == BY_SECTION[section].name
        assert isinstance(agent, MarketAgent)


def test_the_ticks_outcome_is_frozen_and_is_what_the_tables_report():
    m = MarketModel(small_world(), seed=0)
    m.step()
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.outcome.flows = {}
    flows = m.tables()["flows"]
    reported = {(s, b, g): q for s, b, g, q in zip(
        flows["seller"], flows["buyer"], flows["good"], flows["quantity"])}  # fmt: skip
    assert reported == m.outcome.flows


def test_behaviour_constants_are_scenario_fields_the_agents_use():
    m = MarketModel(small_world(behaviour={"hyperscaler_markup": 0.2}), seed=0)
    m.step()
    azure = m.by_name["azure"]
    asks = [a for a in m.outcome.book.asks if a.agent == "azure" and a.good == "compute"]
    assert asks[0].price == pytest.approx(azure.spec.opex * 1.2)
    b = m.world.behaviour
    assert asks[1].price == pytest.approx(azure.spec.opex * 1.2 * (1 + b.ask_top_premium))
    assert asks[1].quantity == pytest.approx(b.ask_top_share * azure.available)
    # The take-or-pay contracts labs sign carry the scenario's minimum take.
    for min_take in (0.8, 0.55):
        m = MarketModel(small_world(behaviour={"contract_min_take": min_take}), seed=1)
        m.run()
        signed = [c for c in m.contracts.contracts if c.kind == "take_or_pay" and c.signed > 0]
        assert signed
        assert all(c.min_take == min_take for c in signed)
