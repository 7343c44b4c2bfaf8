"""The typed scenario schema: every field typed, documented with its unit, validated.

A scenario is plain data (pydantic models, frozen, unknown keys refused). The
market never reads files: ``experiments.scenarios.load_scenario`` parses TOML and
validates it against :class:`Scenario`, turning errors into messages that name
the file and the field.

Units: one tick is one quarter unless ``meta.ticks_per_year`` says otherwise;
quantities are per tick; money is US dollars; prices are $ per unit of the good
(wafers, GB of HBM, CoWoS wafer-equivalents, H100e, MW, H100e-quarters).
"""

from __future__ import annotations

import json
import math
import re
import typing
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

# ------------------------------------------------------------------ numbers and bounds
# Every number in a scenario is finite and bounded, so no accepted value can overflow
# the tables or the clearing (1e300 is refused with its bound, not turned into NaN).
# A field's description ends with its bounds (added from its type, see Strict).

MAX_MONEY = 1e15
"""Largest amount of money, $, in either sign (about ten times world GDP per year)."""
MAX_QUANTITY = 1e12
"""Largest quantity of a good, units (per tick for flows, or a stock)."""
MAX_RATIO = 1e4
"""Largest markup, multiplier or per-unit technical ratio (chips per wafer, GB per chip)."""
MAX_GROWTH = 100.0
"""Largest growth rate per year (+10,000%/yr)."""
MAX_TICKS = 10_000
"""Largest tick count (start, end, term): 2,500 years of quarters."""


def _refuse_text_and_bool(error_type: str, expected: str) -> BeforeValidator:
    """Strict numbers: TOML strings (``"1e5"``) and booleans (``true``) are not numbers.

    Integers still pass where a float is expected (``capacity = 100``).
    """

    def check(value: Any) -> Any:
        if isinstance(value, bool | str | bytes):
            raise PydanticCustomError(error_type, expected)
        return value

    return BeforeValidator(check)


_REAL = _refuse_text_and_bool("float_type", "expected a number")
_WHOLE = _refuse_text_and_bool("int_type", "expected a whole number")


def _quantity_or_unlimited(value: float) -> float:
    """A capacity: a finite quantity up to MAX_QUANTITY, or inf for unlimited (not NaN)."""
    if math.isnan(value):
        raise PydanticCustomError("finite_number", "must be a number, not NaN")
    if math.isfinite(value) and value > MAX_QUANTITY:
        raise PydanticCustomError(
            "quantity_limit", "must be at most 1e12 units per tick, or inf for unlimited"
        )
    return value


Whole = Annotated[int, _WHOLE]
"""A whole number (booleans and strings refused)."""
NonNeg = Annotated[float, Field(ge=0, le=MAX_MONEY, allow_inf_nan=False), _REAL]
Pos = Annotated[float, Field(gt=0, le=MAX_MONEY, allow_inf_nan=False), _REAL]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _REAL]
Money = Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY, allow_inf_nan=False), _REAL]
"""$ that may be negative (cash: debt)."""
Quantity = Annotated[float, Field(ge=0, le=MAX_QUANTITY, allow_inf_nan=False), _REAL]
"""Units of a good (per tick for flows)."""
PosQuantity = Annotated[float, Field(gt=0, le=MAX_QUANTITY, allow_inf_nan=False), _REAL]
Limit = Annotated[float, Field(gt=0), AfterValidator(_quantity_or_unlimited), _REAL]
"""A capacity in units per tick, > 0, at most 1e12, or inf (unlimited)."""
RouteLimit = Annotated[float, Field(ge=0), AfterValidator(_quantity_or_unlimited), _REAL]
"""A route capacity in units per tick, >= 0 (0 closes it), at most 1e12, or inf."""
Ratio = Annotated[float, Field(ge=0, le=MAX_RATIO, allow_inf_nan=False), _REAL]
"""A markup, multiplier or other non-negative ratio."""
PosRatio = Annotated[float, Field(gt=0, le=MAX_RATIO, allow_inf_nan=False), _REAL]
LogStd = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _REAL]
"""A standard deviation of a log shock per tick."""
Growth = Annotated[float, Field(ge=-1, le=MAX_GROWTH, allow_inf_nan=False), _REAL]
"""Growth per year (-1 = -100%)."""
Ticks = Annotated[int, Field(ge=0, le=MAX_TICKS), _WHOLE]
LeadTime = Annotated[int, Field(ge=1, le=80), _WHOLE]
MAX_PERMIT_FACTOR = 10.0
"""Largest permitting multiplier on a lead time (x10 turns 2 years into 20)."""
PermitFactor = Annotated[float, Field(ge=1, le=MAX_PERMIT_FACTOR, allow_inf_nan=False), _REAL]
DATE_HELP = "a tick number or a calendar quarter 'YYYYQn' (e.g. '2025Q2')"
"""How a field that takes a tick says that it also takes a date (``quarter_tick``)."""


def _safe_name(value: str) -> str:
    """A scenario name is used in output folder names: no folders, no leading dot."""
    if not value.strip() or "/" in value or "\\" in value or value.startswith("."):
        raise PydanticCustomError(
            "scenario_name",
            "must be a plain name (no '/' or '\\', not starting with '.'), e.g. taiwan_outage",
        )
    return value


ScenarioName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_safe_name)]
"""A scenario's name: part of output folder names, so it cannot name another folder."""
Good = Literal[
    "wafer", "hbm", "cowos", "accelerator", "power", "compute", "networking", "shell", "dram",
    "tools",
]  # fmt: skip
"""The goods (``market.goods.GOODS``)."""

_BOUND_WORDS = (
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.Lt, "lt", "<"),
)


def _bound_number(value: float) -> str:
    if abs(value) >= 1e6:
        return f"{value:g}".replace("e+", "e")
    return str(int(value)) if float(value).is_integer() else str(value)


def _bounds(metadata: list[Any]) -> list[str]:
    out = []
    for kind, attr, word in _BOUND_WORDS:
        values = {getattr(m, attr) for m in metadata if isinstance(m, kind)}
        if len(values) > 1:
            # pydantic enforces only the last one: a type alias's bound and a Field's clash.
            raise TypeError(
                f"two different '{word}' bounds {sorted(values)}; pydantic keeps only the "
                "last, so give the field one type that carries the bound you want"
            )
        if values:
            out.append(f"{word} {_bound_number(values.pop())}")
    return out


def bounds_text(field: FieldInfo) -> str:
    """``"Bounds: >= 0, <= 1e12."`` from a field's type, or ``""`` if it has none.

    For a ``dict[str, X]`` or ``tuple[X, ...]`` field, the bounds of its items.
    """
    found = _bounds(field.metadata)
    if not found:
        for arg in typing.get_args(field.annotation):
            if typing.get_origin(arg) is Annotated:
                for meta in typing.get_args(arg)[1:]:
                    if isinstance(meta, FieldInfo):
                        found += _bounds(meta.metadata)
    return f"Bounds: {', '.join(found)}." if found else ""


