"""Units and descriptions: the one source for every unit, table column and series label.

- :data:`GOOD_UNITS` is the units table keyed by good: the unit a good is counted in
  and the unit of its price; :data:`UNITS` is the price unit by good;
- :data:`COLUMNS` describes every column of the tables a run writes (``table ->
  column -> description``); a column the model adds later matches an exact entry or
  a pattern such as ``lead_time_<good>`` (see :func:`describe`);
- :data:`LEDGER_KINDS` describes every kind of payment in the ledger (``ledger_kind``);
- reports print :func:`glossary_rows` (every KPI of ``experiments.kpis.KPIS``, every
  ledger kind and every column of the tables in a folder), so a new column shows up
  with its text, or as missing (a test fails on a column with no entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GOOD_UNITS: dict[str, tuple[str, str]] = {
    "wafer": ("wafers (leading-edge, 300 mm)", "$/wafer"),
    "hbm": ("GB of HBM", "$/GB"),
    "cowos": ("CoWoS wafers", "$/CoWoS wafer"),
    "accelerator": ("H100e (accelerators in H100 equivalents)", "$/H100e"),
    "power": ("MW of new data-centre power", "$/MW"),
    "compute": ("H100e-quarters of compute", "$/H100e-quarter"),
    "compute_premium": (
        "H100e-quarters of premium compute (premium-eligible hardware)",
        "$/H100e-quarter",
    ),
    "networking": ("networking units (switches, NICs and optics of one H100e)", "$/H100e"),
    "shell": ("MW of data-centre shell with cooling", "$/MW"),
    "dram": ("GB of conventional DRAM", "$/GB"),
    "tools": ("tool units ($1M of wafer-fab equipment at 2025 list prices)", "$/tool unit"),
}
"""good -> (quantity unit, price unit)."""

UNITS: dict[str, str] = {g: price for g, (_, price) in GOOD_UNITS.items()}
"""The unit of each good's price."""

QUANTITY_UNITS: dict[str, str] = {g: q.split(" (")[0] for g, (q, _) in GOOD_UNITS.items()}
"""The unit each good is counted in (per tick)."""


def price_unit(good: str) -> str:
    """The price unit of ``good`` (``$/<good>`` for a good not in the table)."""
    return UNITS.get(good, f"$/{good}")


def quantity_unit(good: str) -> str:
    """The unit ``good`` is counted in (``units of <good>`` if not in the table)."""
    return QUANTITY_UNITS.get(good, f"units of {good}")


_Q = "units per tick in the good's unit (see the units table)"

