"""Financing structures settled outside the clearing (ODD 7.17): leases' rents and residual
values, backstops, vendor financing, and hyperscalers' equity-for-compute offers.

- lease of compute (``contracts``: a hyperscaler's, delivered as a commitment; rent,
  ledger kind ``lease``): with ``price`` 0 the rent is ``break_even_rent`` of the leased
  accelerators' value, so the rents and the residual value at the end repay the lessor
  at ``debt_rate``; the accelerators stay the lessor's (``residual_value``), so when the
  lessee defaults or leaves the lessor keeps them and loses the rent still to come
  (``market.credit``);
- lease of accelerators (a financier's, of a lab's own fleet; settled here): a sale and
  lease-back with an optional purchase at the residual value (see
  ``_settle_lease_of_accelerators``);
- backstop (seller: a neocloud; buyer: the guarantor): each tick the guarantor buys the
  neocloud's unsold compute, ``u = min(q, available - sold, (limit - paid) / price)``
  H100e-quarters at ``price`` (kind ``backstop``);
- vendor financing (seller: a designer; buyer: a lab): each tick the designer invests
  ``price`` $ per GW of its accelerators deployed for the lab (kind
  ``vendor_investment``), at most ``quantity`` GW a tick and ``limit`` $ in all; the GW
  are the designer's accelerators bought this tick by the lab itself (its own fleet) or by
  its hyperscalers in proportion to the lab's share of their rented compute, and the $
  they paid the designer for them is the investment's return (``Contract.delivered_total``);
- equity offers (``offer_equity``): hyperscalers with ``equity_investor`` offer a lab
  that is short of compute credits for equity.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from market.contracts import Contract, settled_apart
from market.ledger import EXTERNAL
from market.tolerance import REL_QUANTITY

if TYPE_CHECKING:
    from market.model import MarketModel


def residual_share(years: float, curve: tuple[float, ...]) -> float:
    """Resale value of an accelerator ``years`` old as a share of its value new: 1 at 0,
    ``curve[k-1]`` after k years, linear between, ``curve[-1]`` after the last point."""
    if years <= 0 or not curve:
        return 1.0
    points = (1.0, *curve)
    k = int(years)
    if k >= len(curve):
        return points[-1]
    frac = years - k
    return points[k] + (points[k + 1] - points[k]) * frac


def break_even_rent(value: float, term: int, rate: float, residual: float) -> float:
    """$ of rent per tick that repays ``value`` $ over ``term`` ticks at ``rate`` per tick
    when the lessor keeps ``residual`` x value at the end:
    ``value = sum_{t=1..T} R / (1 + i)^t + residual x value / (1 + i)^T``."""
    if term <= 0:
        raise ValueError("a lease needs a term of at least one tick")
    if rate <= 0:
        return value * (1 - residual) / term
    disc = (1 + rate) ** -term
    return (value - residual * value * disc) * rate / (1 - disc)


class Financing:
    """The model's financing structures (one per model)."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self._apart: list[Contract] | None = None  # backstops and vendor financing

    # ------------------------------------------------------------------ leases
    def price_lease(self, c: Contract) -> None:
        """Set a lease's rent to its break-even rent (``break_even_rent``) at ``debt_rate``."""
        m = self.model
        years = c.term / m.world.meta.ticks_per_year
        share = residual_share(years, m.world.behaviour.residual_values)
        c.price = break_even_rent(c.asset_value, c.term, m.world.behaviour.debt_rate, share)

    def residual_value(self, c: Contract, tick: int | None = None) -> float:
        """$ the leased accelerators are worth at ``tick`` (default now): asset value x
        quantity x ``residual_share`` of their age since signing; the lessor's, whatever
        the lessee does."""
        m = self.model
        t = m.tick if tick is None else tick
        years = max(0, t - c.signed) / m.world.meta.ticks_per_year
        return c.asset_value * c.quantity * residual_share(years, m.world.behaviour.residual_values)

    # ------------------------------------------------------------------ each tick
    def settle(self) -> None:
        """Call this tick's backstops and vendor financing (after the agents settled)."""
        m = self.model
        if self._apart is None:
            self._apart = [c for c in m.desk.book.contracts if settled_apart(c)]
        if not self._apart:
            return
        b = m.world.behaviour
        t = m.tick
        bought = None
        for c in self._apart:
            if c.kind == "lease":
                self._settle_lease_of_accelerators(c)
                continue
            if not c.active(t):
                continue
            seller, buyer = m.by_name[c.seller], m.by_name[c.buyer]
            if seller.defaulted or buyer.defaulted:
                continue
            if c.kind == "backstop" and b.backstops:
                self._call_backstop(c, seller)
            elif c.kind == "vendor_financing" and b.vendor_financing:
                if bought is None:
                    bought = self._accelerators_bought()
                self._invest(c, bought.get(c.seller, {}))

    def _settle_lease_of_accelerators(self, c: Contract) -> None:
        """A financier's lease of q H100e of a lab's own fleet (a sale and lease-back):
        at the start the financier pays the lab their value V q (kind ``lease_funding``;
        q at most the lab's fleet then); each tick of the term the lab pays the rent R q
        (``lease``); at the end the lab buys them at their residual value rho V q
        (``lease_purchase``) with a purchase option, else they leave its fleet and the
        financier sells them outside the model at rho V q (``residual_sale``). When the
        lab defaults, the financier repossesses and sells them at (1 -
        fire_sale_discount) rho V q the next tick; the rent still to come is its loss
        (``market.credit``)."""
        m = self.model
        t = m.tick
        if c.closed or t < c.start:
            return
        fin, lab = m.by_name[c.seller], m.by_name[c.buyer]
        pay = m.ledger.pay
        if t == c.start and not lab.defaulted and not fin.defaulted:
            c.quantity = min(c.quantity, lab.own.size if lab.own is not None else 0.0)
            pay(c.seller, c.buyer, c.asset_value * c.quantity, "lease_funding")
        if lab.defaulted:  # repossessed and sold at a discount
            discount = 1.0 - m.world.behaviour.fire_sale_discount
            pay(EXTERNAL, c.seller, discount * self.residual_value(c), "residual_sale")
            c.closed = True
            return
        if c.active(t):
            if not fin.defaulted:
                pay(c.buyer, c.seller, c.price * c.quantity, "lease")
                c.paid_total += c.price * c.quantity
            return
        if c.purchase_option:  # the term is over (t >= end)
            pay(c.buyer, c.seller, self.residual_value(c), "lease_purchase")
        else:
            lab.own.remove(c.quantity)
            pay(EXTERNAL, c.seller, self.residual_value(c), "residual_sale")
        c.closed = True

    def _call_backstop(self, c: Contract, neocloud) -> None:
        """The guarantor buys the neocloud's unsold compute, up to the contract's caps."""
        room = (c.limit - c.paid_total) / c.price if c.price > 0 else float("inf")
        units = max(0.0, min(c.quantity, neocloud.available - neocloud.sold, room))
        if units <= 0:
            return
        pay = self.model.ledger.pay
        pay(c.buyer, c.seller, units * c.price, "backstop")
        pay(c.seller, EXTERNAL, units * neocloud.spec.opex, "operating")  # it runs them
        c.delivered_total += units
        c.paid_total += units * c.price

    def _accelerators_bought(self) -> dict[str, dict[str, tuple[float, float]]]:
        """designer -> buyer -> (H100e, $) of accelerators bought at spot this tick."""
        out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for seller, buyer, good, q, p in self.model.outcome.spot:
            if good == "accelerator" and q > 0:
                row = out[seller][buyer]
                row[0] += q
                row[1] += p * q
        return {d: {h: (v[0], v[1]) for h, v in rows.items()} for d, rows in out.items()}

    def _invest(self, c: Contract, bought: dict[str, tuple[float, float]]) -> None:
        """The designer invests ``price`` $ per GW of its accelerators deployed for the lab."""
        m = self.model
        flows = m.outcome.flows
        gw = spent = 0.0
        for buyer, (units, dollars) in sorted(bought.items()):
            a = m.by_name[buyer]
            if buyer == c.buyer:
                share = 1.0  # the lab's own fleet
            else:
                sold = getattr(a, "sold", 0.0)
                share = flows.get((buyer, c.buyer, "compute"), 0.0) / sold if sold > 0 else 0.0
            if share <= 0:
                continue
            gw += units * share * a.spec.mw_per_h100e / 1000.0
            spent += dollars * share
        amount = min(c.price * min(gw, c.quantity), max(0.0, c.limit - c.paid_total))
        if amount <= 0:
            return
        m.ledger.pay(c.seller, c.buyer, amount, "vendor_investment")
        c.paid_total += amount
        # The return: the chip purchases of the GW it invested in (pro rata when capped).
        c.delivered_total += spent * amount / (c.price * gw)
        if c.equity_share > 0 and c.limit < float("inf"):  # equity vests with the investment
            m.by_name[c.buyer].equity_given += c.equity_share * amount / c.limit

    # ------------------------------------------------------------------ equity offers
    def offer_equity(self) -> None:
        """Hyperscalers with ``equity_investor`` offer compute for equity to labs short of
        compute: a lab that ``sells_equity`` with unmet share EMA u above ``equity_trigger``, at
        ``ramp = min(1, (u - equity_trigger) / equity_ramp)``, is offered credits up to
        ``ramp x equity_cover x unmet``, less the credits of the equity-for-compute deals
        it holds next tick, within the investors' unsold compute this tick (shared pro
        rata to it); each investor's deal runs from the next tick for ``equity_term``
        ticks at the compute price EMA P, for the share
        ``min(max_equity_share, q P T / (lab_revenue_multiple x R x ticks per year))``
        of the lab (R its revenue last tick). A continuous rule: a hair's more unmet
        demand makes a hair's more credits."""
        m = self.model
        b = m.world.behaviour
        if not b.equity_offers:
            return
        price = m.price_ema.get("compute")
        if not price:
            return
        from market.agents import Hyperscaler, Lab

        spare = {
            h.name: max(0.0, h.available - h.sold)
            for h in m.agents_of(Hyperscaler)
            if h.spec.equity_investor and not h.defaulted
        }
        tpy = m.world.meta.ticks_per_year
        nxt = m.tick + 1
        for lab in m.agents_of(Lab):
            if not lab.spec.sells_equity or lab.defaulted or lab.unmet_ema is None:
                continue
            if lab.revenue <= 0:
                continue  # a lab without revenue has no valuation to price the equity
            ramp = min(1.0, (lab.unmet_ema - b.equity_trigger) / b.equity_ramp)
            if ramp <= 0:
                continue
            held = sum(
                c.quantity
                for c in m.desk.book.held(m.tick, lab.name)
                if c.kind == "equity_for_compute" and c.start <= nxt < c.end
            )
            room = sum(spare.values())
            q = min(ramp * b.equity_cover * lab.unmet - held, room)
            if q <= REL_QUANTITY * max(1.0, lab.demand):
                continue
            valuation = b.lab_revenue_multiple * lab.revenue * tpy
            for name in sorted(spare):
                part = q * spare[name] / room
                if part <= 0:
                    continue
                share = min(b.max_equity_share, part * price * b.equity_term / valuation)
                m.desk.book.sign(
                    kind="equity_for_compute", seller=name, buyer=lab.name, good="compute",
                    quantity=part, price=price, start=nxt, term=b.equity_term, signed=m.tick,
                    equity_share=share,
                )  # fmt: skip
                lab.equity_given += share
                spare[name] -= part
