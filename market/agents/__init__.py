"""The market's agent types, one module each."""

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
from market.agents.registry import AGENT_TYPES, BY_SECTION, SECTIONS, AgentType
from market.agents.tool_maker import ToolMaker

__all__ = [
    "AGENT_TYPES",
    "BY_SECTION",
    "SECTIONS",
    "AgentType",
    "ChipDesigner",
    "DCDeveloper",
    "DramBuyers",
    "Fab",
    "Financier",
    "Hyperscaler",
    "Lab",
    "MarketAgent",
    "MemoryMaker",
    "NetworkMaker",
    "Packager",
    "PowerProvider",
    "ToolMaker",
]