COLUMNS: dict[str, dict[str, str]] = {
    "*": {
        "seed": "random seed of the run the row belongs to",
        "tick": "quarter index from the scenario's start (0 = first quarter)",
        "date": "calendar quarter of the tick, e.g. 2025Q1",
        "agent": "agent name",
        "good": "good (wafer, hbm, cowos, accelerator, power, compute, dram)",
        "seller": "selling agent",
        "buyer": "buying agent ('*' in concentration: the whole market)",
        "price": "$ per unit of the good (see the units table)",
        "quantity": _Q,
        "capacity": _Q + ": installed capacity",
        "sold": _Q + ": sold this tick",
        "backlog": _Q + ": orders accepted but not yet delivered",
        "spot_price": "$ per unit: the spot clearing price of the good",
        "contract_price": "$ per unit: the mean price of contract deliveries",
        "gross_margin": "(revenue - cost of goods) / revenue this tick",
    },
    "ticks": {
        "surplus": "$: value of bids served minus ask, recipe and route costs this tick",
        "shortfall": "contract units not delivered this tick",
        "rebuilt": "whether the clearing model was rebuilt this tick (not just re-solved)",
        "shocks": "shocks and policies active this tick ('kind:target', ';'-separated)",
        "persistence": "share of this tick's trading pairs that also traded last tick",
        "contracts_active": "contracts in force this tick",
        "breaches": "contracts delivered short this tick",
        "cancelled_installs": "H100e of install orders cancelled this tick after waiting "
        "longer than behaviour.backlog_patience",
        "defaults": "agents that defaulted this tick (cash would have fallen below minus "
        "their credit line)",
        "defaulted": "agents that have defaulted so far (they no longer trade)",
        "distress_sales": "$ of fleets sold this tick by hyperscalers in distress, at the "
        "fire-sale discount (ledger kind asset_sale)",
        "energy_mwh": "MWh drawn this tick by the compute all hyperscalers rented (sum of "
        "the agents' energy_mwh)",
        "emissions_t": "t CO2e of that energy (sum of the agents' emissions_t)",
        "water_m3": "m3 of water used this tick (sum of the agents' water_m3)",
        "carbon_paid": "$ of carbon price paid by hyperscalers this tick (ledger kind carbon)",
        "clean_paid": "$ paid by hyperscalers this tick for clean energy bought to meet a "
        "clean_energy_share requirement (ledger kind clean_energy; sum of the agents' "
        "clean_paid)",
        "write_downs": "$ of designers' stock written off this tick (sum of the agents' "
        "write_down)",
        "capex": "$ of capital spending this tick, all agents (sum of finance.capex)",
        "opex": "$ of operating costs this tick, all agents (sum of finance.opex)",
        "revenue": "$ of revenue this tick, all agents (sum of finance.revenue; labs' "
        "revenue is the value of the compute they got)",
        "max_capacity": "H100e installed at all hyperscalers when they rented this tick",
        "usable_capacity": "H100e the hyperscalers could rent this tick: min(installed, "
        "energised MW / mw_per_h100e) x any outage factor",
        "usable_share": "usable / installed H100e (usable_capacity / max_capacity)",
        "idle_cost": "$ of depreciation carried by idle installed H100e this tick, all "
        "hyperscalers (install cost / fleet_life x (installed - rented))",
        "roi_served": "hyperscalers' return per tick on the capital in the H100e they "
        "rented: (revenue - opex - depreciation of rented H100e) / (install cost x rented)",
        "roi_fleet": "hyperscalers' return per tick on all installed H100e: (revenue - opex "
        "- depreciation of the fleet) / (install cost x installed)",
    },
    "finance": {
        "type": "agent type (see the agents table)",
        "capex": "$ of capital spending this tick: ledger kind capex and purchases of "
        "durable goods (accelerators, MW, networking, shells, tools)",
        "opex": "$ of operating costs this tick: ledger kinds operating, transport, "
        "switching, carbon, and purchases of goods that are not durable",
        "revenue": "$ received this tick for goods (spot and contract) and from outside "
        "(labs' value of compute; DRAM buyers' value)",
        "max_capacity": "hyperscalers: H100e installed when it rented this tick (NaN for others)",
        "usable_capacity": "hyperscalers: H100e it could rent: min(installed, energised MW / "
        "mw_per_h100e) x any outage factor (energised MW = min(grid, shell) with shells)",
        "binding": "hyperscalers: the limit on usable capacity: 'fleet' (all installed "
        "H100e can run), 'power' or 'shell' (energised MW run fewer), 'outage' (a capacity "
        "shock); '' for others",
        "sold": "hyperscalers: H100e-quarters rented this tick",
        "utilisation": "hyperscalers: rented / usable H100e",
        "idle": "hyperscalers: installed H100e not rented this tick (unpowered or unsold)",
        "idle_cost": "hyperscalers: $ of depreciation the idle H100e carry this tick "
        "(install cost / fleet_life x idle)",
        "roi_served": "hyperscalers: return per tick on the rented H100e: (revenue - opex - "
        "install cost / fleet_life x rented) / (install cost x rented)",
        "roi_fleet": "hyperscalers: return per tick on all installed H100e: (revenue - opex "
        "- install cost / fleet_life x installed) / (install cost x installed)",
    },
    "dependency": {
        "lab": "lab",
        "compute_provider": "the hyperscaler that gave the lab most compute this tick ('' if "
        "it got none)",
        "compute_share": "that provider's share of the lab's compute received this tick",
        "equity_holder": "the hyperscaler holding most of the lab's equity "
        "(equity-for-compute contracts signed so far; '' if none)",
        "equity_share": "share of the lab's equity that holder holds",
    },
    "risk": {
        "project": "an owner's asset built by expansions: '<owner>:<asset>' (a line's good, "
        "'fleet' for a hyperscaler's installs, 'dram_wafer' for a DRAM wafer pool, 'shell' "
        "for an SPV's shells and MW; ODD 7.18)",
        "owner": "the agent or SPV that owns the project's capacity",
        "party": "who financed the stake and bears its losses (an agent, '<SPV> lenders', "
        "'<SPV> investors')",
        "party_type": "the party's agent type, or 'lender' / 'investor' outside the model",
        "source": "how the stake was financed: own_cash, debt (the owner's credit line), "
        "prepayment (a customer's capacity reservation), spv_debt, spv_equity, rvg (a "
        "residual-value guarantee called), vendor_financing, lease",
        "financed": "$ the party put into the project this tick",
        "invested": "$ the party has put into the project so far",
        "exposure": "$ at risk: the stake's book value (depreciated by 1/life a tick, after "
        "write-downs; SPV lenders: debt outstanding)",
        "realised_loss": "$ of the stake written down this tick (stranded capacity, a "
        "defaulted owner or SPV)",
    },
    "spvs": {
        "spv": "the data-centre SPV's name (scenario spvs)",
        "tenant": "its anchor tenant (a hyperscaler)",
        "drawn": "$ of the tenant's shells and MW the SPV has bought so far",
        "debt": "$ of the SPV's debt outstanding",
        "assets": "$ book value of its shells and MW (after a default: what the lenders recovered)",
        "mw": "MW of shell under lease to the tenant",
        "lease_share": "share of the lease still in force (falls when the tenant hands MW back)",
        "rent": "$ the tenant paid this tick",
        "debt_service": "$ of interest and instalments due this tick",
        "rvg_paid": "$ the tenant paid under its residual-value guarantee (cumulative)",
        "defaulted": "whether the SPV has defaulted (tenant left, or rent below debt service)",
    },
    "token_costs": {
        "tier": "model tier (scenario token_tiers: small, large, reasoning)",
        "traffic_class": "traffic class whose compute price is used: economy (the compute "
        "price) or premium (the compute_premium price; ODD 7.19)",
        "generation": "chip generation whose throughput is used (scenario token_speedups; "
        "'' = the tier's reference, an H100)",
        "price": "$ per H100e-quarter: this tick's price of the class's compute (prices table)",
        "tokens_per_s": "tokens generated per H100e-second at full load: the tier's (scenario "
        "token_tiers) x the generation's speed-up (token_speedups)",
        "cost_per_mtok": "$ per million tokens: price / (tokens_per_s x seconds per tick) x 1e6",
        "tokens_per_task": "tokens per completed task of the tier (scenario)",
        "cost_per_task": "$ per task: cost_per_mtok x tokens_per_task / 1e6",
    },
    "traffic": {
        "traffic_class": "inference traffic class: premium (newest hardware) or economy (any "
        "hardware; ODD 7.19)",
        "price": "$ per H100e-quarter: the class's spot price (prices table spot_price: "
        "compute_premium or compute)",
        "capacity": "H100e-quarters the hyperscalers offered this tick on hardware eligible "
        "for the class (economy: all of it)",
        "demand": "H100e-quarters of the class's inference the labs want at their value",
        "served": "H100e-quarters of the class served (premium: on premium hardware or moved)",
        "moved": "premium H100e-quarters served on economy hardware (0 for economy)",
        "unmet": "demand - served, at least 0",
    },
    "prices": {
        "price": "$ per unit paid by buyers, volume-weighted over spot trades (when "
        "nothing trades: the mean shadow price at the good's buyers)",
        "volume": _Q + ": traded on the spot market",
        "contract_volume": _Q + ": delivered under contracts",
    },
    "agents": {
        "type": "agent type (Fab, MemoryMaker, Packager, PowerProvider, NetworkMaker, "
        "DCDeveloper, ChipDesigner, Hyperscaler, Lab, DramBuyers, Financier)",
        "region": "region code (US, TW, KR, CN, EU, JP; WORLD: the outside DRAM market)",
        "cash": "$ on hand at the end of the tick",
        "profit": "$ profit this tick",
        "revenue": "$ received this tick for goods sold (spot and contract; labs: the value "
        "of the compute they got), from the ledger",
        "roi": "return on the agent's invested capital this tick",
        "capex": "$ spent on new capacity so far (cumulative)",
        "tools_on_order": "tool units ($1M of wafer-fab equipment) a supplier's capacity "
        "orders still wait for (ODD 7.14)",
        "prepaid": "$ of customers' prepayments received so far (cumulative)",
        "capacity": "units per tick, all the agent's goods added (see the capacity table "
        "for capacity per good)",
        "sold": "units sold this tick, all the agent's goods added",
        "utilisation": "sold / available capacity",
        "stranded": "share of available capacity left unsold",
        "markup": "price over unit cost minus 1 (largest over the agent's lines)",
        "demand": "labs: H100e-quarters of compute wanted this tick; DRAM buyers: GB of "
        "DRAM wanted at their reference price",
        "received": "labs: H100e-quarters of compute received this tick; DRAM buyers: GB",
        "unmet": "labs: H100e-quarters wanted and not received; DRAM buyers: GB wanted at "
        "their reference price and not received",
        "fleet": "hyperscalers and labs with fleets of their own (ODD 7.17): installed H100e",
        "power_mw": "hyperscalers: MW of power installed",
        "shell_mw": "hyperscalers that build shells: MW of data-centre shell they hold (start "
        "stock + shells bought; NaN without shells)",
        "pue": "hyperscalers: power usage effectiveness (facility / IT energy), the MW-weighted "
        "average over their shells (the spec's pue without shells)",
        "wue": "hyperscalers: water usage effectiveness, L per kWh of IT energy, the MW-weighted "
        "average over their shells (the spec's wue without shells)",
        "energy_mwh": "hyperscalers: MWh drawn this tick = compute sold (H100e-quarters) x "
        "mw_per_h100e x hours per tick (= IT kW per H100e x hours x PUE / 1000; "
        "market/energy.py)",
        "emissions_t": "hyperscalers: t CO2e this tick = energy_mwh x the grid intensity of "
        "its region (g CO2e/kWh) / 1000",
        "water_m3": "hyperscalers: m3 of water this tick = IT energy (energy_mwh / PUE, MWh) "
        "x WUE (L per kWh of IT energy)",
        "carbon_paid": "hyperscalers: $ of carbon price paid this tick = carbon price ($/t "
        "CO2e) x emissions_t",
        "clean_paid": "hyperscalers: $ of clean energy bought this tick = max(0, required "
        "share - grid clean share) x energy_mwh x behaviour.clean_energy_premium ($/MWh)",
        "lead_time": "weeks of backlog at the agent's delivery rate (the largest over its goods)",
        "credit_line": "$ the agent may borrow: its cash never goes below minus this",
        "defaulted": "whether the agent has defaulted and stopped trading",
        "default_loss": "$ lost so far on contracts ended by others' defaults (cumulative)",
        "stock": "build-to-forecast designers: H100e of finished chips in stock at the end "
        "of the tick",
        "stock_value": "build-to-forecast designers: $ book value of the stock, at the cost "
        "of making it (unit cost plus inputs at the designer's node prices)",
        "write_down": "designers: $ of stock written off this tick because an export rule "
        "closed every route for its chips (a book loss: the cash was spent when the chips "
        "were made)",
        "wafers": "memory makers with a DRAM wafer pool: DRAM wafer starts available this "
        "tick (wafers; pool x capacity factor)",
        "hbm_wafers": "memory makers: wafer starts put into HBM this tick (ODD 7.12)",
        "dram_wafers": "memory makers: wafer starts put into conventional DRAM this tick "
        "(wafers - hbm_wafers)",
    },
    "flows": {"quantity": _Q + ": spot and contract units from seller to buyer"},
    "node_prices": {"price": "$ per unit at that agent's node (the price rule's shadow price)"},
    "contracts": {
        "contract": "contract id",
        "kind": "contract kind (e.g. take_or_pay, reservation)",
        "nominated": _Q + ": units due this tick",
        "delivered": _Q + ": units delivered this tick",
        "shortfall": _Q + ": units due and not delivered",
        "price": "$ per unit agreed in the contract",
        "breach": "whether the contract was delivered short this tick",
    },
    "concentration": {
        "supplier_hhi": "Herfindahl-Hirschman index of the buyer's sellers (0-10,000)",
        "top1_share": "share of the buyer's units from its largest seller",
    },
    "coverage": {"coverage": "contracted share of the units the buyer received"},
    "exposure": {
        "lab": "lab whose compute is traced upstream",
        "by": "'region' or 'supplier': what origin names",
        "origin": "region or supplier the compute is traced to",
        "share": "share of the lab's compute traced to the origin",
    },
    "capacity": {
        "capacity": _Q + ": installed capacity of this good (inf: no limit of its own, e.g. "
        "a designer limited only by its inputs)",
        "available": _Q + ": capacity after shocks (outages, shortages)",
        "sold": _Q + ": units of this good sold",
    },
    "sovereignty": {
        "region": "region of the agents whose capacity and use are counted",
        "capacity": _Q + ": available capacity (after shocks) of the agents located in the "
        "region (inf: a designer with no limit of its own)",
        "use": _Q + ": units the buyers located in the region received this tick (spot and "
        "contract)",
        "self_sufficiency": "min(1, capacity / use): share of the region's own use its own "
        "capacity could serve (NaN when use is 0)",
    },
    "single_points": {
        "lab": "lab whose supply is traced upstream",
        "good": "upstream tier (compute, accelerator, wafer, hbm, cowos, networking, shell)",
        "supplier": "the supplier in that tier with the largest share of the lab's supply",
        "share": "share of the lab's supply in that tier traced through the supplier "
        "(lab <- hyperscalers' compute <- designers' fleet <- suppliers' units this tick)",
        "single_point": "whether the share is >= market.sovereignty.SPOF_SHARE (0.5)",
    },
    "generations": {
        "designer": "designer whose product generation the row is (designers with "
        "generations only; ODD 7.15)",
        "generation": "product generation (e.g. Hopper, Blackwell, Rubin)",
        "share": "planned share of the designer's H100e output this tick (its ramp: the "
        "newest takes its progress of what is left)",
        "made": "H100e of the generation made this tick (its recipe's activity)",
        "installed": "H100e of the generation in all hyperscalers' fleets",
        "mw_per_h100e": "MW per installed H100e the generation needs: the hyperscalers' "
        "mw_per_h100e x its W per H100e relative to the designer's start mix, fleet-weighted",
        "utilisation": "compute sold / available over the hyperscalers' buckets of the "
        "generation (NaN when none is available)",
        "rental_per_chip_hour": "$ per chip-hour: the compute price the hyperscalers "
        "received ($ per H100e-quarter, volume-weighted) x realised H100e per chip / hours "
        "per tick (NaN when none sold)",
    },
    "whatif": {
        "policy": "the policy (scenario file stem or --policy name)",
        "kpi": "the KPI compared (see the KPI entries)",
        "window": "'run' (all ticks), 'shock' (the policy's shock window) or 'after' (the "
        "ticks after it)",
        "ticks": "the ticks of the window (first-last)",
        "unit": "the KPI's unit",
        "n": "seeds paired (both runs finished, the KPI defined in both)",
        "base_mean": "the KPI's mean over the paired seeds in the baseline",
        "policy_mean": "the KPI's mean over the paired seeds under the policy",
        "diff_mean": "mean of policy - base over the paired seeds (KPI unit)",
        "diff_sd": "standard deviation of policy - base over the paired seeds",
        "ci_low": "lower end of the 95% Student-t interval of the mean difference",
        "ci_high": "upper end of the 95% Student-t interval of the mean difference",
        "significant": "whether the 95% interval excludes 0",
    },
    "series_diff": {
        "policy": "the policy compared with the baseline",
        "replicate": "replicate index (seeds paired with the baseline)",
        "series": "name of a per-tick series, with its unit",
        "value": "policy - base of the series at the tick, on the same seed",
    },
    "metrics": {
        "series": "the historical series scored (experiments.studies.backtest.SERIES; "
        "data/README.md)",
        "sample": "'in' (in-sample: 2023Q1-2024Q4) or 'out' (out-of-sample: 2025Q1 on)",
        "unit": "the series' unit (the data's)",
        "error_kind": "'mape' (mean |model / data - 1|), 'log' (mean |ln(model / data)|) or "
        "'points' (mean |model - data| in percentage points)",
        "points": "historical points scored in the sample",
        "error": "the error of the model's median over seeds against the data (error_kind)",
        "corr": "Pearson correlation of the model's median and the data over the points "
        "(blank with fewer than 3 points)",
        "sign_share": "share of period-to-period changes (per key) the model's median gets "
        "the sign of",
        "changes": "period-to-period changes counted in sign_share",
    },
    "points": {
        "series": "the historical series (see the metrics table)",
        "key": "the agent or group the point is about (e.g. a designer, an HBM maker)",
        "period": "the data's period: YYYY, YYYYHn, YYYYQn or YYYY-MM",
        "first": "first tick of the period",
        "last": "last tick of the period",
        "data": "the historical value in the series' unit (mean of its sources; x the "
        "series' scale where the model covers a part, e.g. revenue x 0.85)",
        "sample": "'in' (ticks before 2025Q1) or 'out' (2025Q1 on)",
        "median": "the model's value for the period (sum, mean or last tick), median over seeds",
        "p10": "10th percentile over seeds of the model's value for the period",
        "p90": "90th percentile over seeds of the model's value for the period",
    },
    "series": {
        "scenario": "'base' or the policy's name",
        "replicate": "replicate index (the baseline and a policy share seeds)",
        "series": "name of a per-tick series, with its unit",
        "value": "the series' value at the tick",
    },
}
"""table -> column -> description; ``"*"`` holds columns shared by several tables."""

