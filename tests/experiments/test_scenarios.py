"""Scenario files load, are calibrated to the public figures, and bad files fail clearly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from experiments.scenarios import (
    VARIANT_KEYS,
    ScenarioError,
    format_path,
    load_scenario,
    parse_path,
    read_toml,
    scenario_hash,
    with_overrides,
)
from market.scenario import Scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "experiments" / "scenarios"
BASELINE = SCENARIOS / "baseline.toml"
VARIANTS = ["taiwan_outage", "export_controls", "hbm_shortage", "demand_bust", "contract_cap",
            "carbon_price", "permitting_delay", "optics_shortage", "china_part",
            "china_part_ban", "dram_demand_shock", "tool_export_controls",
            "clean_energy_requirement", "agentic_bust", "agentic_bust_no_spv",
            "agentic_bust_no_backstop", "traffic_classes"]  # fmt: skip
HISTORY = ["history_2023"]  # the backtest's scenario (tests/experiments/test_backtest.py)

# Epoch AI 2025 figures ("AI Chip Sales", CC BY 4.0; docs/data-sources.md): units, H100e.
EPOCH_UNITS_2025 = {"Nvidia": 4.49e6, "Broadcom-TPU": 2.68e6, "AMD": 0.45e6, "Trainium": 1.09e6}
EPOCH_H100E_2025 = {"Nvidia": 8.93e6, "Broadcom-TPU": 2.72e6, "AMD": 0.70e6, "Trainium": 0.71e6}
# Implied 2025 average selling prices, $ per chip (Nvidia $153B / 4.49M; docs/data-sources.md).
ASP_2025 = {"Nvidia": 153e9 / 4.49e6, "AMD": 16_500.0, "Broadcom-TPU": 5_100.0, "Trainium": 5_000.0}
# Counterpoint Q3-25 HBM revenue shares (§1).
HBM_SHARES = {"SK hynix": 0.57, "Samsung HBM": 0.22, "Micron": 0.21}


@pytest.fixture(scope="module")
def baseline() -> Scenario:
    return load_scenario(BASELINE)


def ask(unit_cost: float, markup: float) -> float:
    """A supplier's initial ask, $ per unit."""
    return unit_cost * (1 + markup)


# ------------------------------------------------------------------ the files


def test_the_shipped_scenario_files_and_the_history_exist() -> None:
    names = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    assert names == sorted(["baseline", *VARIANTS, *HISTORY])


