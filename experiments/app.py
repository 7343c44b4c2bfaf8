"""The dashboard: a Mesa-based Solara page over one scenario file (``aimarket dashboard``).

The scenario file is the base. The sidebar's *Levers* card changes a draft of it
(behaviour rules, demand growth, policies added as shocks); every lever shows its
value, and a lever whose draft differs from what the running model uses is marked.
Nothing changes the model until *Apply*, which builds a new model from the draft
(back at tick 0); *Reset levers* puts every lever back to the scenario's value and
rebuilds the model from the file. Mesa's controls (*Reset*, play, *Step*) run the
model with the applied levers: *Reset* restarts the run.

The page (its title is the scenario's name) shows the tick and date, the applied
levers, the supply network with this tick's flows (edge width: units relative to
the good's largest flow; colour: the buyer's nodal price relative to the good's
mean), and live charts built from ``model.tables()``: prices per good ($ per
unit, log scale) with the latest prices as text, labs' unmet demand
(H100e-quarters per tick), and lock-in (mean contract coverage and the market HHI
per good). Each chart is drawn once per tick and model, never on a lever move.

Run it with :func:`serve` (blocking), or with ``solara run experiments.app`` and
the scenario path in the environment variable ``AIMARKET_SCENARIO``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ComponentsView, ModelController

from experiments.outputs.plots import draw_network
from experiments.scenarios import load_scenario, validate_scenario, with_overrides
from market.goods import GOODS
from market.model import MarketModel
from market.scenario import Scenario

__all__ = [
    "SCENARIO_ENV",
    "DashboardModel",
    "Levers",
    "Page",
    "applied_levers",
    "dashboard_scenario",
    "latest_prices",
    "lever_defaults",
    "model_params",
    "serve",
]

SCENARIO_ENV = "AIMARKET_SCENARIO"
"""Environment variable holding the scenario file the page starts from."""

DEFAULT_SCENARIO = Path(__file__).parent / "scenarios" / "baseline.toml"

# Export controls as in scenarios/export_controls.toml: nothing controlled moves to China.
EXPORT_CONTROLS = (
    ("US", "CN", ("accelerator", "wafer", "hbm", "cowos")),
    ("TW", "CN", ("accelerator", "wafer", "hbm", "cowos")),
    ("KR", "CN", ("hbm", "wafer")),
)


# ---------------------------------------------------------------- the scenario


@dataclass(frozen=True, slots=True)
class Levers:
    """What the dashboard's sidebar changes in a scenario. ``None`` keeps the file's value.

    Attributes
    ----------
    foresight, contract_share, switching_cost:
        ``behaviour`` rules (shares, see ``market.scenario.Behaviour``).
    demand_growth:
        Multiplier on every lab's ``training_growth`` and ``inference_growth``
        (per year; 1 = as in the file, 0 = flat demand).
    taiwan_outage:
        Adds an outage of region TW (factor 0) for ticks
        ``outage_start <= t < outage_start + outage_ticks`` (cut at the horizon).
    export_controls:
        Adds export controls to China from ``export_start`` to the horizon, as in
        ``scenarios/export_controls.toml``.
    contract_cap:
        Share of a supplier's capacity one buyer may hold under contract, for the
        whole horizon; 1 (or ``None``) adds no cap.
    """

    foresight: float | None = None
    contract_share: float | None = None
    switching_cost: float | None = None
    demand_growth: float = 1.0
    taiwan_outage: bool = False
    outage_start: int = 8
    outage_ticks: int = 5
    export_controls: bool = False
    export_start: int = 4
    contract_cap: float | None = None


def dashboard_scenario(base: Scenario, levers: Levers) -> Scenario:
    """``base`` with the levers applied; policies are added to its shocks.

    Raises ``experiments.scenarios.ScenarioError`` if the result is invalid.
    """
    overrides: dict[str, Any] = {
        f"behaviour.{name}": value
        for name in ("foresight", "contract_share", "switching_cost")
        if (value := getattr(levers, name)) is not None
    }
    if levers.demand_growth != 1.0:
        for i, lab in enumerate(base.labs):
            for name in ("training_growth", "inference_growth"):
                grown = getattr(lab, name) * levers.demand_growth
                overrides[f"labs[{i}].{name}"] = max(-1.0, grown)
    scenario = with_overrides(base, overrides) if overrides else base

    horizon = scenario.meta.horizon
    shocks: list[dict[str, Any]] = []
    if levers.taiwan_outage:
        start = min(max(levers.outage_start, 0), horizon - 1)
        end = min(start + max(levers.outage_ticks, 1), horizon)
        shocks.append({"kind": "outage", "start": start, "end": end, "target": "TW", "factor": 0.0})
    if levers.export_controls:
        start = min(max(levers.export_start, 0), horizon - 1)
        for src, dst, goods in EXPORT_CONTROLS:
            shocks.append(
                {
                    "kind": "export_control",
                    "start": start,
                    "end": horizon,
                    "from_region": src,
                    "to_region": dst,
                    "goods": goods,
                    "factor": 0.0,
                }
            )
    if levers.contract_cap is not None and levers.contract_cap < 1.0:
        shocks.append(
            {"kind": "contract_cap", "start": 0, "end": horizon, "factor": levers.contract_cap}
        )
    if not shocks:
        return scenario
    data = scenario.model_dump(mode="python")
    data["shocks"] = [*data["shocks"], *shocks]
    return validate_scenario(data, "dashboard")


def scenario_path() -> str:
    """The scenario file the page starts from: ``$AIMARKET_SCENARIO`` or the baseline."""
    return os.environ.get(SCENARIO_ENV) or str(DEFAULT_SCENARIO)


class DashboardModel(MarketModel):
    """``MarketModel`` built from a scenario file and the sidebar's keyword arguments.

    Mesa's SolaraViz re-creates the model on *Reset* from keyword arguments only;
    the parameters are those of :class:`Levers` plus the file and the seed. The
    model stops (``running = False``) at the scenario's horizon.
    """

    def __init__(
        self,
        scenario_path: str = str(DEFAULT_SCENARIO),
        seed: int = 0,
        foresight: float | None = None,
        contract_share: float | None = None,
        switching_cost: float | None = None,
        demand_growth: float = 1.0,
        taiwan_outage: bool = False,
        outage_start: int = 8,
        outage_ticks: int = 5,
        export_controls: bool = False,
        export_start: int = 4,
        contract_cap: float | None = None,
    ) -> None:
        levers = Levers(
            foresight=foresight,
            contract_share=contract_share,
            switching_cost=switching_cost,
            demand_growth=demand_growth,
            taiwan_outage=bool(taiwan_outage),
            outage_start=int(outage_start),
            outage_ticks=int(outage_ticks),
            export_controls=bool(export_controls),
            export_start=int(export_start),
            contract_cap=contract_cap,
        )
        base = load_scenario(scenario_path)
        world = dashboard_scenario(base, levers)
        super().__init__(world, seed=int(seed))
        self.base = base
        self.scenario_path = scenario_path
        self.levers = levers

    def step(self) -> None:
        """One tick; nothing (and ``running = False``) once the horizon is reached."""
        if self.tick < self.world.meta.horizon:
            super().step()
        self.running = self.tick < self.world.meta.horizon


def model_params(base: Scenario, path: str) -> dict[str, Any]:
    """The sidebar's inputs (Mesa's ``model_params`` format), defaults from the scenario ``base``.

    ``scenario_path`` is fixed; every other entry is a lever: a dict with ``type``
    (``SliderFloat``, ``SliderInt`` or ``Checkbox``), ``label``, ``value`` and, for
    sliders, ``min``, ``max`` and ``step``.
    """
    b = base.behaviour
    last = base.meta.horizon - 1

    def slider(label: str, value: float, lo: float, hi: float, step: float) -> dict:
        return {
            "type": "SliderFloat",
            "label": label,
            "value": value,
            "min": lo,
            "max": hi,
            "step": step,
        }

    def int_slider(label: str, value: int, lo: int, hi: int) -> dict:
        return {
            "type": "SliderInt",
            "label": label,
            "value": value,
            "min": lo,
            "max": hi,
            "step": 1,
        }

    return {
        "scenario_path": path,
        "seed": int_slider("Seed", 0, 0, 99),
        "foresight": slider("Foresight (EMA weight)", b.foresight, 0.0, 1.0, 0.05),
        "contract_share": slider("Contract share of need", b.contract_share, 0.0, 1.0, 0.05),
        "switching_cost": slider(
            "Switching cost (share of price)", b.switching_cost, 0.0, 1.0, 0.05
        ),
        "demand_growth": slider("Demand growth x", 1.0, 0.0, 3.0, 0.1),
        "taiwan_outage": {"type": "Checkbox", "label": "Taiwan outage", "value": False},
        "outage_start": int_slider("Outage start (tick)", min(8, last), 0, last),
        "outage_ticks": int_slider("Outage length (ticks)", 5, 1, 12),
        "export_controls": {"type": "Checkbox", "label": "Export controls to CN", "value": False},
        "export_start": int_slider("Export controls from (tick)", min(4, last), 0, last),
        "contract_cap": slider("Contract cap (share of capacity; 1 = none)", 1.0, 0.05, 1.0, 0.05),
    }


def lever_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The ``DashboardModel`` keyword arguments of ``model_params``' defaults (scenario values)."""
    return {k: v["value"] if isinstance(v, dict) else v for k, v in params.items()}