class Strict(BaseModel):
    """Base: frozen, and an unknown key is an error (catches typos).

    Every subclass's field descriptions end with the field's bounds (from its type),
    so the schema reference states them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for name, field in cls.model_fields.items():
            try:
                text = bounds_text(field)
            except TypeError as exc:
                raise TypeError(f"{cls.__name__}.{name}: {exc}") from None
            if text and text not in (field.description or ""):
                field.description = f"{field.description or ''} {text}".strip()
                changed = True
        if changed:
            cls.model_rebuild(force=True)


class Meta(Strict):
    name: ScenarioName = Field(description="Scenario name, used in outputs.")
    description: str = ""
    start_year: Whole = Field(2025, ge=1900, le=2200, description="Calendar year of tick 0.")
    ticks_per_year: Whole = Field(4, ge=1, le=52, description="Ticks per year (4 = quarters).")
    horizon: Whole = Field(
        40, ge=1, le=400, description="Ticks to run (40 = 2025-2034 by quarter)."
    )


class Behaviour(Strict):
    """Simple, documented decision rules shared by all agents (no perfect foresight)."""

    foresight: Share = Field(
        0.3,
        description="Weight of the newest observation in the exponential moving averages "
        "of prices and shortages agents plan with (0 = never learn, 1 = only last tick).",
    )
    expansion_trigger: Share = Field(
        0.9, description="Utilisation (sold / capacity) above which a supplier orders new capacity."
    )
    expansion_step: Share = Field(
        0.15, description="New capacity ordered per decision, as a share of current capacity."
    )
    payback_ticks: Pos = Field(
        16,
        description="Ticks over which a supplier wants new capacity to pay back its capex; "
        "it expands only if the expected margin repays capex within this time.",
    )
    markup_step: Share = Field(
        0.05,
        description="How fast a supplier's markup over unit cost follows scarcity "
        "(added when sold out, removed when under-utilised), per tick.",
    )
    max_markup: Ratio = Field(3.0, description="Cap on a supplier's markup (3 = 300%).")
    contracting: bool = Field(
        True, description="Whether agents seek new contracts (False: only the scenario's own)."
    )
    contract_trigger: Share = Field(
        0.05, description="Unmet share of demand (EMA) above which a buyer seeks a contract."
    )
    contract_ramp: PosRatio = Field(
        0.05,
        description="Unmet share above contract_trigger over which the share of demand a "
        "lab contracts rises from 0 to contract_share (a continuous rule: a hair's "
        "difference in unmet demand makes a hair's difference in contracts).",
    )
    contract_share: Share = Field(
        0.3, description="Share of its expected need a buyer tries to contract at once."
    )
    contract_term: Ticks = Field(8, description="Term of contracts agents sign (ticks).")
    contract_premium: Ratio = Field(
        0.1, description="Premium over the current price a buyer offers for a contract."
    )
    shortfall_penalty: Ratio = Field(
        0.5,
        description="Breach penalty a seller pays per unit short, as a share of contract price.",
    )
    switching_cost: Ratio = Field(
        0.15,
        description="Extra cost of an accelerator from a designer absent from a buyer's "
        "fleet, as a share of the accelerator price; falls linearly to 0 at a 100% share.",
    )
    debt_rate: Ratio = Field(0.02, description="Interest per tick on negative cash (debt).")
    distress_headroom: Share = Field(
        0.1,
        description="An agent whose headroom (cash + credit line) after this tick's "
        "payments would fall below this share of its credit line is in distress and sells "
        "assets before it defaults (market/credit.py); 0 = never.",
    )
    distress_sale_share: Share = Field(
        0.1,
        description="Share of its fleet (and the MW that powers it) a hyperscaler in "
        "distress sells per tick to the hyperscaler with the most headroom.",
    )
    fire_sale_discount: Share = Field(
        0.3,
        description="Discount on a distressed sale: the buyer pays (1 - this) x the "
        "accelerator price (EMA) x the share of each cohort's life left, per H100e; "
        "assumed (secondary GPU markets trade well below new prices).",
    )
    # -- thresholds and shapes of the agents' rules (issue 8 part 8: no literals in code)
    sold_out_utilisation: Share = Field(
        0.98,
        description="Utilisation (sold / available, this tick) at or above which a supplier "
        "or hyperscaler raises its markup by markup_step.",
    )
    idle_utilisation: Share = Field(
        0.7,
        description="Utilisation below which a supplier or hyperscaler lowers its markup "
        "by markup_step.",
    )
    ask_top_share: Share = Field(
        0.2,
        description="Share of a supplier's or hyperscaler's available capacity offered in the "
        "dearer top step of its ask (the rest at its marked-up price).",
    )
    ask_top_premium: Ratio = Field(
        0.25, description="Price of the top ask step over the marked-up price (0.25 = +25%)."
    )
    designer_rent_margin: Ratio = Field(
        0.01,
        description="A designer raises its markup when the accelerator price at its node "
        "exceeds its asking price by more than this share (0.01 = 1%).",
    )
    reservation_trigger: Ratio = Field(
        0.1,
        description="A designer reserves a supplier's capacity when an input's price at its "
        "node exceeds that supplier's ask by more than this share (0.1 = 10%).",
    )
    reservation_ramp: PosRatio = Field(
        0.1,
        description="Excess of the input's price over (1 + reservation_trigger) x the ask, "
        "as a share of the ask, over which a reservation grows from 0 to contract_share of "
        "the supplier's deliveries (a continuous rule, like contract_ramp).",
    )
    reservation_prepayment: Share = Field(
        0.5,
        description="Share of the new capacity's capex a designer prepays when it reserves it.",
    )
    contract_min_take: Share = Field(
        0.8,
        description="Share of the quantity a lab must pay for under the take-or-pay "
        "contracts it signs, taken or not.",
    )
    hyperscaler_markup: Ratio = Field(
        0.5,
        description="Hyperscalers' starting markup of the compute ask over opex "
        "(0.5: $900 per H100e-quarter at $600 opex).",
    )
    fleet_headroom: PosRatio = Field(
        1.25, description="Target fleet as a multiple of the compute demand it expects."
    )
    fleet_adjustment_ticks: PosRatio = Field(
        3.0,
        description="Ticks over which a hyperscaler closes the gap between its target and "
        "its fleet: each tick it orders what retires plus gap / this (a stock-adjustment "
        "rule, Sterman 1989; 1 = the whole gap at once, which makes orders lurch). The "
        "baseline's 2.93 is fitted to 2023-24 history (experiments/plans/calibrate_orders.toml).",
    )
    install_low_share: Share = Field(
        0.5,
        description="Share of a hyperscaler's wanted installs bid at the lower value "
        "(the rest at its full value per H100e).",
    )
    install_low_value: Share = Field(
        0.7, description="The lower install bid as a share of the full value per H100e."
    )
    backlog_patience: Annotated[int, Field(ge=1, le=40), _WHOLE] = Field(
        4,
        description="Ticks an unfilled order for installs (accelerators + MW) waits in the "
        "backlog before the buyer cancels it (4 = a year; H100 server lead times reached "
        "36-52 weeks in 2023).",
    )
    demand_steps: Annotated[int, Field(ge=1, le=50), _WHOLE] = Field(
        8,
        description="Steps of each lab's demand curve per use (training, inference) between "
        "its value and demand_top_price x its value.",
    )
    demand_floor_price: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _REAL] = Field(
        0.8,
        description="Lowest price on a lab's demand curve, as a share of its value per "
        "H100e-quarter: below its value it wants more, with the same elasticity, down to "
        "this price (cheap compute finds more use, PF §13; within a quarter only a little: "
        "at 0.8 of its value a use wants 1.25-1.4x, e = 1-1.5; estimate). 1 = no demand "
        "below the value.",
    )
    demand_floor_steps: Annotated[int, Field(ge=0, le=50), _WHOLE] = Field(
        2,
        description="Steps of each lab's demand curve per use below its value (0 = none).",
    )
    demand_top_price: Annotated[float, Field(ge=1, le=MAX_RATIO, allow_inf_nan=False), _REAL] = (
        Field(
            3.0,
            description="Highest price on a lab's demand curve, as a multiple of its value per "
            "H100e-quarter (2023 H100 rentals reached $8-12/hr vs $2-3 in 2024-25: ~3-4x).",
        )
    )
    rental_utilisation: Share = Field(
        0.85,
        description="Utilisation a hyperscaler expects of a new install before it has "
        "measured its own (GPU servers do useful work 75-85% of the time, LBNL).",
    )
    rental_decline: Share = Field(
        0.05,
        description="Fall per tick of the rent an installed H100e earns, in the NPV of an "
        "install (H100 rental $2.85 -> $1.70/hr in ~7 quarters: ~7%/quarter).",
    )
    valuation_ticks: Annotated[int, Field(ge=1, le=80), _WHOLE] = Field(
        16, description="Ticks of rent counted in the NPV of an install (its economic life)."
    )
    designer_max_price_rise: PosRatio = Field(
        0.1,
        description="Largest rise of a designer's list price in one tick through its markup "
        "(0.1 = 10% a quarter), whatever the rent at its node: list prices are announced "
        "and move in steps; assumed, not sourced.",
    )
    designer_markup_speed: Share = Field(
        0.25,
        description="Share of the gap between a designer's margin and the rent at its node "
        "(accelerator price - unit cost - inputs at list prices) closed per tick.",
    )
    sold_at_offer: tuple[Good, ...] = Field(
        ("wafer", "hbm", "cowos", "power", "accelerator", "networking", "shell"),
        description="Goods whose spot trades settle at the seller's offer (its highest "
        "accepted ask; a designer's recipe cost plus its inputs at its node's prices) "
        "when that is below the buyer's nodal price: suppliers ration at their list prices "
        "and scarcity shows as backlog, lead time and a shadow price while markups follow "
        "it. Goods left out (compute by default) settle at the nodal price (an auction).",
    )
    input_allocation: bool = Field(
        True,
        description="Sold-out suppliers of wafers, HBM and CoWoS allocate their free "
        "capacity by buyers' past shares, and designers plan output from secured inputs "
        "(market/allocation.py); False: inputs clear by price alone.",
    )
    allocation_utilisation: Share = Field(
        0.9,
        description="Utilisation at or above which a supplier of wafers, HBM, CoWoS or MW "
        "allocates its free capacity (until utilisation falls below idle_utilisation).",
    )
    allocation_exit_utilisation: Share = Field(
        0.4,
        description="Utilisation below which a pool in allocation returns to clearing by "
        "price alone (well below allocation_utilisation, so a sudden rise in orders meets "
        "an allocation already in place rather than bidding up the input).",
    )
    lta_share: Share = Field(
        0.7,
        description="Share of its recent use of an input (designers: wafers, HBM, CoWoS; "
        "hyperscalers: MW) a buyer keeps under long-term supply agreements with each "
        "supplier (HBM and CoWoS sold out under LTAs, PF §1).",
    )
    lta_term: Annotated[int, Field(ge=1, le=40), _WHOLE] = Field(
        4,
        description="Ticks a long-term supply agreement runs; its price is the supplier's "
        "list price at signing (annual contracts, PF §1 'HBM price terms').",
    )
    shell_life: Annotated[int, Field(ge=1, le=400), _WHOLE] = Field(
        60,
        description="Ticks a data-centre shell serves (60 = 15 years, estimate: buildings "
        "outlive 3-4 generations of accelerators). A hyperscaler that buys shells adds to "
        "its install bid the shell value left after valuation_ticks: mw_per_h100e x the "
        "shell list price x max(0, 1 - valuation_ticks / shell_life) (section 7.13).",
    )
    clean_energy_premium: NonNeg = Field(
        25.0,
        description="$ per MWh a hyperscaler pays above its grid price for clean energy it "
        "buys to meet a clean_energy_share requirement (PPAs or certificates). Default 25, "
        "estimate: LevelTen P25 wind PPAs at $68-75/MWh (2024-25) against US wholesale "
        "prices of ~$45-50/MWh.",
    )
    backlog_priority: Ratio = Field(
        0.02,
        description="Premium per tick waited on a backlogged order's bid (share of the "
        "buyer's value per H100e), so older orders are served before newer ones.",
    )
    # -- fab equipment (ODD 7.14, market/tools.py)
    tool_patience: Annotated[int, Field(ge=1, le=40), _WHOLE] = Field(
        4,
        description="Ticks a supplier's own order for tools (wafer-fab equipment for new "
        "capacity) waits unfilled before it is cancelled (4 = a year; tool lead times "
        "reached 12-18 months in the 2021-22 shortage, TheElec Jul-22, Nikkei Apr-22). "
        "Orders for capacity a customer reserved (and prepaid) wait until filled.",
    )
    tool_bid_premium: Ratio = Field(
        0.5,
        description="A capacity builder bids for tools (1 + this x rho) x the tools' list "
        "price (the tool makers' capacity-weighted ask), rho the share of the new "
        "capacity's capex it repays within payback_ticks (its own expansions: rho >= 1; "
        "reservations count the prepayment): so tools go first to the expansions that "
        "pay back best (ODD 7.14). An estimate: an expansion that just passes its test "
        "pays up to 50% over list before it waits for tools.",
    )
    # -- financing structures (ODD 7.17, market/financing.py)
    residual_values: tuple[Share, ...] = Field(
        (0.78, 0.60, 0.46, 0.35),
        description="Resale value of an accelerator as a share of its value new after 1, 2, "
        "3, 4, ... years (linear between the points, 1 at 0 years, the last share held "
        "after); a lease's residual value and break-even rent follow it. Default: H100 "
        "resale value factors (PF §12 'Residual values', spotwire.ai valuator data, low "
        "confidence).",
    )
    leverage_spread: Ratio = Field(
        0.0,
        description="Extra interest per tick on a borrower's debt at full leverage: its rate "
        "is debt_rate + leverage_spread x min(1, debt / credit_line) (market/credit.py). "
        "0 = one rate for all. PF §12 'Cost of capital': investment-grade-backed debt ~6%/yr "
        "against 7-15% for a leveraged neocloud (CoreWeave), a ~650-700 bp spread.",
    )
    backstops: bool = Field(
        True,
        description="Whether backstop contracts are called (a guarantor buys a neocloud's "
        "unsold compute, ODD 7.17); False switches them off for with/without comparisons.",
    )
    vendor_financing: bool = Field(
        True,
        description="Whether vendor_financing contracts invest (a designer per GW of its "
        "accelerators deployed for a lab, ODD 7.17); False switches them off.",
    )
    equity_offers: bool = Field(
        False,
        description="Whether hyperscalers with equity_investor = true offer equity-for-compute "
        "deals to labs short of compute (ODD 7.17), beyond the scenario's own contracts.",
    )
    equity_trigger: Share = Field(
        0.2,
        description="Unmet share of a lab's demand (EMA) above which an equity investor "
        "offers it compute for equity (a lab is short). Estimate.",
    )
    equity_ramp: PosRatio = Field(
        0.1,
        description="Unmet share above equity_trigger over which the credits offered to a "
        "short lab rise from 0 to equity_cover x its unmet compute (a continuous rule, like "
        "contract_ramp). Estimate.",
    )
    equity_cover: Share = Field(
        0.5,
        description="Share of a short lab's unmet compute (H100e-quarters per tick) the "
        "equity-for-compute credits it holds may cover, offered within the investors' unsold "
        "compute. Estimate.",
    )
    equity_term: Annotated[int, Field(ge=1, le=40), _WHOLE] = Field(
        8,
        description="Ticks an offered equity-for-compute deal runs (the scenario's Amazon and "
        "Alphabet deals with Anthropic: 8-12, estimates).",
    )
    lab_revenue_multiple: PosRatio = Field(
        30.0,
        description="A lab's valuation as a multiple of its annualised revenue (its value of "
        "compute x ticks per year), which prices the equity a deal takes: share = credits' "
        "value / valuation. Estimate: Anthropic ~$350B after the Microsoft/Nvidia deal (PF "
        "§12 'More vendor/circular deals') on a ~$10B run rate.",
    )
    max_equity_share: Share = Field(
        0.3, description="Largest share of a lab one offered deal may take. Estimate."
    )

    # -- who bears the risk (ODD 7.18, market/risk.py)
    stranded_idle_share: Share = Field(
        0.3,
        description="Idle share of a project's capacity (1 - sold / available, from its "
        "owner's capacity rows), averaged over the last stranded_ticks ticks, at or above "
        "which the capacity counts as stranded (ODD 7.18). Estimate: below ~70% "
        "utilisation a fab or a data centre is considered under-used.",
    )
    stranded_ticks: Annotated[int, Field(ge=1, le=40), _WHOLE] = Field(
        4,
        description="Ticks over which a project's idle share is averaged: when the mean "
        "reaches stranded_idle_share its book value is written down to (1 - the mean) x "
        "its unimpaired value (4 = a year: an impairment test looks past one bad quarter; "
        "ODD 7.18).",
    )
    capacity_life: Annotated[int, Field(ge=1, le=400), _WHOLE] = Field(
        40,
        description="Ticks over which a supplier's new capacity (a fab, HBM, CoWoS or "
        "packaging line, a DRAM wafer pool, MW, networking kit, shells) is depreciated in "
        "the risk book: its book value falls by 1/capacity_life a tick (40 = 10 years, "
        "estimate: fab shells and tools 5-10+ years). Fleets use their owner's fleet_life.",
    )


class AgentSpec(Strict):
    """Fields every agent has."""

    name: str = Field(description="Unique name; contracts, routes and shocks refer to it.")
    region: str = Field(description="Region code, e.g. TW, KR, US, CN, EU, JP.")
    cluster: Whole = Field(
        0,
        ge=0,
        le=1_000_000,
        description="Default routes link only agents of the same cluster (scaled worlds).",
    )
    cash: Money = Field(0.0, description="$ at tick 0 (negative: debt).")
    credit_line: NonNeg = Field(
        1e10,
        description="$ it may borrow: its cash may fall to -credit_line and no lower. It cuts "
        "orders to stay above it and defaults if it cannot (market/credit.py). Defaults per "
        "type: suppliers $10B, designers $5B, hyperscalers $50B, labs $5B (estimates from "
        "revolvers and bond issues, e.g. CoreWeave's $11.2B of debt, 10-Q Jun-25).",
    )


class Supplier(AgentSpec):
    """Common fields of capacity-holding suppliers."""

    capacity: PosQuantity = Field(description="Units of the good per tick at tick 0.")
    unit_cost: NonNeg = Field(description="$ per unit of operating cost.")
    capex_per_unit: NonNeg = Field(description="$ per unit/tick of new capacity.")
    lead_time: LeadTime = Field(description="Ticks from ordering capacity to using it.")
    markup: Ratio = Field(0.2, description="Initial markup over unit cost in its ask.")
    depreciation: Share = Field(0.0, description="Share of capacity retired per tick.")
    markup_step: Ratio | None = Field(
        None,
        description="Its own markup step per tick (share of unit cost) when sold out or "
        "idle; None = behaviour.markup_step. Foundry list prices move a few % a year, "
        "memory contract prices up to +95% a quarter.",
    )
    min_markup: Ratio = Field(
        0.0,
        description="Floor of its markup when idle (its list price does not fall below "
        "unit_cost x (1 + this)), e.g. for a line that also serves demand the model leaves "
        "out, whose price AI orders alone do not set.",
    )


# ------------------------------------------------------------------ fab equipment (ODD 7.14)
TOOL_UNIT = 1e6
"""$ of wafer-fab equipment at 2025 list prices in one unit of the good ``tools``."""


class ToolUser(Supplier):
    """A supplier whose new capacity needs wafer-fab equipment (``tools``)."""

    tools_per_unit: Ratio = Field(
        0.0,
        description="Tool units ($M of wafer-fab equipment at 2025 list prices) per unit/tick "
        "of new capacity; tools_per_unit x 1e6 is the tools' share of capex_per_unit (at "
        "most all of it). 0 = its new capacity needs no tools (ODD 7.14).",
    )

    @model_validator(mode="after")
    def _tools_within_capex(self) -> ToolUser:
        if self.tools_per_unit * TOOL_UNIT > self.capex_per_unit * (1 + 1e-9):
            raise ValueError(
                f"tools_per_unit: {self.tools_per_unit} tool units x $1M = "
                f"${self.tools_per_unit * TOOL_UNIT:,.0f} exceeds capex_per_unit "
                f"${self.capex_per_unit:,.0f}; the tools are part of the capex, so lower "
                "tools_per_unit or raise capex_per_unit"
            )
        return self


class ToolMakerSpec(Supplier):
    """Wafer-fab equipment maker: ``capacity`` in tool units ($M of equipment at 2025 list
    prices) it can ship per tick to the modelled lines; its own expansion needs no tools."""


class FabSpec(ToolUser):
    """Leading-edge logic foundry: ``capacity`` in wafers per tick."""

    cowos_capacity: Quantity = Field(
        0.0, description="CoWoS wafer-equivalents per tick, if it packages."
    )
    cowos_unit_cost: NonNeg = Field(0.0, description="$ per CoWoS wafer-equivalent.")
    cowos_tools_per_unit: Ratio = Field(
        0.0,
        description="Tool units per CoWoS wafer-equivalent/tick of new CoWoS capacity (its "
        "CoWoS capex per unit is capex_per_unit x cowos_unit_cost / unit_cost).",
    )


class MemoryMakerSpec(ToolUser):
    """Memory maker: ``capacity`` is its HBM (TSV stacking) line in GB per tick. With
    ``wafers`` > 0 it also runs conventional DRAM, and HBM and DRAM share its pool of
    DRAM wafer starts (ODD 7.12); with ``wafers`` = 0 it makes HBM only."""

    wafers: Quantity = Field(
        0.0,
        description="DRAM wafer starts per tick (300-mm wafers per quarter) that HBM and "
        "conventional DRAM share; 0 = no pool (HBM only, capped by capacity alone).",
    )
    hbm_gb_per_wafer: PosRatio = Field(
        356.0,
        description="GB of HBM one DRAM wafer yields (after the TSV die's larger area and "
        "lower yield). Default 356: the model's 2025 HBM (0.28 bn GB a quarter) over "
        "~18% of the three makers' wafer starts (ODD 7.12).",
    )
    dram_gb_per_wafer: PosRatio = Field(
        890.0,
        description="GB of conventional DRAM one wafer yields at tick 0. Default 890 = 2.5 x "
        "hbm_gb_per_wafer (TrendForce: HBM 18% of DRAM wafers but 8% of bits, end-2025).",
    )
    dram_gb_growth: Ratio = Field(
        0.0,
        description="Growth per year of dram_gb_per_wafer from node migration (share, "
        "0.15 = +15% a year).",
    )
    hbm_gb_growth: Ratio = Field(
        0.0,
        description="Growth per year of hbm_gb_per_wafer from node migration (share).",
    )
    dram_unit_cost: NonNeg = Field(
        2.2,
        description="$ per GB of conventional DRAM made (estimate: ~27% gross margin at "
        "the 2025 average of ~$3/GB).",
    )
    dram_markup: Ratio = Field(
        0.1,
        description="Initial markup of its DRAM ask over dram_unit_cost (its asks are a "
        "floor: the DRAM price is set by the buyers' demand curve when supply is short).",
    )
    dram_min_markup: Ratio = Field(
        0.0, description="Floor of its DRAM markup when idle (its list price's floor)."
    )
    wafer_capex: NonNeg = Field(
        6e4,
        description="$ per (wafer per tick) of new DRAM wafer capacity (a new fab; "
        "estimate: ~$18B for 100k wafers a month).",
    )
    wafer_lead_time: LeadTime = Field(
        8, description="Ticks from ordering DRAM wafer capacity to starting wafers on it."
    )
    wafer_shift: Share = Field(
        0.03,
        description="Largest share of its wafer pool it moves between HBM and DRAM in one "
        "tick (HBM takes 2+ quarters from wafer start to finished stack).",
    )


class DramBuyerSpec(AgentSpec):
    """The outside market for conventional DRAM (PCs, phones, servers, other): buys GB of
    ``dram`` from the memory makers on a step demand curve (ODD 7.12)."""

    quantity: PosQuantity = Field(
        description="GB of DRAM per tick it wants at ``price`` at tick 0."
    )
    price: Pos = Field(description="$ per GB at which it wants ``quantity`` (2025 level).")
    growth: Growth = Field(
        0.15, description="Growth per year of the quantity it wants at a given price."
    )
    elasticity: Ratio = Field(
        0.6,
        description="Price elasticity: at price p it wants quantity x (p / price)^-e, "
        "between price / span and price x span.",
    )
    span: Annotated[float, Field(ge=1.01, le=100, allow_inf_nan=False), _REAL] = Field(
        3.0,
        description="Its demand curve runs from price / span to price x span ($/GB).",
    )
    steps: Annotated[int, Field(ge=1, le=50), _WHOLE] = Field(
        16, description="Steps of its demand curve between its lowest and highest price."
    )


class PackagerSpec(ToolUser):
    """Advanced packager (CoWoS or alike): ``capacity`` in wafer-equivalents per tick."""


class PowerSpec(Supplier):
    """Power provider: ``capacity`` is MW it can newly energise per tick (its queue)."""


class NetworkMakerSpec(Supplier):
    """Network maker (a group of switch, NIC and optical-transceiver makers in one region):
    ``capacity`` in networking units per tick, one unit being the networking of one
    installed H100e; ``unit_cost`` and ``capex_per_unit`` in $ per unit."""


Cooling = Literal["air", "evaporative", "liquid", "immersion"]
"""Cooling types of data-centre shells (a label; their PUE and WUE are the numbers)."""


class DCDeveloperSpec(Supplier):
    """Data-centre developer: ``capacity`` in MW of shell (building, power distribution
    and cooling, all-in facility MW) it can deliver per tick; ``unit_cost`` $ per MW;
    ``lead_time`` the construction time of new capacity, ticks."""

    cooling: Cooling = Field("liquid", description="Cooling type of the shells it builds.")
    pue: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False), _REAL] = Field(
        1.15,
        description="Power usage effectiveness of the shells it builds (facility / IT "
        "energy). New liquid-cooled AI halls 1.05-1.15, air-cooled legacy 1.4-1.8 (PF "
        "section 10 'PUE by cooling type').",
    )
    wue: Ratio = Field(
        0.36,
        description="Water usage effectiveness of the shells it builds, L per kWh of IT "
        "energy: closed-loop chip cooling ~0, US average 0.36, evaporative ~1.8 (PF "
        "section 10 'Water').",
    )


class GenerationSpec(Strict):
    """One product generation of a designer (ODD 7.15): per-chip specs, launch and ramp."""

    name: str = Field(description="Generation name (e.g. 'Blackwell'), unique per designer.")
    launch: Ticks = Field(
        0, description="First tick it is made (a tick number; 0 = on sale at the start)."
    )
    ramped: Share = Field(
        0.0,
        description="Ramp progress at launch: for a generation on sale at the start, its "
        "share of what is left by newer generations (1 = the oldest, fully ramped); 0 "
        "for a future launch.",
    )
    ramp_ticks: PosRatio = Field(
        4.0,
        description="Ticks from launch to a full ramp (its progress rises 1/ramp_ticks a tick).",
    )
    h100e_per_chip: PosRatio = Field(description="Peak H100-equivalents per chip (FP8 dense).")
    hbm_per_chip: PosRatio = Field(description="GB of HBM per chip.")
    chips_per_wafer: PosRatio = Field(description="Good dies (packages) per leading-edge wafer.")
    chips_per_cowos_wafer: PosRatio = Field(description="Packages per CoWoS wafer-equivalent.")
    unit_cost: NonNeg = Field(description="$ per chip on top of the inputs (test, board).")
    tdp_w: PosRatio = Field(description="Chip power (TDP), W per chip.")


class DesignerSpec(AgentSpec):
    """Chip designer: makes accelerators by recipe from wafers, HBM and CoWoS."""

    credit_line: NonNeg = Field(
        5e9,
        description="$ it may borrow (cash floor -credit_line; market/credit.py). Default "
        "$5B, estimate: a designer's revolver and notes.",
    )

    chips_per_wafer: PosRatio = Field(description="Good dies per leading-edge wafer.")
    hbm_per_chip: PosRatio = Field(description="GB of HBM per accelerator.")
    chips_per_cowos_wafer: PosRatio = Field(description="Packages per CoWoS wafer-equivalent.")
    h100e_per_chip: PosRatio = Field(1.0, description="H100-equivalents of compute per chip.")
    performance: PosRatio = Field(
        1.0,
        description="Realised compute per peak H100e, relative to Nvidia's chips (software "
        "stack, interconnect, memory): its chips count as h100e_per_chip x performance "
        "H100e in fleets, compute and prices; 1.0 = Nvidia's.",
    )
    unit_cost: NonNeg = Field(description="$ per chip on top of the inputs (test, board).")
    markup: Ratio = Field(0.5, description="Initial markup over full unit cost.")
    capacity: Limit = Field(
        float("inf"), description="Chips per tick it can ship (inf = unlimited; at most 1e12)."
    )
    captive_to: tuple[str, ...] = Field((), description="Hyperscalers it sells to; () = all.")
    # Regional parts and finished-goods inventory (issue 10 part 7; ODD 7.4).
    sells_to_regions: tuple[str, ...] = Field(
        (),
        description="Regions of the hyperscalers it sells to; () = all. A region-specific "
        "part (e.g. a China-compliant chip) is a designer of its own with the region here.",
    )
    part_of: str = Field(
        "",
        description="The designer whose product line this is ('' = its own): its chips "
        "share that designer's ecosystem (a fleet of either counts for the switching cost).",
    )
    stock_ticks: NonNeg = Field(
        0.0,
        description="Build to forecast: the finished-goods stock it aims to hold, in ticks "
        "of expected sales (0 = make to order, no stock).",
    )
    holding_cost: Share = Field(
        0.05,
        description="Share of a chip's value lost per tick it sits in stock (obsolescence "
        "and carrying cost); the stock is valued at this discount. Estimate.",
    )
    forecast_step: Share = Field(
        0.1,
        description="Share by which a build-to-forecast designer raises its sales forecast "
        "after a tick in which its stock sold out (otherwise the forecast is the moving "
        "average of sales, weight behaviour.foresight). Estimate.",
    )
    start_sales: Quantity = Field(
        0.0,
        description="Chips per tick a build-to-forecast designer expects to sell at tick 0 "
        "(its first forecast).",
    )
    generations: tuple[GenerationSpec, ...] = Field(
        (),
        description="Its products by generation, oldest first (ODD 7.15); () = one product "
        "from its own fields. With generations its per-chip fields (chips_per_wafer, "
        "hbm_per_chip, chips_per_cowos_wafer, h100e_per_chip, unit_cost) are not used "
        "(performance is), and product schedules may not name it.",
    )


class HyperscalerSpec(AgentSpec):
    """Cloud provider: buys accelerators and MW, rents compute from its fleet."""

    credit_line: NonNeg = Field(
        5e10,
        description="$ it may borrow (cash floor -credit_line; market/credit.py). Default "
        "$50B, estimate: investment-grade issuers (Meta's Hyperion SPV raised $27.3B of bonds, "
        "Meta release Oct-25; neoclouds less: CoreWeave $11.2B of debt, 10-Q Jun-25).",
    )

    fleet: dict[str, Quantity] = Field(
        default_factory=dict, description="Installed H100e at tick 0 by designer name."
    )
    power_mw: Quantity = Field(0.0, description="Energised MW at tick 0.")
    capex_budget: NonNeg = Field(
        description="$ per tick it may spend on accelerators and MW at tick 0."
    )
    capex_growth: Growth = Field(
        0.3, description="Growth of that budget per year (2024-26 guidance: +60-70%/yr)."
    )
    fleet_life: LeadTime = Field(22, description="Ticks an accelerator is used (5-6 years).")
    mw_per_h100e: PosRatio = Field(0.0015, description="All-in facility MW per installed H100e.")
    opex: NonNeg = Field(
        600.0, description="$ per H100e-quarter of operating cost (energy, staff)."
    )
    opex_energy_share: Share = Field(
        0.0,
        description="Share of opex that is energy at its mw_per_h100e (ODD 7.15): a cohort "
        "of a generation needing f x mw_per_h100e MW per H100e costs opex x (1 - e + e x f) "
        "per H100e-quarter. 0 = every generation costs opex.",
    )
    value_per_h100e: Pos = Field(
        description="$ it will pay for one more installed H100e (NPV of expected rentals) "
        "until it has seen a compute price; then it values installs from that price."
    )
    discount_rate: Share = Field(
        0.10,
        description="Discount rate per year of its install valuation (cost of capital: "
        "hyperscalers ~6-10%, neoclouds 7-15%).",
    )
    pue: Annotated[float, Field(ge=1, le=10, allow_inf_nan=False), _REAL] = Field(
        1.2,
        description="Power usage effectiveness of its data centres: facility energy / IT "
        "energy. Its IT power per H100e is mw_per_h100e / pue (mw_per_h100e is all-in), "
        "so pue splits energy into IT and overhead (market/energy.py). Default 1.2: the "
        "top of the hyperscale range 1.1-1.2 (Uptime Institute surveys 2023-24; industry "
        "average 1.55-1.59).",
    )
    wue: Ratio = Field(
        0.36,
        description="Water usage effectiveness: litres of water per kWh of IT energy "
        "(site water, mostly evaporative cooling). Default 0.36: the US data-centre "
        "average (Lawrence Berkeley National Laboratory, 2024 United States Data Center "
        "Energy Usage Report; projected 0.45-0.48).",
    )
    networking_per_h100e: Ratio = Field(
        0.0,
        description="Units of networking (switches, NICs and optics of one installed H100e, "
        "from network_makers) each install takes; 0 = networking not modelled (a world "
        "without network makers). The baseline's 1.0: one unit per H100e by definition.",
    )
    shells: bool = Field(
        False,
        description="Whether each new MW of its stock takes 1 MW of data-centre shell (good "
        "shell, from dc_developers) as well as 1 MW of grid connection (power). Its start "
        "stock power_mw is already shelled, at its pue and wue; new MW take the cooling of "
        "the developer that built them, so its PUE and WUE become MW-weighted averages "
        "(section 7.13). False: shells not modelled (its PUE and WUE stay pue and wue).",
    )
    equity_investor: bool = Field(
        False,
        description="Whether it offers equity-for-compute deals to labs short of compute when "
        "behaviour.equity_offers is on (ODD 7.17; Alphabet and Amazon with Anthropic, PF §5).",
    )


class LabSpec(AgentSpec):
    """AI lab: rents compute for training and inference."""

    credit_line: NonNeg = Field(
        5e9,
        description="$ it may borrow (cash floor -credit_line; market/credit.py). Default "
        "$5B, estimate (OpenAI's revolving credit facility: $4B, Oct-24).",
    )

    training: Quantity = Field(description="H100e-quarters of training demand at tick 0.")
    inference: Quantity = Field(description="H100e-quarters of inference demand at tick 0.")
    training_growth: Growth = Field(0.6, description="Growth of training demand per year.")
    inference_growth: Growth = Field(1.2, description="Growth of inference demand per year.")
    growth_halflife: PosRatio = Field(
        3.0, description="Years over which the growth rates halve (an S-shaped adoption path)."
    )
    volatility: LogStd = Field(0.1, description="Std. dev. of the adoption shock per tick (log).")
    training_value: Pos = Field(description="$ per H100e-quarter it pays for training compute.")
    inference_value: Pos = Field(description="$ per H100e-quarter it pays for inference compute.")
    training_elasticity: Ratio = Field(
        1.0,
        description="Price elasticity of training demand above its value: it wants "
        "training x (price / training_value)^-e (calibrated with inference_elasticity; "
        "below it, as runs are planned ahead).",
    )
    inference_elasticity: Ratio = Field(
        1.5,
        description="Price elasticity of inference demand above its value (calibrated so "
        "that the baseline's 2025 compute price lands at $2.3-2.4/hr; inference use "
        "grows fast as prices fall, PF §13).",
    )
    # A fleet of its own (ODD 7.17): it serves its own demand from it first.
    fleet: dict[str, Quantity] = Field(
        default_factory=dict,
        description="H100e it owns at tick 0 by designer name (e.g. xAI's Colossus); its "
        "compute serves its own demand before it bids for the rest.",
    )
    fleet_target: Share = Field(
        0.0,
        description="Share of its expected demand it aims to serve from its own fleet: it "
        "bids for accelerators (designers' routes to it open) to close 1 / "
        "fleet_adjustment_ticks of the gap per tick plus what retires; 0 = it buys none.",
    )
    fleet_life: LeadTime = Field(22, description="Ticks an accelerator of its fleet is used.")
    fleet_opex: NonNeg = Field(
        700.0,
        description="$ per H100e-quarter its own fleet costs to run (power, colocation, staff; "
        "it buys no MW or shells: its sites are leased with their power). Estimate, as the "
        "neoclouds' opex.",
    )
    mw_per_h100e: PosRatio = Field(
        0.0013, description="All-in facility MW per H100e of its fleet (GW deployed)."
    )
    discount_rate: Share = Field(
        0.15, description="Discount rate per year of the value of an accelerator it buys."
    )
    sells_equity: bool = Field(
        True,
        description="Whether it takes hyperscalers' equity-for-compute offers when short of "
        "compute (behaviour.equity_offers, ODD 7.17): an independent lab; False for in-house "
        "labs, the spot market's many buyers, or labs out of the investors' reach.",
    )


class FinancierSpec(AgentSpec):
    """Lender (bank, private credit): lends borrowers' debt within its limits (ODD 7.17)."""

    credit_line: NonNeg = Field(
        0.0, description="$ it may borrow itself (its losses beyond its cash default it)."
    )
    cost_of_capital: Share = Field(
        0.06,
        description="Its funding cost per year, paid outside the model on what it lends "
        "(ledger kind funding). Default 6%: investment-grade-backed project debt (PF §12 "
        "'Cost of capital': SOFR + 2.25% ~ 6%, Meta's Hyperion bonds 6.58%).",
    )
    margin: Share = Field(
        0.01, description="Its margin per year over its cost of capital. Estimate."
    )
    limit_per_borrower: NonNeg = Field(
        1e10, description="$ it lends one borrower at most (its credit limit per borrower)."
    )
    capacity: NonNeg = Field(1e11, description="$ it lends in all at most.")
    borrowers: tuple[str, ...] = Field((), description="Agents it lends to; () = all.")


