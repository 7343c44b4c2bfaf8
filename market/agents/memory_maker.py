"""Memory maker: HBM and conventional DRAM from one pool of DRAM wafer starts (ODD 7.12).

Lines: ``hbm`` (GB/tick; its capacity is the TSV stacking line, ``spec.capacity``) and,
with a wafer pool (``spec.wafers`` > 0), ``dram`` (GB/tick). Each tick, before orders
(``prepare``), with W the wafer starts available (pool x capacity factor), it puts x
wafers into HBM and W - x into DRAM:

    top   = min(W, TSV line available / g_h)
    floor = min(top, HBM GB due this tick under its contracts / g_h)   (contracts first)
    r     = (m_h - m_d) / (|m_h| + |m_d|)      (0 when both are 0)
    x_t   = clip(x_{t-1} + wafer_shift x W x r, floor, top)

where m_h = g_h (p_h - c_h) and m_d = g_d (p_d - c_d) are its margins per wafer ($)
on HBM and DRAM, p the price it was paid (EMA, ``Line.price_ema``: contracted HBM at
its contract price), or its list price before it has sold, c the unit costs ($/GB)
and g the GB per wafer (g = g0 (1 + hbm/dram_gb_growth)^years, node migration; the
DRAM unit cost is c_d0 g_d0 / g_d: a wafer costs the same on a finer node). The first
tick starts from x = top. HBM available = x g_h, DRAM available = (W - x) g_d; both lines
mark up and settle as any supplier's (``Supplier``), HBM asks in its two steps and
DRAM all at its list price (a commodity: the buyers' curve sets its price when supply
is short), so the clearing never uses more wafers than the pool.

Capacity: the TSV line expands by the supplier rule (``Supplier._maybe_expand``) only
when it, not the wafers, limits HBM; designers' reservations expand it too. The pool
expands when the EMA of its utilisation (wafers used / W) reaches
``expansion_trigger`` and the margin per wafer a new wafer would earn (m_d if HBM is
at its TSV line, else max(m_h, m_d)) x ``payback_ticks`` covers ``wafer_capex``:
``expansion_step`` x the pool, ready after ``wafer_lead_time`` (x permitting).
Without a pool it makes HBM only, as a single-line supplier.
"""

from __future__ import annotations

from market.agents.base import ema
from market.agents.supplier import Line, Supplier
from market.scenario import MemoryMakerSpec