def applied_levers(levers: Levers, base: Scenario) -> str:
    """What ``levers`` change in ``base``, in words ("scenario values" if nothing)."""
    out = []
    b = base.behaviour
    for name, label in (
        ("foresight", "foresight"),
        ("contract_share", "contract share"),
        ("switching_cost", "switching cost"),
    ):
        value = getattr(levers, name)
        if value is not None and not np.isclose(value, getattr(b, name)):
            out.append(f"{label} {value:.2f}")
    if not np.isclose(levers.demand_growth, 1.0):
        out.append(f"demand growth x{levers.demand_growth:.1f}")
    if levers.taiwan_outage:
        out.append(f"Taiwan outage from tick {levers.outage_start} for {levers.outage_ticks}")
    if levers.export_controls:
        out.append(f"export controls to CN from tick {levers.export_start}")
    if levers.contract_cap is not None and levers.contract_cap < 1.0:
        out.append(f"contract cap {levers.contract_cap:.2f}")
    return "; ".join(out) or "scenario values"


def _lever_text(spec: dict[str, Any], value: Any) -> str:
    """A lever's value as shown next to it."""
    if spec["type"] == "Checkbox":
        return "on" if value else "off"
    if spec["type"] == "SliderInt":
        return str(int(value))
    return f"{float(value):.2f}"