class ContractSpec(Strict):
    """A contract in force at the start (agents sign more as they go)."""

    kind: Literal[
        "take_or_pay",
        "capacity_reservation",
        "equity_for_compute",
        "lease",  # seller (hyperscaler or financier) leases `quantity` H100e to a lab at `price`
        "backstop",  # buyer (guarantor) buys the seller's unsold compute, up to `limit` $
        "vendor_financing",  # seller (designer) invests `price` $ per GW deployed in the buyer
    ]
    seller: str
    buyer: str
    good: Good
    quantity: PosQuantity = Field(description="Units per tick.")
    price: NonNeg = Field(description="$ per unit (equity_for_compute: value of a credit).")
    start: Ticks = Field(0, description=f"First tick of delivery ({DATE_HELP}).")
    term: Annotated[int, Field(ge=1, le=MAX_TICKS), _WHOLE] = Field(description="Ticks it lasts.")
    min_take: Share = Field(1.0, description="Take-or-pay: share of quantity paid if not taken.")
    prepayment: NonNeg = Field(0.0, description="$ paid at signing (capacity reservation).")
    equity_share: Share = Field(0.0, description="Equity-for-compute: share of the lab given.")
    exclusive: bool = Field(False, description="Closes the buyer's routes to rival sellers.")
    limit: Limit = Field(
        float("inf"),
        description="Backstop and vendor financing: $ the buyer (backstop) or seller (vendor "
        "financing) pays at most over the term (inf = no cap; at most 1e12).",
    )
    asset_value: NonNeg = Field(
        0.0,
        description="Lease: $ per H100e of the leased accelerators at signing; with price 0 "
        "the rent is the break-even rent at debt_rate that leaves the lessor the residual "
        "value (behaviour.residual_values) at the end (ODD 7.17).",
    )
    purchase_option: bool = Field(
        False,
        description="Lease of accelerators from a financier: whether the lessee buys them at "
        "their residual value at the end of the term (else the financier sells them).",
    )