@pytest.mark.parametrize("name", ["baseline", *VARIANTS, *HISTORY])
def test_every_scenario_file_loads(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml")
    assert scenario.meta.name == name


def test_baseline_has_25_to_50_agents_and_a_40_quarter_horizon(baseline: Scenario) -> None:
    # 32 agents before the physical-stack tiers (networking, shells, DRAM buyers, tools) added 9.
    assert 25 <= len(baseline.agent_specs()) <= 50
    assert baseline.meta.horizon == 40
    assert baseline.meta.ticks_per_year == 4
    assert baseline.meta.start_year == 2025
    assert baseline.shocks == ()


@pytest.mark.parametrize("name", VARIANTS)
def test_each_variant_is_a_short_file_on_the_baseline(baseline: Scenario, name: str) -> None:
    data = read_toml(SCENARIOS / f"{name}.toml")
    # On the baseline, or on another shipped variant (china_part_ban on china_part).
    assert data["base"] in {"baseline.toml", *(f"{v}.toml" for v in VARIANTS if v != name)}
    assert set(data) <= set(VARIANT_KEYS)
    variant = load_scenario(SCENARIOS / f"{name}.toml")
    assert baseline.shocks == ()
    changed = {k for k in type(baseline).model_fields if k != "meta"}
    assert any(getattr(variant, k) != getattr(baseline, k) for k in changed)
    assert variant.meta.horizon == baseline.meta.horizon


@pytest.mark.parametrize(
    ("name", "kind", "start", "end", "factor"),
    [
        ("taiwan_outage", "outage", 8, 13, 0.0),
        ("export_controls", "export_control", 4, 40, 0.0),
        ("hbm_shortage", "capacity_drop", 6, 15, 0.5),
        ("demand_bust", "demand_bust", 12, 40, 0.4),
        ("contract_cap", "contract_cap", 0, 40, 0.3),
        ("carbon_price", "carbon_price", 8, 40, 100.0),
        ("permitting_delay", "permitting_delay", 4, 20, 2.0),
        ("dram_demand_shock", "dram_demand", 4, 12, 1.5),
        ("tool_export_controls", "export_control", 4, 40, 0.0),
        ("clean_energy_requirement", "clean_energy_share", 8, 40, 0.9),
    ],
)
def test_each_variant_carries_its_shock(
    name: str, kind: str, start: int, end: int, factor: float
) -> None:
    shocks = load_scenario(SCENARIOS / f"{name}.toml").shocks
    assert {(s.kind, s.start, s.end, s.factor) for s in shocks} == {(kind, start, end, factor)}


def test_tool_export_controls_close_tools_from_nl_us_and_jp_to_china() -> None:
    shocks = load_scenario(SCENARIOS / "tool_export_controls.toml").shocks
    assert {(s.from_region, s.to_region, s.goods) for s in shocks} == {
        (r, "CN", ("tools",)) for r in ("NL", "US", "JP")
    }


def test_taiwan_outage_targets_region_tw() -> None:
    (shock,) = load_scenario(SCENARIOS / "taiwan_outage.toml").shocks
    assert shock.target == "TW"


def test_permitting_delay_slows_every_us_power_provider(baseline: Scenario) -> None:
    (shock,) = load_scenario(SCENARIOS / "permitting_delay.toml").shocks
    assert shock.target == "US"
    us_grids = [p for p in baseline.power_providers if p.region == "US"]
    assert us_grids and all(p.region == shock.target for p in us_grids)


def test_hbm_shortage_hits_every_memory_maker_and_nothing_else(baseline: Scenario) -> None:
    shocks = load_scenario(SCENARIOS / "hbm_shortage.toml").shocks
    assert {s.target for s in shocks} == {m.name for m in baseline.memory_makers}


def test_export_controls_cut_us_and_tw_accelerators_wafers_and_hbm_to_china() -> None:
    shocks = load_scenario(SCENARIOS / "export_controls.toml").shocks
    cut = {(s.from_region, s.to_region, g) for s in shocks for g in s.goods}
    for region in ("US", "TW"):
        for good in ("accelerator", "wafer", "hbm"):
            assert (region, "CN", good) in cut


# ------------------------------------------------------------ calibration


def test_hbm_shares_match_counterpoint_within_one_point(baseline: Scenario) -> None:
    total = sum(m.capacity for m in baseline.memory_makers)
    shares = {m.name: m.capacity / total for m in baseline.memory_makers}
    assert shares.keys() == HBM_SHARES.keys()
    for name, share in HBM_SHARES.items():
        assert shares[name] == pytest.approx(share, abs=0.01)


def test_hbm_capacity_is_about_028_bn_gb_per_quarter(baseline: Scenario) -> None:
    total = sum(m.capacity for m in baseline.memory_makers)
    assert total == pytest.approx(0.28e9, rel=0.1)


def test_hbm_needed_for_epoch_shipments_matches_hbm_capacity(baseline: Scenario) -> None:
    gb = {d.name: d.hbm_per_chip for d in baseline.designers}
    need = sum(units / 4 * gb[name] for name, units in EPOCH_UNITS_2025.items())
    total = sum(m.capacity for m in baseline.memory_makers)
    assert 1 / 1.5 < need / total < 1.5


def test_cowos_implied_output_is_within_1_5x_of_epoch_2025_shipments(
    baseline: Scenario,
) -> None:
    cowos = sum(f.cowos_capacity for f in baseline.fabs) + sum(
        p.capacity for p in baseline.packagers
    )
    per_wafer = {d.name: d.chips_per_cowos_wafer for d in baseline.designers}
    total_units = sum(EPOCH_UNITS_2025.values())
    # CoWoS wafers needed per chip at the 2025 unit mix, then chips the capacity allows.
    wafers_per_chip = sum(
        units / total_units / per_wafer[name] for name, units in EPOCH_UNITS_2025.items()
    )
    implied = cowos / wafers_per_chip
    epoch_per_quarter = total_units / 4  # ~2.2M
    assert 1 / 1.5 < implied / epoch_per_quarter < 1.5


def test_tsmc_wafers_are_about_1_3x_what_cowos_needs(baseline: Scenario) -> None:
    (tsmc,) = [f for f in baseline.fabs if f.name == "TSMC"]
    cowos = tsmc.cowos_capacity + sum(p.capacity for p in baseline.packagers)
    designers = {d.name: d for d in baseline.designers}
    total_units = sum(EPOCH_UNITS_2025.values())
    mix = {name: units / total_units for name, units in EPOCH_UNITS_2025.items()}
    cowos_per_chip = sum(s / designers[n].chips_per_cowos_wafer for n, s in mix.items())
    wafers_per_chip = sum(s / designers[n].chips_per_wafer for n, s in mix.items())
    wafers_needed = cowos / cowos_per_chip * wafers_per_chip
    assert tsmc.capacity / wafers_needed == pytest.approx(1.3, abs=0.15)


@pytest.mark.parametrize("name", sorted(EPOCH_H100E_2025))
def test_h100e_per_chip_is_epoch_2025_h100e_over_units(baseline: Scenario, name: str) -> None:
    (designer,) = [d for d in baseline.designers if d.name == name]
    ratio = EPOCH_H100E_2025[name] / EPOCH_UNITS_2025[name]
    assert designer.h100e_per_chip == pytest.approx(ratio, rel=0.05)


@pytest.mark.parametrize("name", sorted(ASP_2025))
def test_designer_price_lands_near_the_2025_asp(baseline: Scenario, name: str) -> None:
    (d,) = [x for x in baseline.designers if x.name == name]
    (tsmc,) = [f for f in baseline.fabs if f.name == "TSMC"]
    total = sum(m.capacity for m in baseline.memory_makers)
    hbm_price = sum(ask(m.unit_cost, m.markup) * m.capacity / total for m in baseline.memory_makers)
    inputs = (
        ask(tsmc.unit_cost, tsmc.markup) / d.chips_per_wafer
        + hbm_price * d.hbm_per_chip
        + ask(tsmc.cowos_unit_cost, tsmc.markup) / d.chips_per_cowos_wafer
    )
    price = (inputs + d.unit_cost) * (1 + d.markup)
    assert price == pytest.approx(ASP_2025[name], rel=0.1)
    assert d.markup <= baseline.behaviour.max_markup


def test_hbm_price_is_about_15_dollars_per_gb(baseline: Scenario) -> None:
    for m in baseline.memory_makers:
        assert 12.0 <= ask(m.unit_cost, m.markup) <= 17.0, m.name


def test_captive_chips_go_only_to_their_owner(baseline: Scenario) -> None:
    captive = {d.name: d.captive_to for d in baseline.designers}
    assert captive["Broadcom-TPU"] == ("Alphabet",)
    assert captive["Trainium"] == ("Amazon",)
    assert captive["Nvidia"] == captive["AMD"] == ()


def test_hyperscaler_budgets_are_85_percent_of_2025_capex_per_quarter(
    baseline: Scenario,
) -> None:
    """0.85 = accelerators ~0.40 + grid ~0.05 + networking ~0.13 + shells ~0.27 of capex
    (baseline.toml; 0.45 before installs took networking and shells)."""
    capex_2025 = {"Microsoft": 83e9, "Alphabet": 91.4e9, "Amazon": 131.8e9, "Meta": 72.2e9}
    budget = {h.name: h.capex_budget for h in baseline.hyperscalers}
    for name, capex in capex_2025.items():
        assert budget[name] == pytest.approx(0.85 * capex / 4, rel=0.02), name


def test_power_covers_the_fleet_with_modest_headroom(baseline: Scenario) -> None:
    for h in baseline.hyperscalers:
        needed = sum(h.fleet.values()) * h.mw_per_h100e
        assert 1.0 <= h.power_mw / needed <= 1.5, h.name


def test_lab_demand_at_tick_0_is_of_the_order_of_the_installed_stock(
    baseline: Scenario,
) -> None:
    fleet = sum(sum(h.fleet.values()) for h in baseline.hyperscalers)
    demand = sum(lab.training + lab.inference for lab in baseline.labs)
    assert 5e6 < fleet < 15e6
    assert 1.0 <= demand / fleet <= 2.0


def test_lab_values_sit_in_the_rental_range_and_inference_pays_more(
    baseline: Scenario,
) -> None:
    low, high = 1.7 * 2190, 2.9 * 2190  # $ per H100e-quarter (§6 rental prices)
    for lab in baseline.labs:
        assert low * 0.99 <= lab.training_value < lab.inference_value <= high * 1.01, lab.name


def test_value_per_h100e_is_the_documented_npv_of_rentals(baseline: Scenario) -> None:
    rent, utilisation, decline, opex = 2.35 * 2190, 0.85, 0.95, 600.0
    npv = sum((utilisation * rent * decline ** (t - 1) - opex) / 1.025**t for t in range(1, 17))
    values = [h.value_per_h100e for h in baseline.hyperscalers]
    assert max(values) == pytest.approx(npv, rel=0.01)


def test_the_lock_in_contracts_of_section_5_are_encoded(baseline: Scenario) -> None:
    found = {(c.kind, c.seller, c.buyer, c.good) for c in baseline.contracts}
    assert found >= {
        ("take_or_pay", "Oracle", "OpenAI", "compute"),
        ("take_or_pay", "Microsoft", "OpenAI", "compute"),
        ("take_or_pay", "CoreWeave", "Meta AI", "compute"),
        ("equity_for_compute", "Amazon", "Anthropic", "compute"),
        ("equity_for_compute", "Alphabet", "Anthropic", "compute"),
        ("capacity_reservation", "SK hynix", "Nvidia", "hbm"),
        ("capacity_reservation", "TSMC", "Nvidia", "cowos"),
    }
    for c in baseline.contracts:
        if c.kind == "equity_for_compute":
            assert not c.exclusive
        if c.kind == "capacity_reservation":
            assert c.prepayment > 0


def test_azure_commitment_adds_up_to_250_billion(baseline: Scenario) -> None:
    (azure,) = [c for c in baseline.contracts if (c.seller, c.buyer) == ("Microsoft", "OpenAI")]
    assert azure.quantity * azure.price * azure.term == pytest.approx(250e9, rel=0.02)


# ----------------------------------------------------------- bad scenarios

MINIMAL = """\
[meta]
name = "mini"
horizon = 8

[[fabs]]
name = "TSMC"
region = "TW"
capacity = 100.0
unit_cost = 18000.0
capex_per_unit = 270000.0
lead_time = 8

[[designers]]
name = "Nvidia"
region = "US"
chips_per_wafer = 20
hbm_per_chip = 160
chips_per_cowos_wafer = 12
unit_cost = 3900.0

[[hyperscalers]]
name = "Microsoft"
region = "US"
capex_budget = 1e9
value_per_h100e = 33000.0
fleet = { Nvidia = 1000.0 }

[[labs]]
name = "OpenAI"
region = "US"
training = 100.0
inference = 100.0
training_value = 4500.0
inference_value = 6000.0
"""


def write(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": "), message
    for raw in ("pydantic", "errors.pydantic.dev", "Traceback", "validation error"):
        assert raw not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return message


def test_the_minimal_scenario_used_below_is_valid(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL, "mini.toml"))
    assert len(scenario.agent_specs()) == 4


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)