# ---------------------------------------------------------------- the pictures


def _figure(width: float, height: float, **margins: float) -> Figure:
    """A figure with fixed margins (a constrained layout doubles the drawing time)."""
    fig = Figure(figsize=(width, height), dpi=80)
    fig.subplots_adjust(**{"left": 0.1, "right": 0.97, "top": 0.9, "bottom": 0.15, **margins})
    return fig


def _no_data(ax, text: str = "no ticks yet: press Step") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")


def _tick_axis(ax, model: MarketModel) -> None:
    """x axis: ticks run so far (integers)."""
    ax.set_xlim(-0.6, max(model.tick, 4) - 0.4)
    ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("tick")


def _column(table: dict[str, list], name: str) -> np.ndarray:
    return np.asarray(table.get(name, []))


def network_figure(model: MarketModel) -> Figure:
    """The supply network at the current tick (``experiments.outputs.plots.draw_network``)."""
    fig = _figure(7.5, 4.6, left=0.01, right=0.99, top=0.93, bottom=0.1)
    ax = fig.subplots()
    nodes = {n: (d["type"], d["region"]) for n, d in model.graph.nodes(data=True)}
    prices = model.clearing.prices if model.clearing is not None else {}
    draw_network(ax, nodes, model.flows, prices)
    if not model.flows:
        _no_data(ax, "no flows yet: press Step")
    return fig