class SpvSpec(Strict):
    """A data-centre special-purpose vehicle (ODD 7.18, ``market/spv.py``): from ``start``
    it buys, with debt and equity, the shells and MW its anchor tenant (a hyperscaler)
    buys, up to ``size`` $, and leases them back under a take-or-pay lease renewed every
    ``lease_term`` ticks."""

    name: str = Field(description="The SPV's name (e.g. 'Hyperion SPV'); a ledger party.")
    tenant: str = Field(description="The anchor tenant: a hyperscaler's name.")
    size: Pos = Field(description="$ of shells and MW it finances in all.")
    start: Ticks = Field(0, description=f"First tick it finances the tenant's MW ({DATE_HELP}).")
    debt_share: Share = Field(
        description="Share of each purchase paid with the SPV's debt (the rest is equity)."
    )
    tenant_equity: Share = Field(
        0.0, description="Tenant's share of the SPV's equity (the rest: outside investors)."
    )
    rate: Ratio = Field(description="Interest on the SPV's debt, per year (0.0658 = 6.58%).")
    debt_term: Annotated[int, Field(ge=1, le=MAX_TICKS), _WHOLE] = Field(
        description="Ticks over which each drawing of debt is repaid in equal instalments."
    )
    coverage: PosRatio = Field(
        1.25,
        description="Rent / debt service (the debt-service coverage ratio the lease is set "
        "at); the rest of the rent goes to the equity holders.",
    )
    lease_term: Annotated[int, Field(ge=1, le=MAX_TICKS), _WHOLE] = Field(
        description="Ticks between lease renewals, from start; at each the tenant renews "
        "the share of the MW it uses."
    )
    rvg: Share = Field(
        0.0,
        description="Residual-value guarantee: share of the SPV's size the tenant pays its "
        "lenders at most if the SPV defaults (0 = none).",
    )
    recovery: Share = Field(
        0.4,
        description="Share of its assets' book value the lenders recover when it defaults.",
    )