PATTERNS: dict[str, str] = {
    r"lead_time_(\w+)": "weeks of lead time quoted for {0} (backlog / delivery rate)",
    r"backlog_(\w+)": "units of {0} ordered and not yet delivered",
    r"(\w+)_price": "$ per unit: {0} price",
}
"""Column-name patterns (regex -> description with the groups) for families of columns."""


LEDGER_KINDS: dict[str, str] = {
    "spot:<good>": "a spot purchase of the good, buyer to seller (nodal price or seller's offer)",
    "contract:<good>": "units delivered under a contract, buyer to seller at its price",
    "transport": "a route's cost per unit moved, seller to outside the model",
    "switching": "the ecosystem switching cost on an accelerator route, seller to outside",
    "deficiency": "take-or-pay minimum not called, buyer to seller",
    "penalty": "breach penalty for units short, seller to buyer",
    "prepayment": "a capacity reservation's prepayment at signing, buyer to supplier",
    "capex": "a supplier's spending on new capacity, to outside the model",
    "operating": "running cost of what an agent sold or used, to outside the model",
    "revenue": "labs' and DRAM buyers' value of what they got, from outside the model",
    "carbon": "carbon price on hyperscalers' emissions, to outside the model",
    "clean_energy": "clean energy bought to meet a requirement, to outside the model",
    "interest": "interest on debt (negative cash), borrower to its financiers (ODD 7.17) or "
    "outside lenders, at debt_rate + leverage_spread x leverage",
    "default": "write-off of a defaulting agent's deficit, its payees of the tick back to it",
    "asset_sale": "a distressed fleet sale, buying hyperscaler to seller",
    "lease": "a lease's rent on every leased H100e, called or not, lessee to lessor (ODD 7.17)",
    "lease_funding": "a financier's purchase of the H100e of a lab's own fleet it leases back "
    "to the lab, financier to lab (ODD 7.17)",
    "lease_purchase": "a lessee's purchase of leased accelerators at their residual value at "
    "the end of the term (purchase option), lab to financier (ODD 7.17)",
    "residual_sale": "a financier's sale of accelerators it leased, at their residual value "
    "(at a fire-sale discount when repossessed from a defaulted lessee), from outside the "
    "model to the financier (ODD 7.17)",
    "backstop": "a guarantor's purchase of a neocloud's unsold compute, guarantor to "
    "neocloud (ODD 7.17)",
    "vendor_investment": "a designer's investment in a lab per GW of its accelerators "
    "deployed for the lab, designer to lab (ODD 7.17)",
    "funding": "a financier's cost of capital on what it lends, to its funders outside the "
    "model (ODD 7.17)",
    "loan_loss": "a financier's loan to a defaulted borrower, repaid to its funders outside "
    "the model from its own cash (ODD 7.17)",
}
"""Ledger kinds (``market.ledger``: payer, payee, $, kind) and what each payment is."""