def prices_figure(model: MarketModel) -> Figure:
    """Price per good ($ per unit of the good, volume-weighted over spot trades; log scale)."""
    fig = _figure(6.0, 3.4, left=0.13)
    ax = fig.subplots()
    table = model.tables()["prices"]
    ticks, goods, price = (_column(table, c) for c in ("tick", "good", "price"))
    for good in GOODS:
        sel = (goods == good) & np.isfinite(price.astype(float)) & (price.astype(float) > 0)
        if sel.any():
            ax.plot(ticks[sel], price[sel], label=good)
    ax.set_yscale("log")
    ax.yaxis.set_minor_locator(mpl.ticker.NullLocator())
    _tick_axis(ax, model)
    ax.set_ylabel("$ per unit")
    ax.set_title("Prices per good", fontsize=10)
    if len(ticks):
        ax.legend(fontsize=7, ncol=3)
    else:
        _no_data(ax)
    return fig


def unmet_figure(model: MarketModel) -> Figure:
    """Labs' unmet demand (million H100e-quarters per tick), stacked by lab."""
    fig = _figure(6.0, 3.4, right=0.75)
    ax = fig.subplots()
    table = model.tables()["agents"]
    kind, agent, ticks, unmet = (_column(table, c) for c in ("type", "agent", "tick", "unmet"))
    labs = kind == "Lab"
    names = list(dict.fromkeys(agent[labs]))
    xs = np.unique(ticks[labs])
    if names and len(xs):
        bottom = np.zeros(len(xs))
        for name in names:
            sel = labs & (agent == name)
            series = dict(zip(ticks[sel], unmet[sel].astype(float)))
            ys = np.array([np.nan_to_num(series.get(t, 0.0)) / 1e6 for t in xs])
            ax.bar(xs, ys, bottom=bottom, width=0.9, label=name)
            bottom += ys
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    else:
        _no_data(ax)
    _tick_axis(ax, model)
    ax.set_xlabel("tick")
    ax.set_ylabel("M H100e-quarters")
    ax.set_title("Labs' unmet demand", fontsize=10)
    return fig


def lockin_figure(model: MarketModel) -> Figure:
    """Lock-in: mean contract coverage (share of units received under contract) and the
    market HHI of sellers per good (0-10,000)."""
    fig = _figure(6.0, 3.4, left=0.08, wspace=0.35)
    ax_cov, ax_hhi = fig.subplots(1, 2)
    tables = model.tables()
    cov = tables["coverage"]
    cov_ticks, coverage = _column(cov, "tick"), _column(cov, "coverage").astype(float)
    xs = np.unique(cov_ticks)
    if len(xs):
        ax_cov.plot(xs, [np.nanmean(coverage[cov_ticks == t]) for t in xs])
    else:
        _no_data(ax_cov)
    ax_cov.set_ylim(0, 1)
    ax_cov.set_title("Contract coverage (mean)", fontsize=9)
    _tick_axis(ax_cov, model)
    conc = tables["concentration"]
    buyer, good, ticks = (_column(conc, c) for c in ("buyer", "good", "tick"))
    hhi = _column(conc, "supplier_hhi").astype(float)
    market = buyer == "*"
    for g in GOODS:
        sel = market & (good == g)
        if sel.any():
            ax_hhi.plot(ticks[sel], hhi[sel], label=g)
    if market.any():
        ax_hhi.legend(fontsize=6)
    else:
        _no_data(ax_hhi, "")
    ax_hhi.set_ylim(0, 10_500)
    ax_hhi.set_title("Market HHI of sellers", fontsize=9)
    _tick_axis(ax_hhi, model)
    return fig