def test_unknown_key_names_the_field_and_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("capacity = 100.0", "capcity = 100.0"))
    message = error_of(path)
    assert f"{path}: fabs[0].capcity: unknown key (did you mean 'capacity'?)" in message
    assert "fabs[0].capacity: required key is missing" in message


def test_unknown_section_suggests_the_right_one(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL.replace("[[labs]]", "[[lab]]")))
    assert "lab: unknown key (did you mean 'labs'?)" in message


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "\n[behaviour]\nzzzz = 1\n"))
    assert "behaviour.zzzz: unknown key; allowed keys are" in message
    assert "foresight" in message


def test_wrong_type_names_the_field_and_the_expected_type(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("capacity = 100.0", 'capacity = "lots"'))
    assert f"{path}: fabs[0].capacity: expected a number (got str 'lots')" in error_of(path)


def test_fractional_lead_time_asks_for_a_whole_number(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL.replace("lead_time = 8", "lead_time = 8.5")))
    assert "fabs[0].lead_time: expected a whole number (got float 8.5)" in message


def test_negative_capacity_says_it_must_be_positive(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("capacity = 100.0", "capacity = -5.0"))
    assert error_of(path) == f"{path}: fabs[0].capacity: must be > 0 (got -5.0)"


def test_share_above_one_gives_its_bound(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "\n[behaviour]\nforesight = 1.5\n"))
    assert "behaviour.foresight: must be <= 1" in message