class RouteSpec(Strict):
    """Overrides one default route's capacity or cost."""

    seller: str
    buyer: str
    good: Good
    capacity: RouteLimit = Field(
        float("inf"), description="Units per tick (inf = unlimited; at most 1e12)."
    )
    cost: NonNeg = Field(0.0, description="$ per unit moved.")


class ShockSpec(Strict):
    """A scheduled shock or policy, active for ticks ``start`` <= t < ``end``."""

    kind: Literal[
        "outage",  # capacity of target agents or region to `factor` (0 = offline)
        "capacity_drop",  # same as outage, typically factor in (0, 1): yield loss, fire
        "export_control",  # routes from_region -> to_region for `goods` capped to factor*capacity
        "tariff",  # adds `factor` $ per unit to routes from_region -> to_region for `goods`
        "demand_bust",  # labs' (target or all) demand times `factor`
        "power_shortage",  # power providers in target region: capacity times `factor`
        "subsidy",  # capex in target region times `factor` (0.7 = 30% subsidy)
        "contract_cap",  # no buyer may hold more than `factor` of a supplier's capacity
        "carbon_price",  # hyperscalers (target or all) pay `factor` $ per t CO2e emitted
        "permitting_delay",  # capacity suppliers (target or all) order takes `factor` x lead time
        "dram_demand",  # outside DRAM buyers' (target or all) demand times `factor`
        "clean_energy_share",  # hyperscalers (target or all) must source `factor` of energy clean
    ]
    start: Ticks = Field(description=f"First tick the shock is active ({DATE_HELP}).")
    end: Ticks = Field(
        description=f"First tick it is no longer active, start <= t < end ({DATE_HELP})."
    )
    target: str = Field("", description="Agent name or region code ('' = all).")
    goods: tuple[Good, ...] = ()
    from_region: str = ""
    to_region: str = ""
    factor: NonNeg = 0.0


# ------------------------------------------------------------------ history (issue 9)
# Exogenous paths a history scenario replays: capacity announced by suppliers, the
# hyperscalers' capex, and the designers' product generations. Policy events are
# ``[[shocks]]``. Wherever a tick is accepted (these paths, shocks' start and end,
# contracts' start) a calendar quarter "YYYYQn" is accepted too and converted with
# ``meta.start_year`` (``quarter_tick``); ``market/history.py`` applies the paths.

QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
"""A calendar quarter as written in a scenario: ``"2025Q2"``."""


def quarter_tick(date: str, start_year: int, ticks_per_year: int) -> int:
    """The tick of calendar quarter ``date`` ("YYYYQn") in a run whose tick 0 is the
    first quarter of ``start_year``. Raises ``ValueError`` (without the field's name;
    the caller adds it) if the date is malformed, the ticks are not quarters, or the
    date is before the start."""
    m = QUARTER.match(date.strip())
    if m is None:
        raise ValueError(f"{date!r} is not {DATE_HELP}")
    if ticks_per_year != 4:
        raise ValueError(
            f"{date!r}: a date 'YYYYQn' needs quarterly ticks (meta.ticks_per_year = 4, "
            f"got {ticks_per_year}); give a tick number instead"
        )
    tick = (int(m.group(1)) - start_year) * 4 + int(m.group(2)) - 1
    if tick < 0:
        raise ValueError(
            f"date {date!r} is before the scenario's start {start_year}Q1 "
            "(meta.start_year); give a date from then on, or start the scenario earlier"
        )
    return tick


def _to_tick(value: Any, start_year: int, ticks_per_year: int, where: str) -> Any:
    """A date string -> its tick; a whole-number string (a JSON dict key) -> int; else as is."""
    if not isinstance(value, str):
        return value
    if value.strip().isdigit():
        return int(value.strip())
    try:
        return quarter_tick(value, start_year, ticks_per_year)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


DATED_FIELDS: dict[str, tuple[str, ...]] = {
    "shocks": ("start", "end"),
    "contracts": ("start",),
    "spvs": ("start",),
    "product_schedules": ("date",),
}
"""Sections whose entries' fields accept a date (besides the dated keys of ``DATED_KEYS``)."""
DATED_KEYS: dict[str, str] = {"capacity_schedules": "add", "budget_paths": "capex"}
"""Sections whose entries hold a path keyed by date (section -> the path's field)."""