# ---------------------------------------------------------------- the page


def latest_prices(model: MarketModel) -> str:
    """The last tick's price per good ($ per unit) as text, "" before the first tick.

    E.g. "2025Q1: wafer $21,600; hbm $14.7; ...": the data the price chart shows.
    """
    table = model.tables()["prices"]
    ticks, goods, price = (_column(table, c) for c in ("tick", "good", "price"))
    if not len(ticks):
        return ""
    last = ticks.max()
    parts = []
    for good in GOODS:
        sel = (ticks == last) & (goods == good)
        if sel.any():
            p = float(price[sel][0])
            shown = "n/a" if not np.isfinite(p) else f"${p:,.0f}" if p >= 100 else f"${p:.3g}"
            parts.append(f"{good} {shown}")
    return f"{model.date(int(last))}: " + "; ".join(parts)


def NetworkView(model: MarketModel):
    """Ticks run, the date shown, the applied levers, active shocks and the network.

    "Tick N" counts the ticks run; the pictures show the last of them, tick N - 1.
    """
    meta = model.world.meta
    shown = f"showing {model.date(model.tick - 1)}" if model.tick > 0 else "not started"
    shocks = ", ".join(model.policy.active) if model.tick > 0 else ""
    levers = getattr(model, "levers", None)
    base = getattr(model, "base", model.world)
    fig = solara.use_memo(lambda: network_figure(model), [model, model.tick])
    with solara.Column(classes=["aimarket-network"]) as main:
        with solara.Row():
            solara.Text(
                f"Tick {model.tick}",
                classes=["aimarket-tick"],
                style={"font-weight": "bold", "font-size": "1.2em"},
            )
            solara.Text(
                f"{shown} · {meta.name} · horizon {meta.horizon} ticks", classes=["aimarket-date"]
            )
        if levers is not None:
            solara.Text(
                f"Levers in this run: {applied_levers(levers, base)}",
                classes=["aimarket-applied"],
            )
        solara.Text(f"Active shocks: {shocks or 'none'}", classes=["aimarket-shocks"])
        solara.FigureMatplotlib(fig, dependencies=[model, model.tick], format="png")
    return main


def _chart(name: str, make, caption=None):
    def Chart(model: MarketModel):
        fig = solara.use_memo(lambda: make(model), [model, model.tick])
        with solara.Column(classes=["aimarket-chart", f"aimarket-{name}"]) as main:
            solara.FigureMatplotlib(fig, dependencies=[model, model.tick], format="png")
            if caption is not None:
                solara.Text(caption(model), classes=[f"aimarket-{name}-data"])
        return main

    Chart.__name__ = f"{name.title()}Chart"
    return Chart


COMPONENTS = [
    (NetworkView, 0),
    (_chart("prices", prices_figure, latest_prices), 0),
    (_chart("unmet", unmet_figure), 0),
    (_chart("lockin", lockin_figure), 0),
]