def test_bad_contract_kind_suggests_the_closest(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[contracts]]\nkind = "take-or-pay"\nseller = "Microsoft"\nbuyer = "OpenAI"\n'
        'good = "compute"\nquantity = 10.0\nprice = 4000.0\nterm = 4\n'
    )
    message = error_of(write(tmp_path, text))
    assert "contracts[0].kind: must be one of" in message
    assert "did you mean 'take_or_pay'?" in message


def test_missing_meta_says_it_is_required(tmp_path: Path) -> None:
    text = MINIMAL.replace('[meta]\nname = "mini"\nhorizon = 8\n', "")
    assert "meta: required table is missing; add a [meta] table" in error_of(write(tmp_path, text))


def test_fleet_value_of_the_wrong_type_names_the_dict_entry(tmp_path: Path) -> None:
    text = MINIMAL.replace("Nvidia = 1000.0 }", 'Nvidia = "many" }')
    assert "hyperscalers[0].fleet.Nvidia: expected a number" in error_of(write(tmp_path, text))


def test_contract_with_an_unknown_agent_names_the_contract(tmp_path: Path) -> None:
    text = MINIMAL + (
        '\n[[contracts]]\nkind = "take_or_pay"\nseller = "Oracle"\nbuyer = "OpenAI"\n'
        'good = "compute"\nquantity = 10.0\nprice = 4000.0\nterm = 4\n'
    )
    path = write(tmp_path, text)
    assert f"{path}: contracts[0].seller: unknown agent 'Oracle'" in error_of(path)


def test_route_to_an_unknown_agent_names_the_route(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[routes]]\nseller = "TSMC"\nbuyer = "Nvidea"\ngood = "wafer"\n'
    path = write(tmp_path, text)
    assert f"{path}: routes[0].buyer: unknown agent 'Nvidea'" in error_of(path)


def test_shock_outside_the_horizon_names_the_shock(tmp_path: Path) -> None:
    text = MINIMAL + '\n[[shocks]]\nkind = "outage"\nstart = 4\nend = 12\ntarget = "TW"\n'
    message = error_of(write(tmp_path, text))
    assert "shocks[0]: window 4..12 is outside the horizon" in message
    assert "meta.horizon" in message


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("unit_cost = 18000.0", "unit_cost = 18 000")
    path = write(tmp_path, text)
    line = text.splitlines().index("unit_cost = 18 000") + 1
    message = error_of(path)
    assert message.startswith(f"{path}: line {line}: invalid TOML (")


def test_unterminated_toml_points_at_the_end_of_the_file(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "broken = [1, 2\n"))
    assert "(end of file): invalid TOML (" in message