def convert_dates(data: Any) -> Any:
    """A copy of raw scenario data with every date "YYYYQn" replaced by its tick.

    Raises ``ValueError`` naming the field (e.g. ``shocks[0].start: ...``)."""
    if not isinstance(data, dict):
        return data
    meta = data.get("meta", {})
    get = meta.get if isinstance(meta, dict) else lambda k, d: getattr(meta, k, d)
    start, per_year = get("start_year", 2025), get("ticks_per_year", 4)
    if not isinstance(start, int) or not isinstance(per_year, int):
        return data  # the meta fields' own errors say what is wrong
    out = dict(data)
    for section, fields in DATED_FIELDS.items():
        items = out.get(section)
        if not isinstance(items, list | tuple):
            continue
        new = []
        for i, item in enumerate(items):
            if isinstance(item, dict):
                item = dict(item)
                for f in fields:
                    if f in item:
                        item[f] = _to_tick(item[f], start, per_year, f"{section}[{i}].{f}")
            new.append(item)
        out[section] = new
    for section, key in DATED_KEYS.items():
        items = out.get(section)
        if not isinstance(items, list | tuple):
            continue
        new = []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get(key), dict):
                path = {}
                for date, value in item[key].items():
                    where = f"{section}[{i}].{key}[{json.dumps(str(date))}]"
                    tick = _to_tick(date, start, per_year, where)
                    if tick in path:
                        raise ValueError(f"{where}: tick {tick} is given twice; give it once")
                    path[tick] = value
                item = {**item, key: path}
            new.append(item)
        out[section] = new
    return out


DatedQuantities = dict[Ticks, Quantity]
"""Values by tick (written as ``{ "2023Q3" = 9000, ... }`` or by tick number)."""


class CapacitySchedule(Strict):
    """Capacity a supplier added to one line, by quarter: announced or reported
    additions, replayed on top of its own expansion decisions (``market/history.py``)."""

    agent: str = Field(
        description="Name of a fab, memory maker, packager, power provider, network maker or "
        "data-centre developer."
    )
    good: Good = Field(
        description="The line: a fab's 'wafer' or 'cowos', a memory maker's 'hbm', a "
        "packager's 'cowos', a power provider's 'power', a network maker's 'networking', a "
        "data-centre developer's 'shell'."
    )
    add: DatedQuantities = Field(
        description="Units per tick added to the line's capacity from each tick on, by "
        f'tick ({DATE_HELP}), e.g. {{ "2023Q3" = 9000 }}.'
    )


class BudgetPath(Strict):
    """A hyperscaler's reported capex by quarter; its budget for accelerators and MW
    is ``share`` x that capex (held after the last quarter given, then growing at its
    ``capex_growth``; before the first, its ``capex_budget``)."""

    hyperscaler: str = Field(description="Name of a hyperscaler.")
    share: Share = Field(
        0.45,
        description="Share of total capex spent on accelerators and MW (the baseline's "
        "0.45: ~40% accelerators, PF §4 Bernstein, + ~5% grid connections).",
    )
    capex: dict[Ticks, NonNeg] = Field(description=f"$ of capex per tick, by tick ({DATE_HELP}).")


class ProductSchedule(Strict):
    """A designer's product mix from a date on (e.g. Hopper -> Blackwell): any field
    left out keeps its value (the designer's spec, or an earlier schedule's)."""

    designer: str = Field(description="Name of a designer.")
    date: Ticks = Field(description=f"First tick of this mix ({DATE_HELP}).")
    chips_per_wafer: PosRatio | None = Field(None, description="Good dies per wafer.")
    hbm_per_chip: PosRatio | None = Field(None, description="GB of HBM per chip.")
    chips_per_cowos_wafer: PosRatio | None = Field(
        None, description="Packages per CoWoS wafer-equivalent."
    )
    h100e_per_chip: PosRatio | None = Field(
        None, description="H100-equivalents of compute per chip."
    )
    unit_cost: NonNeg | None = Field(None, description="$ per chip on top of the inputs.")
    performance: PosRatio | None = Field(
        None, description="Realised compute per peak H100e, relative to Nvidia's chips."
    )


PRODUCT_FIELDS = ("chips_per_wafer", "hbm_per_chip", "chips_per_cowos_wafer", "h100e_per_chip",
                  "unit_cost", "performance")  # fmt: skip
"""The designer fields a ``ProductSchedule`` may change."""

LINE_GOODS: dict[str, tuple[str, ...]] = {
    "tool_makers": ("tools",),
    "fabs": ("wafer", "cowos"),
    "memory_makers": ("hbm",),
    "packagers": ("cowos",),
    "power_providers": ("power",),
    "network_makers": ("networking",),
    "dc_developers": ("shell",),
}
"""The capacity lines of each supplier section (a fab has 'cowos' only if it packages)."""


def check_generations(scenario: Scenario, i: int, d: DesignerSpec) -> None:
    """A designer's generations: unique names, one on sale at the start, make to order,
    no product schedule. Raises ``ValueError`` naming the field and the fix."""
    where = f"designers[{i}].generations"
    names = [g.name for g in d.generations]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: generation names repeat ({names}); give each a new name")
    if not any(g.launch == 0 and g.ramped > 0 for g in d.generations):
        raise ValueError(
            f"{where}: no generation is on sale at the start; give one launch = 0 and "
            "ramped > 0 (the oldest on sale: ramped = 1)"
        )
    if d.stock_ticks > 0:
        raise ValueError(
            f"{where}: a build-to-forecast designer (stock_ticks > 0) has one product; "
            "remove its generations or set stock_ticks = 0"
        )
    if any(p.designer == d.name for p in scenario.product_schedules):
        raise ValueError(
            f"{where}: product_schedules also name {d.name!r}; a designer's products "
            "come from its generations or from schedules, not both (set generations = [])"
        )


def check_history(scenario: Scenario) -> None:
    """Every schedule names an agent of the right kind and a line it has, and lies in
    the horizon. Raises ``ValueError`` naming the entry and field."""
    horizon = scenario.meta.horizon
    section_of = {spec.name: (sec, spec) for sec, spec in scenario.agent_specs()}
    for i, c in enumerate(scenario.capacity_schedules):
        where = f"capacity_schedules[{i}]"
        sec, spec = section_of.get(c.agent, (None, None))
        if sec not in LINE_GOODS:
            raise ValueError(
                f"{where}.agent: {c.agent!r} is not a fab, memory maker, packager, power "
                f"provider, network maker or data-centre developer; known suppliers: "
                f"{sorted(n for n, (s, _) in section_of.items() if s in LINE_GOODS)}"
            )
        goods = LINE_GOODS[sec]
        if sec == "fabs" and spec.cowos_capacity <= 0:
            goods = ("wafer",)
        if c.good not in goods:
            raise ValueError(
                f"{where}.good: {c.agent} has no {c.good!r} line (its lines: "
                f"{', '.join(goods)}); a fab packages only if its cowos_capacity > 0"
            )
        late = [t for t in c.add if t >= horizon]
        if late:
            raise ValueError(
                f"{where}.add: tick {min(late)} is outside the horizon (0..{horizon - 1})"
            )
    hypers = {h.name for h in scenario.hyperscalers}
    for i, b in enumerate(scenario.budget_paths):
        if b.hyperscaler not in hypers:
            raise ValueError(
                f"budget_paths[{i}].hyperscaler: unknown hyperscaler {b.hyperscaler!r}; "
                f"known: {sorted(hypers)}"
            )
        if not b.capex:
            raise ValueError(f"budget_paths[{i}].capex: give at least one quarter")
    seen = set()
    for i, b in enumerate(scenario.budget_paths):
        if b.hyperscaler in seen:
            raise ValueError(
                f"budget_paths[{i}].hyperscaler: {b.hyperscaler} has two paths; merge them"
            )
        seen.add(b.hyperscaler)
    designers = {d.name for d in scenario.designers}
    for i, p in enumerate(scenario.product_schedules):
        if p.designer not in designers:
            raise ValueError(
                f"product_schedules[{i}].designer: unknown designer {p.designer!r}; "
                f"known: {sorted(designers)}"
            )
        if p.date >= horizon:
            raise ValueError(
                f"product_schedules[{i}].date: tick {p.date} is outside the horizon "
                f"(0..{horizon - 1})"
            )


GRID_CLEAN_SHARE: dict[str, float] = {"US": 0.43, "CN": 0.38, "EU": 0.71}
"""Default share of each region's electricity from low-carbon sources (renewables and
nuclear), 2024: US 24.3% renewables (Ember electricity data) + ~18.6% nuclear (US EIA);
CN 33.4% renewables (Ember) + ~4.5% nuclear (China Electricity Council, via Ember); EU 71%
(Ember, Global Electricity Review 2025)."""

GRID_INTENSITY: dict[str, float] = {
    "US": 369.0, "TW": 642.0, "KR": 431.0, "CN": 582.0, "JP": 485.0, "EU": 281.0,
}  # fmt: skip
"""Default grid carbon intensity by region, g CO2e/kWh (Ember 2022 via Our World in Data;
EU: European Environment Agency, EU-27 2018)."""


class TokenTierSpec(Strict):
    """A model tier's inference throughput and task size, for cost per token and per task
    (the field's KPIs, ODD 7.16; by generation later: the tier's throughput is per
    H100e-second, so a generation's multiplier can scale it)."""

    name: str = Field(description="Model tier, e.g. 'small', 'large', 'reasoning'.")
    tokens_per_h100e_s: PosQuantity = Field(
        description="Generated tokens per H100e-second at full load (MLPerf-style offline "
        "throughput)."
    )
    tokens_per_task: PosQuantity = Field(
        description="Tokens generated (input + output) per completed task of this tier."
    )


TOKEN_TIERS: tuple[dict, ...] = (
    {"name": "small", "tokens_per_h100e_s": 16000.0, "tokens_per_task": 1000.0},
    {"name": "large", "tokens_per_h100e_s": 3200.0, "tokens_per_task": 2000.0},
    {"name": "reasoning", "tokens_per_h100e_s": 1200.0, "tokens_per_task": 50000.0},
)
"""Default model tiers (docs/data-sources.md, part "The field's KPIs"): large = Llama 2 70B,
~3.2k tokens/s per H100 (MLPerf v4.1/v5.1, B200 = 4x H100; PF §13); reasoning ~1.2k
(DeepSeek-R1 ~5.8k/GB300 over ~5 H100e per GB300, derived L); small 16k (estimate E: 8B
model ~5x 70B); tokens per task E (a chat reply 1k, a large-model answer 2k, an agentic
reasoning task 50k)."""