@solara.component
def LeverPanel(
    params: dict[str, Any],
    draft: solara.Reactive[dict[str, Any]],
    applied: solara.Reactive[dict[str, Any]],
    on_apply,
    on_reset,
    error: str | None,
):
    """The levers with their values, a note of unapplied changes, and Apply / Reset levers."""
    pending = [k for k in draft.value if draft.value[k] != applied.value.get(k)]
    for name, spec in params.items():
        if not isinstance(spec, dict):
            continue
        value = draft.value[name]

        def set_value(v, name=name):
            draft.value = {**draft.value, name: v}

        with solara.Column(classes=["aimarket-lever", f"aimarket-lever-{name}"], gap="0px"):
            if spec["type"] == "Checkbox":
                solara.Checkbox(label=spec["label"], value=bool(value), on_value=set_value)
            else:
                slider = solara.SliderFloat if spec["type"] == "SliderFloat" else solara.SliderInt
                slider(
                    spec["label"],
                    value=value,
                    min=spec["min"],
                    max=spec["max"],
                    step=spec["step"],
                    on_value=set_value,
                )
            text = _lever_text(spec, value)
            if name in pending:
                text += f" (running: {_lever_text(spec, applied.value.get(name))})"
            solara.Text(text, classes=["aimarket-lever-value"], style={"font-size": "0.85em"})
    if pending:
        solara.Text(
            f"{len(pending)} change(s) not applied: Apply restarts the model at tick 0",
            classes=["aimarket-pending"],
            style={"color": "#b26a00"},
        )
    else:
        solara.Text("The model runs with these values", classes=["aimarket-pending"])
    with solara.Row(justify="space-between"):
        solara.Button("Apply", color="primary", on_click=on_apply, disabled=not pending)
        solara.Button("Reset levers", outlined=True, on_click=on_reset)
    if error:
        solara.Error(error)


@solara.component
def Page():
    """The dashboard over ``$AIMARKET_SCENARIO`` (one model per browser session).

    Levers change a draft; *Apply* builds the model from it, *Reset levers* from the
    scenario file; Mesa's *Reset* restarts the run with the applied levers.
    """
    path = scenario_path()
    base = solara.use_memo(lambda: load_scenario(path), [path])
    params = solara.use_memo(lambda: model_params(base, path), [base, path])
    defaults = lever_defaults(params)
    draft = solara.use_reactive(solara.use_memo(lambda: dict(defaults), [path]))
    applied = solara.use_reactive(solara.use_memo(lambda: dict(defaults), [path]))
    model = solara.use_reactive(solara.use_memo(lambda: DashboardModel(**defaults), [path]))
    error = solara.use_reactive(None)
    play_interval = solara.use_reactive(150)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)

    def build(kwargs: dict[str, Any]) -> None:
        try:
            new = DashboardModel(**kwargs)
        except Exception as exc:  # an invalid combination of levers: say so, keep the model
            error.value = f"Not applied: {exc}"
            return
        error.value = None
        applied.value = dict(kwargs)
        model.value = new

    def on_apply() -> None:
        build(draft.value)

    def on_reset() -> None:
        draft.value = dict(defaults)
        build(defaults)

    meta = base.meta
    title = f"{meta.name}: {meta.description}" if meta.description else meta.name
    solara.Title(f"{meta.name} · aimarket")
    with solara.AppBar():
        solara.AppBarTitle(title)
    with solara.Sidebar(), solara.Column():
        with solara.Card("Run"):
            # Keyed by the model: a new model (Apply) gets fresh play/stop state.
            ModelController(
                model,
                model_parameters=applied,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            ).key(f"controller-{id(model.value)}")
        with solara.Card("Levers"):
            LeverPanel(params, draft, applied, on_apply, on_reset, error.value)
    ComponentsView(COMPONENTS, model.value)


# ---------------------------------------------------------------- the server


def serve(scenario_path: str, port: int, host: str = "127.0.0.1") -> None:
    """Serve the dashboard for ``scenario_path`` at ``http://host:port/``; blocks until stopped.

    Runs Solara's server (uvicorn) in this process, in production mode, without
    opening a browser, checking PyPI for a newer Solara, or sending telemetry.
    Ctrl-C (or SIGTERM) stops it. Raises ``ScenarioError`` at once if the
    scenario file is invalid.
    """
    path = Path(scenario_path).resolve()
    load_scenario(path)
    os.environ[SCENARIO_ENV] = str(path)
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "false"
    import solara.server.settings as solara_settings
    from solara.__main__ import cli as solara_cli

    solara_settings.telemetry.mixpanel_enable = False
    args = ["run", "experiments.app", "--host", host, "--port", str(port)]
    args += ["--production", "--no-open", "--no-check-version"]
    solara_cli(args, standalone_mode=False)