def test_non_utf8_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(MINIMAL.replace('"mini"', '"m\xe9"').encode("latin-1"))
    assert f"{path}: line 2: invalid TOML (not UTF-8 text)" in error_of(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    message = error_of(path)
    assert "nowhere.toml: file not found" in message


def test_a_directory_is_not_a_scenario(tmp_path: Path) -> None:
    assert "is a directory" in error_of(tmp_path)


def test_every_problem_is_reported_one_per_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("capacity = 100.0", "capacity = -5.0").replace(
        "training = 100.0", "training = -1.0"
    )
    path = write(tmp_path, text)
    lines = error_of(path).splitlines()
    assert lines == [
        f"{path}: fabs[0].capacity: must be > 0 (got -5.0)",
        f"{path}: labs[0].training: must be >= 0 (got -1.0)",
    ]


# ------------------------------------------------------------- hash, overrides


def test_hash_is_stable_across_loads_and_ignores_formatting(tmp_path: Path) -> None:
    a = load_scenario(write(tmp_path, MINIMAL, "a.toml"))
    reordered = MINIMAL.replace("capacity = 100.0\n", "").replace(
        'region = "TW"\n', 'region = "TW"\ncapacity = 1e2  # moved\n'
    )
    b = load_scenario(write(tmp_path, reordered, "b.toml"))
    assert scenario_hash(a) == scenario_hash(b)
    assert len(scenario_hash(a)) == 64
    int(scenario_hash(a), 16)


def test_hash_changes_when_a_value_changes(baseline: Scenario) -> None:
    changed = with_overrides(baseline, {"labs[0].training": 2.0})
    assert scenario_hash(changed) != scenario_hash(baseline)


def test_overrides_apply_and_revalidate(baseline: Scenario) -> None:
    new = with_overrides(baseline, {"labs[0].training": 2.0, "behaviour.foresight": 0.5})
    assert new.labs[0].training == 2.0
    assert new.behaviour.foresight == 0.5
    assert baseline.labs[0].training != 2.0  # the base is untouched
    assert new.labs[1:] == baseline.labs[1:]


def test_overrides_pick_list_items_by_name_and_dict_entries_by_key(baseline: Scenario) -> None:
    new = with_overrides(
        baseline,
        {"labs[Anthropic].inference": 1.0, "hyperscalers[Microsoft].fleet.Nvidia": 7.0},
    )
    (anthropic,) = [lab for lab in new.labs if lab.name == "Anthropic"]
    (microsoft,) = [h for h in new.hyperscalers if h.name == "Microsoft"]
    assert anthropic.inference == 1.0
    assert microsoft.fleet["Nvidia"] == 7.0


def test_override_to_an_invalid_value_names_the_path(baseline: Scenario) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(baseline, {"labs[0].training": -1.0})
    assert str(info.value) == "overrides: labs[0].training: must be >= 0 (got -1.0)"


def test_override_that_breaks_a_cross_reference_is_refused(baseline: Scenario) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(baseline, {"contracts[0].seller": "Nobody"})
    assert "contracts[0].seller: unknown agent 'Nobody'" in str(info.value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("labs[0].trainig", "labs[0].trainig: does not exist: no key 'trainig' (did you mean"),
        ("labs[99].training", "labs[99].training: does not exist: index [99] out of range"),
        ("labz[0].training", "labz[0].training: does not exist: no key 'labz'"),
        ("labs[Nobody].training", "labs[Nobody].training: does not exist: no item named 'Nobody'"),
        ("behaviour.foresight.x", "behaviour.foresight.x: does not exist"),
        ("hyperscalers[0].fleet.Huawei", "hyperscalers[0].fleet.Huawei: does not exist"),
        ("labs[0]training", "labs[0]training: malformed path"),
    ],
)
def test_override_of_a_path_that_does_not_exist_names_the_path(
    baseline: Scenario, path: str, expected: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        with_overrides(baseline, {path: 1.0})
    assert str(info.value).startswith("overrides: " + expected), str(info.value)


@pytest.mark.parametrize(
    "loc", [("fabs", 0, "capacity"), ("hyperscalers", 2, "fleet", "Nvidia"), ("meta",)]
)
def test_format_and_parse_path_round_trip(loc: tuple[str | int, ...]) -> None:
    assert tuple(parse_path(format_path(loc))) == loc


def test_format_path_quotes_keys_with_spaces() -> None:
    loc = ("hyperscalers", 0, "fleet", "Other custom")
    assert format_path(loc) == 'hyperscalers[0].fleet["Other custom"]'
    assert tuple(parse_path(format_path(loc))) == loc


# ------------------------------------------------------------- inheritance

SHOCK = '\n[[shocks]]\nkind = "outage"\nstart = 2\nend = 4\ntarget = "TW"\nfactor = 0.5\n'
DEMAND_BUST = (
    '\n[[shocks]]\nkind = "demand_bust"\nstart = 1\nend = 8\ntarget = "OpenAI"\nfactor = 0.4\n'
)
CONTRACT = (
    '\n[[contracts]]\nkind = "take_or_pay"\nseller = "Microsoft"\nbuyer = "OpenAI"\n'
    'good = "compute"\nquantity = 10.0\nprice = 4000.0\nterm = 4\n'
)


def test_variant_with_base_overrides_and_appends_equals_the_hand_merged_scenario(
    tmp_path: Path,
) -> None:
    write(tmp_path, MINIMAL + SHOCK, "base.toml")
    variant = write(
        tmp_path,
        'base = "base.toml"\n\n[meta]\nname = "variant"\ndescription = "busted"\n\n'
        '[overrides]\n"labs[OpenAI].training_growth" = 0.25\n'
        '"hyperscalers[Microsoft].fleet.Nvidia" = 2000.0\n'
        "behaviour.foresight = 0.5  # an unquoted dotted key means the same path\n"
        + DEMAND_BUST
        + CONTRACT,
        "variant.toml",
    )
    by_hand = (
        MINIMAL.replace('name = "mini"', 'name = "variant"\ndescription = "busted"')
        .replace("training = 100.0", "training = 100.0\ntraining_growth = 0.25")
        .replace("Nvidia = 1000.0", "Nvidia = 2000.0")
        + "\n[behaviour]\nforesight = 0.5\n"
        + SHOCK
        + DEMAND_BUST
        + CONTRACT
    )
    expected = load_scenario(write(tmp_path, by_hand, "by_hand.toml"))
    merged = load_scenario(variant)
    assert merged == expected
    assert [s.kind for s in merged.shocks] == ["outage", "demand_bust"]
    assert scenario_hash(merged) == scenario_hash(expected)
    assert scenario_hash(merged) != scenario_hash(load_scenario(tmp_path / "base.toml"))


def test_bases_chain_and_meta_merges_over_the_base(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.toml")
    (tmp_path / "sub").mkdir()
    write(tmp_path, 'base = "../a.toml"\n[meta]\nhorizon = 6\n' + SHOCK, "sub/b.toml")
    bust = DEMAND_BUST.replace("end = 8", "end = 6")
    c = load_scenario(write(tmp_path, 'base = "sub/b.toml"\n' + bust, "c.toml"))
    assert c.meta.name == "mini" and c.meta.horizon == 6
    assert [s.kind for s in c.shocks] == ["outage", "demand_bust"]


def test_a_cycle_of_bases_is_a_named_error_listing_the_chain(tmp_path: Path) -> None:
    write(tmp_path, 'base = "b.toml"\n', "a.toml")
    write(tmp_path, 'base = "c.toml"\n', "b.toml")
    write(tmp_path, 'base = "a.toml"\n', "c.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "a.toml")
    assert str(info.value).startswith(f"{tmp_path / 'c.toml'}: base: cycle of bases: ")
    assert "a.toml -> b.toml -> c.toml -> a.toml" in str(info.value)


def test_a_scenario_cannot_be_its_own_base(tmp_path: Path) -> None:
    path = write(tmp_path, 'base = "self.toml"\n', "self.toml")
    assert "base: cycle of bases: self.toml -> self.toml" in error_of(path)


def test_a_bad_override_path_names_the_variant_file_and_the_override_key(
    tmp_path: Path,
) -> None:
    write(tmp_path, MINIMAL, "base.toml")
    path = write(
        tmp_path, 'base = "base.toml"\n[overrides]\n"labs[Nobody].training" = 1.0\n', "v.toml"
    )
    assert error_of(path) == (
        f'{path}: overrides["labs[Nobody].training"]: does not exist: '
        "no item named 'Nobody' (names: OpenAI) in labs"
    )


def test_a_bad_override_value_names_the_variant_file_and_the_override_key(
    tmp_path: Path,
) -> None:
    write(tmp_path, MINIMAL, "base.toml")
    path = write(
        tmp_path,
        'base = "base.toml"\n[overrides]\n"labs[OpenAI].training" = -1.0\n'
        '"fabs[0].lead_time" = 0\n',
        "v.toml",
    )
    assert error_of(path).splitlines() == [
        f'{path}: overrides["fabs[0].lead_time"]: must be >= 1 (got 0)',
        f'{path}: overrides["labs[OpenAI].training"]: must be >= 0 (got -1.0)',
    ]


def test_an_error_in_an_appended_shock_is_numbered_as_in_the_variant(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL + SHOCK, "base.toml")
    bad = DEMAND_BUST.replace("end = 8", "end = 9")
    path = write(
        tmp_path, 'base = "base.toml"\n' + bad.replace("factor = 0.4", "factr = 0.4"), "v.toml"
    )
    message = error_of(path)
    assert f"{path}: shocks[0].factr: unknown key (did you mean 'factor'?)" in message


def test_an_error_in_the_base_names_the_base_file(tmp_path: Path) -> None:
    base = write(tmp_path, MINIMAL.replace("capacity = 100.0", "capacity = -5.0"), "base.toml")
    path = write(tmp_path, 'base = "base.toml"\n', "v.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{base}: fabs[0].capacity: must be > 0 (got -5.0)"


def test_a_variant_may_not_redefine_other_sections(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "base.toml")
    path = write(tmp_path, 'base = "base.toml"\n[behaviour]\nforesight = 0.5\n', "v.toml")
    message = error_of(path)
    assert f"{path}: behaviour: a scenario with a base sets only base, meta, overrides" in message
    assert "[overrides]" in message


def test_a_missing_base_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, 'base = "../nowhere/base.toml"\n', "v.toml")
    assert f"{path}: base: file not found" in error_of(path)


def test_a_base_may_be_a_shipped_scenario_name(tmp_path: Path, baseline: Scenario) -> None:
    path = write(tmp_path, 'base = "baseline"\n[meta]\nname = "mine"\n', "mine.toml")
    mine = load_scenario(path)
    assert mine.meta.name == "mine"
    assert mine.model_dump(exclude={"meta"}) == baseline.model_dump(exclude={"meta"})


def test_an_inherited_value_broken_by_the_variant_says_it_comes_from_the_base(
    tmp_path: Path,
) -> None:
    base = write(tmp_path, MINIMAL + SHOCK, "base.toml")
    path = write(tmp_path, 'base = "base.toml"\n[meta]\nhorizon = 3\n', "v.toml")
    message = error_of(path)
    assert f"{path}: shocks[0] (from {base}): window 2..4 is outside the horizon" in message


# ------------------------------------------------------ meaning checked at load


def shock(text: str) -> str:
    return MINIMAL + "\n[[shocks]]\nstart = 1\nend = 4\n" + text


def contract(seller: str, buyer: str, good: str) -> str:
    return MINIMAL + (
        f'\n[[contracts]]\nkind = "take_or_pay"\nseller = "{seller}"\nbuyer = "{buyer}"\n'
        f'good = "{good}"\nquantity = 10.0\nprice = 4000.0\nterm = 4\n'
    )


@pytest.mark.parametrize(
    ("seller", "buyer", "good"),
    [
        ("TSMC", "OpenAI", "wafer"),
        ("Microsoft", "OpenAI", "accelerator"),
        ("TSMC", "Nvidia", "hbm"),
    ],
)
def test_a_contract_without_a_route_for_its_seller_buyer_and_good_is_refused(
    tmp_path: Path, seller: str, buyer: str, good: str
) -> None:
    path = write(tmp_path, contract(seller, buyer, good))
    message = error_of(path)
    assert f"{path}: contracts[0]: no route for {good} from {seller!r} to {buyer!r}" in message
    assert "[[routes]]" in message


def test_a_contract_on_a_default_route_or_an_added_route_is_accepted(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, contract("TSMC", "Nvidia", "wafer"), "a.toml"))
    added = contract("TSMC", "OpenAI", "wafer") + (
        '\n[[routes]]\nseller = "TSMC"\nbuyer = "OpenAI"\ngood = "wafer"\n'
    )
    assert load_scenario(write(tmp_path, added, "b.toml")).contracts


def test_a_contract_across_clusters_has_no_default_route(tmp_path: Path) -> None:
    text = contract("Microsoft", "OpenAI", "compute").replace(
        'name = "OpenAI"\nregion = "US"\n', 'name = "OpenAI"\nregion = "US"\ncluster = 1\n'
    )
    assert "contracts[0]: no route for compute" in error_of(write(tmp_path, text))


def test_a_misspelt_good_in_a_shock_lists_the_goods(tmp_path: Path) -> None:
    text = shock('kind = "export_control"\nfrom_region = "TW"\ngoods = ["acelerator"]\n')
    message = error_of(write(tmp_path, text))
    assert "shocks[0].goods[0]: must be one of 'wafer', 'hbm', 'cowos', 'accelerator'" in message
    assert "did you mean 'accelerator'?" in message


def test_a_misspelt_good_in_transport_cost_is_refused(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, MINIMAL + "\n[transport_cost]\nwafr = 1.0\n"))
    assert "transport_cost.wafr: unknown key; keys must be one of wafer, hbm" in message
    assert "did you mean 'wafer'?" in message


@pytest.mark.parametrize(
    ("kind", "field", "line"),
    [
        ("export_control", "target", 'target = "TW"\nfrom_region = "TW"'),
        ("tariff", "target", 'target = "TSMC"\nfactor = 5.0'),
        ("outage", "goods", 'target = "TW"\ngoods = ["wafer"]'),
        ("demand_bust", "from_region", 'from_region = "US"\nfactor = 0.5'),
        ("contract_cap", "target", 'target = "TSMC"\nfactor = 0.3'),
        ("contract_cap", "to_region", 'to_region = "US"\nfactor = 0.3'),
    ],
)
def test_a_shock_refuses_a_field_its_kind_ignores(
    tmp_path: Path, kind: str, field: str, line: str
) -> None:
    path = write(tmp_path, shock(f'kind = "{kind}"\n{line}\n'))
    message = error_of(path)
    assert f"{path}: shocks[0].{field}: {kind} ignores {field}; it reads" in message
    assert f"remove {field}" in message


@pytest.mark.parametrize(
    ("kind", "target", "why"),
    [
        ("power_shortage", "TSMC", "'TSMC' is in fabs"),
        ("power_shortage", "US", "region 'US' has none"),
        ("power_shortage", "", "the scenario has none"),
        ("demand_bust", "Microsoft", "'Microsoft' is in hyperscalers"),
        ("outage", "Nvidia", "'Nvidia' is in designers"),
        ("outage", "OpenAI", "'OpenAI' is in labs"),
        ("subsidy", "OpenAI", "'OpenAI' is in labs"),
    ],
)
def test_a_shock_aimed_at_agents_it_cannot_affect_is_refused(
    tmp_path: Path, kind: str, target: str, why: str
) -> None:
    path = write(tmp_path, shock(f'kind = "{kind}"\ntarget = "{target}"\nfactor = 0.5\n'))
    message = error_of(path)
    assert f"{path}: shocks[0].target: {kind} affects only" in message
    assert why in message


@pytest.mark.parametrize(
    ("kind", "target"),
    [("outage", "TW"), ("outage", "Microsoft"), ("demand_bust", "US"), ("subsidy", "TSMC")],
)
def test_a_shock_aimed_at_agents_it_affects_is_accepted(
    tmp_path: Path, kind: str, target: str
) -> None:
    scenario = load_scenario(write(tmp_path, shock(f'kind = "{kind}"\ntarget = "{target}"\n')))
    assert scenario.shocks[0].target == target


@pytest.mark.parametrize("kind", ["contract_cap", "export_control"])
def test_a_cap_factor_above_one_is_refused(tmp_path: Path, kind: str) -> None:
    message = error_of(write(tmp_path, shock(f'kind = "{kind}"\nfactor = 1.5\n')))
    assert f"shocks[0].factor: {kind}'s factor is a share of capacity, 0..1" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'region = "TW"\n',
            'region = "TW"\ncash = nan\n',
            "fabs[0].cash: must be a finite number (got nan)",
        ),
        ('region = "TW"\n', 'region = "TW"\ncash = inf\n', "fabs[0].cash: must be a finite"),
        ('region = "TW"\n', 'region = "TW"\ncash = -1e300\n', "fabs[0].cash: must be >= -1e15"),
        ("capacity = 100.0", "capacity = 1e300", "fabs[0].capacity: must be <= 1e12"),
        ("unit_cost = 18000.0", "unit_cost = 1e300", "fabs[0].unit_cost: must be <= 1e15"),
        ("training = 100.0", "training = 1e13", "labs[0].training: must be <= 1e12"),
        ("Nvidia = 1000.0", "Nvidia = 1e300", "hyperscalers[0].fleet.Nvidia: must be <= 1e12"),
        (
            "training = 100.0",
            "training = 100.0\ntraining_growth = 1e300",
            "labs[0].training_growth: must be <= 100",
        ),
        (
            "training = 100.0",
            "training = 100.0\nvolatility = 50.0",
            "labs[0].volatility: must be <= 1",
        ),
        ("chips_per_wafer = 20", "chips_per_wafer = 1e300", "designers[0].chips_per_wafer: must"),
        (
            "unit_cost = 3900.0",
            "unit_cost = 3900.0\ncapacity = 1e300",
            "designers[0].capacity: must be at most 1e12 units per tick, or inf",
        ),
        (
            "unit_cost = 3900.0",
            "unit_cost = 3900.0\ncapacity = nan",
            "designers[0].capacity: must be a number (got nan)",
        ),
        ('name = "mini"', 'name = "mini"\nstart_year = 99999', "meta.start_year: must be <= 2200"),
        ('region = "TW"\n', 'region = "TW"\ncluster = 10000000\n', "fabs[0].cluster: must be <="),
    ],
)
def test_numbers_must_be_finite_and_within_their_documented_bounds(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in MINIMAL
    assert expected in error_of(write(tmp_path, MINIMAL.replace(old, new, 1)))


def test_an_unlimited_designer_capacity_is_still_accepted(tmp_path: Path) -> None:
    text = MINIMAL.replace("unit_cost = 3900.0", "unit_cost = 3900.0\ncapacity = inf")
    assert load_scenario(write(tmp_path, text)).designers[0].capacity == float("inf")


def test_a_huge_contract_term_or_shock_factor_is_refused(tmp_path: Path) -> None:
    text = contract("Microsoft", "OpenAI", "compute").replace("term = 4", "term = 100000000")
    assert "contracts[0].term: must be <= 10000" in error_of(write(tmp_path, text, "a.toml"))
    text = shock('kind = "outage"\ntarget = "TW"\nfactor = 1e300\n')
    assert "shocks[0].factor: must be <= 1e15" in error_of(write(tmp_path, text, "b.toml"))
    text = shock('kind = "outage"\ntarget = "TW"\nfactor = 1e6\n')
    assert "shocks[0].factor: outage's factor multiplies" in error_of(write(tmp_path, text))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("capacity = 100.0", 'capacity = "1e5"', "fabs[0].capacity: expected a number (got str"),
        ("capacity = 100.0", "capacity = true", "fabs[0].capacity: expected a number (got bool"),
        ("lead_time = 8", "lead_time = true", "fabs[0].lead_time: expected a whole number (got"),
        ("horizon = 8", 'horizon = "8"', "meta.horizon: expected a whole number (got str"),
        ("Nvidia = 1000.0", "Nvidia = true", "hyperscalers[0].fleet.Nvidia: expected a number"),
        ('region = "TW"\n', 'region = "TW"\ncash = false\n', "fabs[0].cash: expected a number"),
    ],
)
def test_strings_and_booleans_are_not_numbers(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert expected in error_of(write(tmp_path, MINIMAL.replace(old, new, 1)))


def test_toml_integers_are_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    text = MINIMAL.replace("capacity = 100.0", "capacity = 100").replace(
        "unit_cost = 18000.0", "unit_cost = 18000"
    )
    fab = load_scenario(write(tmp_path, text)).fabs[0]
    assert (fab.capacity, fab.unit_cost) == (100.0, 18000.0)
    assert isinstance(fab.capacity, float)


def test_every_bounded_field_states_its_bounds_in_its_description() -> None:
    from market.scenario import LabSpec, Supplier

    assert Supplier.model_fields["capacity"].description.endswith("Bounds: > 0, <= 1e12.")
    assert LabSpec.model_fields["cash"].description.endswith("Bounds: >= -1e15, <= 1e15.")
    schema = Scenario.model_json_schema()
    fab = schema["$defs"]["FabSpec"]["properties"]["unit_cost"]
    assert fab["maximum"] == 1e15 and "<= 1e15" in fab["description"]


def test_a_field_with_two_different_bounds_is_refused_when_the_schema_is_defined() -> None:
    from pydantic import Field

    from market.scenario import Ratio, Strict

    with pytest.raises(TypeError, match=r"Clash\.share: two different '<=' bounds"):

        class Clash(Strict):  # the alias says <= 1e4, the Field <= 1: only one would hold
            share: Ratio = Field(0.1, le=1)


def test_a_contract_on_a_route_closed_to_zero_capacity_is_refused(tmp_path: Path) -> None:
    text = contract("Microsoft", "OpenAI", "compute") + (
        '\n[[routes]]\nseller = "Microsoft"\nbuyer = "OpenAI"\ngood = "compute"\ncapacity = 0.0\n'
    )
    message = error_of(write(tmp_path, text))
    assert (
        "contracts[0]: the route for compute from 'Microsoft' to 'OpenAI' has capacity 0" in message
    )


def test_a_named_pipe_is_refused_without_reading_it(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.toml"
    os.mkfifo(pipe)
    assert f"{pipe}: is not a regular file (a pipe or a device)" in error_of(pipe)


@pytest.mark.parametrize("name", ["../../escaped", "runs/x", ".hidden", "a\\\\b", ""])
def test_a_scenario_name_cannot_name_another_folder(tmp_path: Path, name: str) -> None:
    text = MINIMAL.replace('name = "mini"', f'name = "{name}"')
    assert "meta.name: " in error_of(write(tmp_path, text))


def test_a_variant_appends_agents_and_routes_and_its_errors_name_its_own_entries(
    tmp_path: Path,
) -> None:
    base = os.fspath(SCENARIOS / "baseline.toml")
    part = (
        '[[designers]]\nname = "Nvidia China"\nregion = "US"\nchips_per_wafer = 30\n'
        "hbm_per_chip = 96\nchips_per_cowos_wafer = 29\nunit_cost = 1500.0\n"
        'sells_to_regions = ["CN"]\n'
    )
    route = '[[routes]]\nseller = "Nvidia China"\nbuyer = "China Cloud"\ngood = "accelerator"\n'
    ok = load_scenario(write(tmp_path, f'base = "{base}"\n{part}{route}', "ok.toml"))
    baseline = load_scenario(base)
    assert [d.name for d in ok.designers] == [*(d.name for d in baseline.designers), "Nvidia China"]
    assert ok.routes[-1].seller == "Nvidia China" and len(ok.routes) == len(baseline.routes) + 1
    bad = part.replace("chips_per_wafer = 30", "chips_per_wafer = -30")
    message = error_of(write(tmp_path, f'base = "{base}"\n{bad}'))
    assert "designers[0].chips_per_wafer" in message and "(from" not in message
    twice = part.replace('"Nvidia China"', '"Nvidia"')
    assert "used twice" in error_of(write(tmp_path, f'base = "{base}"\n{twice}'))