class TrafficSpec(Strict):
    """Inference traffic classes (ODD 7.19): premium and economy inference, their values,
    the hardware premium may use, and the share of premium that may fall back."""

    premium_share: Share = Field(
        0.0,
        description="Share of each lab's inference demand in the premium class "
        "(latency-sensitive, frontier models; it buys compute_premium); the rest is economy "
        "(buys compute with training). 0 = no traffic classes (one compute good).",
    )
    premium_value: PosRatio = Field(
        1.34,
        description="Premium value as a multiple of the lab's inference_value "
        "(dimensionless; $ per H100e-quarter = premium_value x inference_value).",
    )
    economy_value: PosRatio = Field(
        0.67,
        description="Economy value as a multiple of the lab's inference_value "
        "(dimensionless; at most premium_value). The defaults 1.34 and 0.67 keep OpenAI's "
        "Priority/standard vs batch ratio of 2 (PF §13) and the baseline's 2025 compute price.",
    )
    movable_share: Share = Field(
        0.3,
        description="Share of premium demand that may fall back to economy hardware when "
        "premium is scarce, worth the economy value there (it loses premium_value - "
        "economy_value times inference_value $ per H100e-quarter).",
    )
    premium_generations: Annotated[int, Field(ge=1, le=20), _WHOLE] = Field(
        2,
        description="Premium-eligible hardware: the N newest generations of each designer "
        "launched so far (a designer without generations: all of its fleet).",
    )

    @model_validator(mode="after")
    def _values(self) -> TrafficSpec:
        if self.economy_value > self.premium_value:
            raise ValueError(
                f"traffic.economy_value ({self.economy_value}) is above traffic.premium_value "
                f"({self.premium_value}); economy traffic must be worth at most premium's"
            )
        return self