class MemoryMaker(Supplier):
    GOOD = "hbm"

    def __init__(self, model, spec: MemoryMakerSpec) -> None:
        lines = [Line.from_spec("hbm", spec)]
        if spec.wafers > 0:
            lines.append(
                Line(
                    "dram", spec.wafers * spec.dram_gb_per_wafer, spec.dram_unit_cost, 0.0,
                    spec.wafer_lead_time, spec.dram_markup, min_markup=spec.dram_min_markup,
                )
            )  # fmt: skip
        super().__init__(model, spec.name, spec.region, spec.cash, lines)
        self.spec = spec
        # The wafer pool (wafers/tick); not in ``lines``: it is not sold, it is split.
        self.pool = Line(
            "dram_wafer", spec.wafers, 0.0, spec.wafer_capex, spec.wafer_lead_time, 0.0
        )
        self.hbm_wafers: float | None = None  # x: wafers into HBM this tick
        self.wafers_available = 0.0  # W
        self.wafers_used = 0.0  # HBM GB sold / g_h + DRAM GB sold / g_d, this tick

    @property
    def has_pool(self) -> bool:
        return self.spec.wafers > 0

    def _years(self) -> float:
        return self.model.tick / self.model.world.meta.ticks_per_year

    def dram_gb_per_wafer(self) -> float:
        """g_d this tick: GB of DRAM per wafer, grown by node migration."""
        return self.spec.dram_gb_per_wafer * (1 + self.spec.dram_gb_growth) ** self._years()

    def hbm_gb_per_wafer(self) -> float:
        """g_h this tick: GB of HBM per wafer, grown by node migration."""
        return self.spec.hbm_gb_per_wafer * (1 + self.spec.hbm_gb_growth) ** self._years()

    def margins(self) -> tuple[float, float]:
        """($ per wafer on HBM, $ per wafer on DRAM): GB per wafer x the margin per GB at
        the price it was paid (EMA), or at its list price before it has sold."""
        hbm, dram = self.lines["hbm"], self.lines["dram"]
        out = []
        for line, g in ((hbm, self.hbm_gb_per_wafer()), (dram, self.dram_gb_per_wafer())):
            p = line.price_ema if line.price_ema is not None else line.price()
            out.append(g * (p - line.unit_cost))
        return out[0], out[1]

    def submit_orders(self) -> None:
        """HBM in the suppliers' two steps; DRAM, a commodity whose price the buyers'
        demand curve sets when supply is short, all at its list price."""
        if not self.has_pool:
            super().submit_orders()
            return
        b = self.model.world.behaviour
        hbm, dram = self.lines["hbm"], self.lines["dram"]
        for share, mult in ((1 - b.ask_top_share, 1.0), (b.ask_top_share, 1 + b.ask_top_premium)):
            self.ask("hbm", hbm.available * share, hbm.price() * mult)
        self.ask("dram", dram.available, dram.price())
        self.bid_for_tools()  # its HBM line's expansions wait for tools (ODD 7.14)

    def prepare(self) -> None:
        super().prepare()
        if not self.has_pool:
            return
        t = self.model.tick
        pool = self.pool
        arrived = sum(u for ready, u in pool.pipeline if ready <= t)
        pool.pipeline = [(r, u) for r, u in pool.pipeline if r > t]
        pool.capacity += arrived
        factor = self.model.policy.capacity_factor(self.name)
        w = pool.available = self.wafers_available = pool.capacity * factor
        g_h, g_d = self.hbm_gb_per_wafer(), self.dram_gb_per_wafer()
        hbm, dram = self.lines["hbm"], self.lines["dram"]
        # A wafer costs the same on a finer node: $ per GB falls as GB per wafer grow.
        dram.unit_cost = self.spec.dram_unit_cost * self.spec.dram_gb_per_wafer / g_d
        committed = sum(
            c.nominated for c in self.model.due if c.seller == self.name and c.good == "hbm"
        )
        top = min(w, hbm.available / g_h)  # hbm.available: its TSV line after shocks
        floor = min(top, committed / g_h)
        if self.hbm_wafers is None:
            x = top
        else:
            m_h, m_d = self.margins()
            scale = abs(m_h) + abs(m_d)
            r = (m_h - m_d) / scale if scale > 0 else 0.0
            x = self.hbm_wafers + self.spec.wafer_shift * w * r
        x = min(max(x, floor), top)
        self.hbm_wafers = x
        hbm.available = x * g_h
        dram.capacity = max(0.0, pool.capacity - x) * g_d
        dram.available = (w - x) * g_d

    def settle(self) -> None:
        super().settle()
        if self.has_pool:
            self.wafers_used = (
                self.lines["hbm"].sold / self.hbm_gb_per_wafer()
                + self.lines["dram"].sold / self.dram_gb_per_wafer()
            )

    def decide(self) -> None:
        super().decide()
        if self.has_pool:
            self._maybe_expand_pool()

    def _maybe_expand(self, line: Line) -> None:
        """DRAM capacity comes from the pool only; the TSV line expands (supplier rule)
        only when it, not the wafers, limits HBM."""
        if not self.has_pool:
            super()._maybe_expand(line)
            return
        if line.good == "dram":
            return
        tsv = line.capacity * self.model.policy.capacity_factor(self.name)
        if line.available >= (1 - 1e-6) * tsv:
            super()._maybe_expand(line)

    def _maybe_expand_pool(self) -> None:
        b = self.model.world.behaviour
        pool = self.pool
        w = self.wafers_available
        util = self.wafers_used / w if w > 0 else 0.0
        pool.util_ema = ema(pool.util_ema, util, b.foresight)
        if pool.util_ema < b.expansion_trigger:
            return
        m_h, m_d = self.margins()
        hbm = self.lines["hbm"]
        at_tsv = hbm.available >= (1 - 1e-6) * hbm.capacity * self.model.policy.capacity_factor(
            self.name
        )
        self.expand_if_it_pays(pool, m_d if at_tsv else max(m_h, m_d))

    def halt(self) -> None:
        super().halt()
        self.hbm_wafers = 0.0 if self.has_pool else None
        self.wafers_available = self.wafers_used = 0.0

    def columns(self) -> dict[str, float]:
        out = super().columns()
        if self.has_pool:
            x = self.hbm_wafers or 0.0
            out.update(
                wafers=self.wafers_available, hbm_wafers=x,
                dram_wafers=self.wafers_available - x,
            )  # fmt: skip
        return out
