"""The one registry of agent types: scenario section -> agent class.

The model creates agents from it, the network names node types from it, and the
tables read each agent's own columns from the agent (``MarketAgent.columns``), so
adding a type is one entry here and one class, not four lists and isinstance chains.
"""

from __future__ import annotations

from dataclasses import dataclass

from market.agents.base import MarketAgent
from market.agents.chip_designer import ChipDesigner
from market.agents.dc_developer import DCDeveloper
from market.agents.dram_buyer import DramBuyers
from market.agents.fab import Fab
from market.agents.financier import Financier
from market.agents.hyperscaler import Hyperscaler
from market.agents.lab import Lab
from market.agents.memory_maker import MemoryMaker
from market.agents.network_maker import NetworkMaker
from market.agents.packager import Packager
from market.agents.power_provider import PowerProvider
from market.agents.tool_maker import ToolMaker


@dataclass(frozen=True, slots=True)
class AgentType:
    """A scenario section and the class that its specs become."""

    section: str
    cls: type[MarketAgent]

    @property
    def name(self) -> str:
        """The type's name in the network and the tables (the class name)."""
        return self.cls.__name__


#: In creation order: suppliers upstream first, labs last.
AGENT_TYPES: tuple[AgentType, ...] = (
    AgentType("tool_makers", ToolMaker),
    AgentType("fabs", Fab),
    AgentType("memory_makers", MemoryMaker),
    AgentType("packagers", Packager),
    AgentType("designers", ChipDesigner),
    AgentType("power_providers", PowerProvider),
    AgentType("network_makers", NetworkMaker),
    AgentType("dc_developers", DCDeveloper),
    AgentType("hyperscalers", Hyperscaler),
    AgentType("labs", Lab),
    AgentType("dram_buyers", DramBuyers),
    AgentType("financiers", Financier),
)
BY_SECTION: dict[str, AgentType] = {t.section: t for t in AGENT_TYPES}
SECTIONS: tuple[str, ...] = tuple(BY_SECTION)