class Scenario(Strict):
    """One world: agents with their starting state, contracts, routes, shocks."""

    meta: Meta
    behaviour: Behaviour = Behaviour()
    transport_cost: dict[Good, NonNeg] = Field(
        default_factory=dict, description="$ per unit moved between different regions, by good."
    )
    grid_intensity: dict[str, Ratio] = Field(
        default_factory=lambda: dict(GRID_INTENSITY),
        description="Carbon intensity of each region's grid, g CO2e per kWh (lifecycle, "
        "location-based), by region code; every hyperscaler's region needs one. A table "
        "given here replaces the default: US 369, TW 642, KR 431, CN 582, JP 485 (Ember "
        "yearly electricity data 2022, via Our World in Data), EU 281 (EU-27 2018, European "
        "Environment Agency; later years are lower).",
    )
    grid_clean_share: dict[str, Share] = Field(
        default_factory=lambda: dict(GRID_CLEAN_SHARE),
        description="Share of each region's grid electricity from low-carbon sources "
        "(renewables and nuclear), by region code; a clean_energy_share requirement above it "
        "is met by buying clean energy at behaviour.clean_energy_premium. A region without "
        "one counts as 0. Default (2024): US 0.43, CN 0.38, EU 0.71 (Ember; US EIA).",
    )
    permitting: dict[str, PermitFactor] = Field(
        default_factory=dict,
        description="Permitting and local opposition: multiplier (dimensionless, 1..10) on the "
        "lead time of new capacity a supplier (fab and its CoWoS line, memory maker, packager, "
        "power provider's grid connections, network maker, data-centre developer's shells) "
        "orders in a region, by region code; regions not "
        "listed have 1. Capacity ordered at tick t is ready at t + ceil(lead_time x "
        "multiplier x the factors of permitting_delay shocks in force).",
    )
    token_tiers: tuple[TokenTierSpec, ...] = Field(
        default_factory=lambda: tuple(TokenTierSpec(**t) for t in TOKEN_TIERS),
        description="Model tiers for cost per token and per task (ODD 7.16): name, tokens per "
        "H100e-second, tokens per task. A table given here replaces the default: small 16,000 "
        "tok/s and 1,000 tokens per task (estimate), large 3,200 and 2,000 (Llama 2 70B on "
        "H100, MLPerf), reasoning 1,200 and 50,000 (DeepSeek-R1 on GB300, derived).",
    )
    traffic: TrafficSpec = Field(
        default_factory=TrafficSpec,
        description="Inference traffic classes (ODD 7.19): premium share, class values, "
        "movable share, premium-eligible generations. Off by default (premium_share 0).",
    )
    token_speedups: dict[str, PosRatio] = Field(
        default_factory=dict,
        description="Tokens per H100e-second of a chip generation (by generation name) "
        "relative to the token_tiers figures (H100 = 1; dimensionless), for cost per token "
        "by generation (ODD 7.19); a generation not listed counts as 1.",
    )
    tool_makers: tuple[ToolMakerSpec, ...] = ()
    fabs: tuple[FabSpec, ...] = ()
    memory_makers: tuple[MemoryMakerSpec, ...] = ()
    packagers: tuple[PackagerSpec, ...] = ()
    designers: tuple[DesignerSpec, ...] = ()
    power_providers: tuple[PowerSpec, ...] = ()
    network_makers: tuple[NetworkMakerSpec, ...] = ()
    dc_developers: tuple[DCDeveloperSpec, ...] = ()
    hyperscalers: tuple[HyperscalerSpec, ...] = ()
    labs: tuple[LabSpec, ...] = ()
    dram_buyers: tuple[DramBuyerSpec, ...] = ()
    financiers: tuple[FinancierSpec, ...] = ()
    contracts: tuple[ContractSpec, ...] = ()
    spvs: tuple[SpvSpec, ...] = Field(
        (),
        description="Data-centre SPVs financing hyperscalers' shells and MW (ODD 7.18); "
        "[] leaves every tenant to its own balance sheet.",
    )
    routes: tuple[RouteSpec, ...] = ()
    shocks: tuple[ShockSpec, ...] = ()
    capacity_schedules: tuple[CapacitySchedule, ...] = ()
    budget_paths: tuple[BudgetPath, ...] = ()
    product_schedules: tuple[ProductSchedule, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _dates(cls, data: Any) -> Any:
        """Dates "YYYYQn" -> ticks (history block above)."""
        return convert_dates(data)

    def agent_specs(self) -> list[tuple[str, Strict]]:
        """(section, spec) for every agent, in file order by section."""
        out: list[tuple[str, Strict]] = []
        for section in (
            "tool_makers",
            "fabs",
            "memory_makers",
            "packagers",
            "designers",
            "power_providers",
            "network_makers",
            "dc_developers",
            "hyperscalers",
            "labs",
            "dram_buyers",
            "financiers",
        ):
            out += [(section, s) for s in getattr(self, section)]
        return out

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        names: dict[str, str] = {}
        for section, spec in self.agent_specs():
            if spec.name in names:
                raise ValueError(
                    f"{section}: agent name {spec.name!r} is used twice "
                    f"(also in {names[spec.name]}); names must be unique"
                )
            names[spec.name] = section
        kind_of = dict(names)
        tiers = [t.name for t in self.token_tiers]
        if len(set(tiers)) < len(tiers):
            twice = sorted({n for n in tiers if tiers.count(n) > 1})
            raise ValueError(f"token_tiers: tier name(s) {twice} used twice; names must be unique")
        designers = {d.name for d in self.designers}
        hypers = {h.name for h in self.hyperscalers}
        regions = {s.region for _, s in self.agent_specs()}
        for i, d in enumerate(self.designers):
            for h in d.captive_to:
                if h not in hypers:
                    raise ValueError(f"designers[{i}].captive_to: unknown hyperscaler {h!r}")
            for r in d.sells_to_regions:
                if r not in regions:
                    raise ValueError(
                        f"designers[{i}].sells_to_regions: unknown region {r!r} "
                        f"(regions: {sorted(regions)})"
                    )
            parent = next((e for e in self.designers if e.name == d.part_of), None)
            if d.part_of and (parent is None or parent.name == d.name or parent.part_of):
                raise ValueError(
                    f"designers[{i}].part_of: {d.part_of!r} is not another designer with a "
                    "line of its own; name the designer whose product line this is (not a "
                    "part itself), or leave it out"
                )
            if d.generations:
                check_generations(self, i, d)
            if d.stock_ticks > 0 and d.start_sales <= 0:
                raise ValueError(
                    f"designers[{i}].start_sales: a build-to-forecast designer (stock_ticks "
                    f"> 0) needs its first forecast; set start_sales > 0 (chips per tick)"
                )
        b = self.behaviour
        if b.demand_floor_steps > 0 and b.demand_floor_price < 1:
            for i, lab in enumerate(self.labs):
                for use in ("training", "inference"):
                    e = getattr(lab, f"{use}_elasticity")
                    if b.demand_floor_price**-e > MAX_RATIO:
                        raise ValueError(
                            f"labs[{i}].{use}_elasticity: {e} with behaviour."
                            f"demand_floor_price {b.demand_floor_price} means wanting "
                            f"{b.demand_floor_price**-e:.3g} times its demand at the floor "
                            f"(at most {MAX_RATIO:g}); lower the elasticity, raise "
                            "demand_floor_price towards 1, or set demand_floor_steps = 0"
                        )
        for i, h in enumerate(self.hyperscalers):
            for d in h.fleet:
                if d not in designers:
                    raise ValueError(f"hyperscalers[{i}].fleet: unknown designer {d!r}")
        for section, items in (("contracts", self.contracts), ("routes", self.routes)):
            for i, c in enumerate(items):
                for end in ("seller", "buyer"):
                    if getattr(c, end) not in names:
                        raise ValueError(
                            f"{section}[{i}].{end}: unknown agent {getattr(c, end)!r}; "
                            f"known agents are {sorted(names)}"
                        )
                if c.seller == c.buyer:
                    raise ValueError(f"{section}[{i}]: seller and buyer are the same agent")
        spv_names = set()
        for i, v in enumerate(self.spvs):
            if v.tenant not in hypers:
                raise ValueError(
                    f"spvs[{i}].tenant: {v.tenant!r} is not a hyperscaler; an SPV's anchor "
                    f"tenant is one of {sorted(hypers)}"
                )
            if v.name in names or v.name in spv_names:
                raise ValueError(
                    f"spvs[{i}].name: {v.name!r} is already used; give the SPV a name of its own"
                )
            spv_names.add(v.name)
        for i, c in enumerate(self.contracts):
            if c.start >= self.meta.horizon:
                raise ValueError(
                    f"contracts[{i}].start: tick {c.start} is outside the horizon "
                    f"(0..{self.meta.horizon - 1})"
                )
            if c.kind == "equity_for_compute" and (
                kind_of[c.seller] != "hyperscalers" or kind_of[c.buyer] != "labs"
            ):
                raise ValueError(
                    f"contracts[{i}]: equity_for_compute needs a hyperscaler seller and a lab buyer"
                )
            lease_of_accelerators = c.kind == "lease" and kind_of[c.seller] == "financiers"
            need = {
                "lease": ("financiers", "labs", "accelerator", "a financier lessor and a lab")
                if lease_of_accelerators
                else ("hyperscalers", "labs", "compute", "a hyperscaler lessor and a lab"),
                "backstop": ("hyperscalers", None, "compute", "a hyperscaler (the neocloud)"),
                "vendor_financing": ("designers", "labs", "accelerator", "a designer and a lab"),
            }.get(c.kind)
            if need is not None and (
                kind_of[c.seller] != need[0]
                or (need[1] is not None and kind_of[c.buyer] != need[1])
                or c.good != need[2]
            ):
                raise ValueError(
                    f"contracts[{i}]: {c.kind} needs {need[3]} as seller"
                    + (" and buyer" if need[1] else "")
                    + f", and good = {need[2]!r}"
                )
        for i, f in enumerate(self.financiers):
            for b in f.borrowers:
                if b not in names:
                    raise ValueError(f"financiers[{i}].borrowers: unknown agent {b!r}")
        for i, lab in enumerate(self.labs):
            for d in lab.fleet:
                if d not in designers:
                    raise ValueError(f"labs[{i}].fleet: unknown designer {d!r}")
        for i, s in enumerate(self.shocks):
            if s.start >= self.meta.horizon or s.end > self.meta.horizon:
                raise ValueError(
                    f"shocks[{i}]: window {s.start}..{s.end} is outside the horizon "
                    f"(0..{self.meta.horizon}); shorten it or lengthen meta.horizon"
                )
            if s.end <= s.start:
                raise ValueError(f"shocks[{i}].end: {s.end} must be after start {s.start}")
            if s.target and s.target not in names and s.target not in regions:
                raise ValueError(
                    f"shocks[{i}].target: {s.target!r} is neither an agent nor a region "
                    f"(regions: {sorted(regions)})"
                )
            for field in ("from_region", "to_region"):
                r = getattr(s, field)
                if r and r not in regions:
                    raise ValueError(f"shocks[{i}].{field}: unknown region {r!r}")
        builders = {s.region for sec, s in self.agent_specs() if sec in CAPACITY_BUILDERS}
        for r in self.permitting:
            if r not in builders:
                raise ValueError(
                    f"permitting.{r}: no fab, memory maker, packager, power provider, network "
                    f"maker or data-centre developer is in "
                    f"region {r!r} (regions with one: {sorted(builders)}); remove it"
                )
        for i, h in enumerate(self.hyperscalers):
            if h.region not in self.grid_intensity:
                raise ValueError(
                    f"hyperscalers[{i}].region: no grid_intensity for region {h.region!r} "
                    f"(regions with one: {sorted(self.grid_intensity)}); add "
                    f"grid_intensity.{h.region} in g CO2e/kWh"
                )
        for i, h in enumerate(self.hyperscalers):
            if h.networking_per_h100e > 0 and not self.network_makers:
                raise ValueError(
                    f"hyperscalers[{i}].networking_per_h100e: {h.name} needs networking for "
                    "every install but the scenario has no [[network_makers]]; add one or "
                    "set networking_per_h100e = 0"
                )
            if h.shells and not self.dc_developers:
                raise ValueError(
                    f"hyperscalers[{i}].shells: {h.name} needs a data-centre shell for every "
                    "new MW but the scenario has no [[dc_developers]]; add one or set "
                    "shells = false"
                )
        check_tools(self)
        check_shocks(self)
        check_contract_routes(self)
        check_history(self)
        return self


# ------------------------------------------------------------------ meaning checks

CAPACITY_HOLDERS = (
    "tool_makers", "fabs", "memory_makers", "packagers", "power_providers", "network_makers",
    "dc_developers", "hyperscalers",
)  # fmt: skip
"""Sections whose capacity and capex a shock can scale (the suppliers and hyperscalers)."""
CAPACITY_BUILDERS = (
    "tool_makers", "fabs", "memory_makers", "packagers", "power_providers", "network_makers",
    "dc_developers",
)  # fmt: skip
"""Sections that order new capacity with a lead time (``Supplier.expand``)."""

SHOCK_FIELDS: dict[str, tuple[str, ...]] = {
    "outage": ("target", "factor"),
    "capacity_drop": ("target", "factor"),
    "power_shortage": ("target", "factor"),
    "demand_bust": ("target", "factor"),
    "subsidy": ("target", "factor"),
    "export_control": ("from_region", "to_region", "goods", "factor"),
    "tariff": ("from_region", "to_region", "goods", "factor"),
    "contract_cap": ("factor",),
    "carbon_price": ("target", "factor"),
    "permitting_delay": ("target", "factor"),
    "dram_demand": ("target", "factor"),
    "clean_energy_share": ("target", "factor"),
}
"""The fields each shock kind reads besides kind, start and end (``market.shocks.policy_at``)."""

SHOCK_SECTIONS: dict[str, tuple[str, ...]] = {
    "outage": CAPACITY_HOLDERS,
    "capacity_drop": CAPACITY_HOLDERS,
    "power_shortage": ("power_providers",),
    "demand_bust": ("labs",),
    "subsidy": CAPACITY_HOLDERS,
    "carbon_price": ("hyperscalers",),
    "permitting_delay": CAPACITY_BUILDERS,
    "dram_demand": ("dram_buyers",),
    "clean_energy_share": ("hyperscalers",),
}
"""The sections whose agents a targeted shock kind can affect (others ignore it)."""

SHARE_FACTOR = ("export_control", "contract_cap", "clean_energy_share")
"""Kinds whose factor is a share (0..1: of capacity, or clean_energy_share's of energy);
tariff's is $ per unit, carbon_price's $ per t CO2e; others multiply."""
MONEY_FACTOR = ("tariff", "carbon_price")
"""Kinds whose factor is $ per unit (a good's unit; t CO2e)."""
MAX_CARBON_PRICE = 1e4
"""Largest carbon price, $ per t CO2e (about 50x the highest price in force, 2025)."""


TOOL_USERS = ("fabs", "memory_makers", "packagers")
"""Sections whose new capacity can need tools (``ToolUser``); tool makers sell to them."""


def check_tools(scenario: Scenario) -> None:
    """A scenario whose lines need tools has a tool maker to buy them from (otherwise no
    expansion could ever be built). Raises ``ValueError`` naming the field."""
    if scenario.tool_makers:
        return
    for section in TOOL_USERS:
        for i, spec in enumerate(getattr(scenario, section)):
            for field in ("tools_per_unit", "cowos_tools_per_unit"):
                if getattr(spec, field, 0.0) > 0:
                    raise ValueError(
                        f"{section}[{i}].{field}: {spec.name}'s new capacity needs tools but "
                        "the scenario has no [[tool_makers]]; add one or set the field to 0"
                    )


def check_shocks(scenario: Scenario) -> None:
    """Every shock sets only the fields its kind reads, aims at agents it can affect, and
    has a factor its kind can use. Raises ``ValueError`` naming the shock and field."""
    specs = scenario.agent_specs()
    for i, s in enumerate(scenario.shocks):
        reads = SHOCK_FIELDS[s.kind]
        for name in ("target", "goods", "from_region", "to_region"):
            if name not in reads and getattr(s, name) != ShockSpec.model_fields[name].default:
                raise ValueError(
                    f"shocks[{i}].{name}: {s.kind} ignores {name}; it reads "
                    f"{', '.join(reads)}; remove {name}"
                )
        if s.kind in SHARE_FACTOR and s.factor > 1:
            raise ValueError(
                f"shocks[{i}].factor: {s.kind}'s factor is a share of "
                f"{'energy' if s.kind == 'clean_energy_share' else 'capacity'}, 0..1 "
                f"(got {s.factor})"
            )
        if s.kind == "carbon_price" and s.factor > MAX_CARBON_PRICE:
            raise ValueError(
                f"shocks[{i}].factor: carbon_price's factor is $ per t CO2e; it must be <= "
                f"{_bound_number(MAX_CARBON_PRICE)} (got {s.factor})"
            )
        if s.kind == "permitting_delay" and not 1 <= s.factor <= MAX_PERMIT_FACTOR:
            raise ValueError(
                f"shocks[{i}].factor: permitting_delay's factor multiplies lead times; it must "
                f"be in 1..{_bound_number(MAX_PERMIT_FACTOR)} (got {s.factor})"
            )
        if s.kind not in SHARE_FACTOR + MONEY_FACTOR and s.factor > MAX_RATIO:
            raise ValueError(
                f"shocks[{i}].factor: {s.kind}'s factor multiplies; it must be <= "
                f"{_bound_number(MAX_RATIO)} (got {s.factor})"
            )
        sections = SHOCK_SECTIONS.get(s.kind)
        if sections is None:
            continue
        hit = [
            spec.name
            for sec, spec in specs
            if sec in sections and (not s.target or s.target in (spec.name, spec.region))
        ]
        if not hit:
            own = [sec for sec, spec in specs if spec.name == s.target]
            what = f"{s.target!r} is in {own[0]}" if own else f"region {s.target!r} has none"
            if not s.target:
                what = "the scenario has none"
            raise ValueError(
                f"shocks[{i}].target: {s.kind} affects only {', '.join(sections)}, and "
                f"{what}; aim it at one of those agents or at a region where they are"
            )


def check_contract_routes(scenario: Scenario) -> None:
    """Every contract that delivers (all but backstops and vendor financing) has a route
    for its seller, buyer and good (the default routes of ``market.network`` plus
    ``routes``); otherwise it could never deliver."""
    if not scenario.contracts:
        return
    from market.network import build_network  # network imports this module

    graph = build_network(scenario)
    for i, c in enumerate(scenario.contracts):
        if c.kind in ("backstop", "vendor_financing") or (
            c.kind == "lease" and c.good == "accelerator"
        ):
            continue  # they deliver nothing along a route (ODD 7.17)
        if graph.has_edge(c.seller, c.buyer, key=c.good):
            if graph.edges[c.seller, c.buyer, c.good]["capacity"] > 0:
                continue
            raise ValueError(
                f"contracts[{i}]: the route for {c.good} from {c.seller!r} to {c.buyer!r} has "
                "capacity 0 in [[routes]], so the contract could never deliver; raise that "
                "route's capacity or remove the contract"
            )
        sells = sorted({good for _, _, good in graph.out_edges(c.seller, keys=True)})
        raise ValueError(
            f"contracts[{i}]: no route for {c.good} from {c.seller!r} to {c.buyer!r} "
            f"({c.seller} sells {', '.join(sells) or 'nothing'} on its default routes, each "
            "only within one cluster); fix seller, buyer or good, or add a [[routes]] entry "
            "with this seller, buyer and good"
        )
