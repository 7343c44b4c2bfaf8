"""Small hand-made worlds for the market tests (built in code, no files)."""

from __future__ import annotations

from market.ledger import EXTERNAL
from market.scenario import Scenario


def small_world(**overrides) -> Scenario:
    """Two fabs (TW, US), one HBM maker, one packager, two designers, one power
    provider, two hyperscalers and three labs: every tier, and room to be scarce."""
    data = {
        "meta": {"name": "small", "horizon": 12},
        "transport_cost": {"wafer": 100.0, "accelerator": 200.0},
        "fabs": [
            {"name": "tsmc", "region": "TW", "capacity": 3000, "unit_cost": 15000,
             "capex_per_unit": 250000, "lead_time": 8, "cowos_capacity": 4000,
             "cowos_unit_cost": 10000},
            {"name": "intel", "region": "US", "capacity": 500, "unit_cost": 22000,
             "capex_per_unit": 400000, "lead_time": 10},
        ],
        "memory_makers": [
            {"name": "hynix", "region": "KR", "capacity": 2.0e7, "unit_cost": 12.0,
             "capex_per_unit": 40.0, "lead_time": 6},
        ],
        "packagers": [
            {"name": "ase", "region": "TW", "capacity": 1000, "unit_cost": 12000,
             "capex_per_unit": 200000, "lead_time": 4},
        ],
        "designers": [
            {"name": "nvidia", "region": "US", "chips_per_wafer": 30, "hbm_per_chip": 192,
             "chips_per_cowos_wafer": 12, "h100e_per_chip": 2.0, "unit_cost": 3000},
            {"name": "tpu", "region": "US", "chips_per_wafer": 40, "hbm_per_chip": 95,
             "chips_per_cowos_wafer": 16, "unit_cost": 1500, "captive_to": ["google"]},
        ],
        "power_providers": [
            {"name": "grid", "region": "US", "capacity": 400, "unit_cost": 1.5e6,
             "capex_per_unit": 4e6, "lead_time": 12},
        ],
        "hyperscalers": [
            {"name": "azure", "region": "US", "fleet": {"nvidia": 60000}, "power_mw": 110,
             "capex_budget": 3e9, "value_per_h100e": 40000},
            {"name": "google", "region": "US", "fleet": {"tpu": 40000, "nvidia": 10000},
             "power_mw": 90, "capex_budget": 2e9, "value_per_h100e": 35000},
        ],
        "labs": [
            {"name": "openai", "region": "US", "training": 40000, "inference": 30000,
             "training_value": 4000, "inference_value": 7000},
            {"name": "anthropic", "region": "US", "training": 25000, "inference": 20000,
             "training_value": 4200, "inference_value": 7500},
            {"name": "spot", "region": "US", "training": 10000, "inference": 10000,
             "training_value": 2500, "inference_value": 4000, "volatility": 0.3},
        ],
    }  # fmt: skip
    for key, value in overrides.items():
        data[key] = value
    return Scenario.model_validate(data)


def stack_world(
    networking: tuple[float, float] = (40000.0, 40000.0),
    shell_mw: float = 200.0,
    per_h100e: float = 1.0,
    **overrides,
) -> Scenario:
    """``small_world`` whose installs also take networking and shells (section 7.13): two
    network makers (US, CN) with ``networking`` units per tick, one US data-centre
    developer with ``shell_mw`` MW per tick (liquid: PUE 1.1, WUE 0.2), and hyperscalers
    taking ``per_h100e`` networking units per H100e and a shell per new MW (their own
    PUE 1.3 / 1.2 and WUE 0.5 / 0.36 on the start stock)."""
    data = small_world().model_dump(mode="python")
    for h, pue, wue in zip(data["hyperscalers"], (1.3, 1.2), (0.5, 0.36)):
        h.update(networking_per_h100e=per_h100e, shells=True, pue=pue, wue=wue)
    data["network_makers"] = [
        {"name": "switches", "region": "US", "capacity": networking[0], "unit_cost": 4000,
         "capex_per_unit": 6000, "lead_time": 4},
        {"name": "optics", "region": "CN", "capacity": networking[1], "unit_cost": 3500,
         "capex_per_unit": 5000, "lead_time": 4},
    ]  # fmt: skip
    data["dc_developers"] = [
        {"name": "builder", "region": "US", "capacity": shell_mw, "unit_cost": 5e6,
         "capex_per_unit": 3e6, "lead_time": 6, "cooling": "liquid", "pue": 1.1, "wue": 0.2},
    ]  # fmt: skip
    data.update(overrides)
    return Scenario.model_validate(data)


def step_with_money_check(m) -> dict[str, float]:
    """One tick of model ``m``; asserts that the agents' cash moved by exactly what the
    tick's ledger sends out of (or into) the model, so money is conserved, and that each
    agent's cash moved by its own net in the ledger; returns the ledger's net per payer
    ($)."""
    before = {a.name: a.cash for a in m.by_name.values()}
    m.step()
    net = m.last_ledger.net()
    tol = 1e-9 * (1.0 + sum(map(abs, net.values())))
    change = sum(a.cash - before[a.name] for a in m.by_name.values())
    assert abs(change + net.get(EXTERNAL, 0.0)) <= tol
    for a in m.by_name.values():
        assert abs(a.cash - before[a.name] - net.get(a.name, 0.0)) <= tol, a.name
    return net