def ledger_kind(kind: str) -> str | None:
    """The description of ledger ``kind`` (``spot:wafer`` matches ``spot:<good>``)."""
    head, sep, _ = kind.partition(":")
    return LEDGER_KINDS.get(f"{head}:<good>" if sep else kind)


def describe(table: str, column: str) -> str | None:
    """The description of ``column`` in ``table``, or None if the glossary has none."""
    for key in (table, "*"):
        text = COLUMNS.get(key, {}).get(column)
        if text:
            return text
    for pattern, text in PATTERNS.items():
        m = re.fullmatch(pattern, column)
        if m:
            return text.format(*m.groups())
    return None


def missing(tables: dict[str, Iterable[str]]) -> list[str]:
    """``table.column`` for every column with no description."""
    return [f"{t}.{c}" for t, cols in tables.items() for c in cols if describe(t, c) is None]


def glossary_rows(tables: dict[str, Iterable[str]]) -> list[tuple[str, str, str]]:
    """(section, name, description) for every KPI, unit, ledger kind and table column given."""
    from experiments.kpis import KPIS

    rows = [("KPI", k, v) for k, v in KPIS.items()]
    rows += [("unit", g, f"counted in {q}; priced in {p}") for g, (q, p) in GOOD_UNITS.items()]
    rows += [("ledger kind", k, v) for k, v in LEDGER_KINDS.items()]
    for t, cols in tables.items():
        for c in cols:
            rows.append((f"table {t}", c, describe(t, c) or "(no description)"))
    return rows


__all__ = ["COLUMNS", "GOOD_UNITS", "LEDGER_KINDS", "PATTERNS", "QUANTITY_UNITS", "UNITS",
           "describe", "glossary_rows", "ledger_kind", "missing", "price_unit",
           "quantity_unit"]  # fmt: skip
