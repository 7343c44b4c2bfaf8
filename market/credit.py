"""Credit and default: every agent may borrow up to its credit line, and no further.

An agent's headroom is ``cash + credit_line`` ($ it may still spend before its
cash reaches the floor ``-credit_line``). Agents read it when they order (labs,
hyperscalers, suppliers, designers cut what they cannot pay; see their modules).
When the tick's payments would still take an agent's cash below its floor, it
defaults (``Credit.settle``, called before the ledger moves the cash):

1. the deficit ``X = -credit_line - (cash + net)`` is written off: each party it
   paid this tick (other than by write-offs) pays back its pro-rata share of X,
   ledger kind ``default`` (a share owed to an agent that has itself defaulted
   falls on its lenders outside the model, ``EXTERNAL``); so its cash ends at
   exactly its floor and money is conserved;
2. creditors pushed below their own floors by those write-offs default in turn
   (repeated until none does; each agent defaults at most once);
3. its contracts end after this tick. Their counterparties lose the rest of the
   contract (``default_loss``, $, a claim that is never paid, not a cash flow):
   a seller the unpaid minimums ``min_take x quantity x price x ticks left`` of
   take-or-pay contracts and supply agreements; a buyer the undelivered part of
   its prepayment ``prepayment x ticks left / term`` of a capacity reservation,
   or the credits ``quantity x price x ticks left`` of equity-for-compute;
4. it stops trading: no orders, no settlement, no decisions, no interest (its debt
   is frozen with its lenders); its capacity or fleet stays idle (stranded) for the
   rest of the run, and no one buys it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from market.ledger import EXTERNAL, Ledger

if TYPE_CHECKING:
    from market.agents.base import MarketAgent
    from market.model import MarketModel

#: Relative tolerance ($ per $ of credit line) below the floor that counts as default.
REL_MONEY = 1e-9

#: Contract kinds whose buyer owes minimum payments for the rest of the term.
MINIMUMS = ("take_or_pay", "supply_agreement", "lease")


class Credit:
    """Defaults and their losses (one per model)."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.defaulted: list[str] = []  # names, in order of default
        self.defaults_this_tick = 0
        self.sales_this_tick = 0.0  # $ of distressed fleet sales this tick

    def rate(self, agent: MarketAgent) -> float:
        """Interest per tick on ``agent``'s debt: ``debt_rate + leverage_spread x lev``,
        with leverage ``lev = min(1, debt / credit_line)`` (1 without a credit line, 0
        without debt): the more of its line it has drawn, the dearer its debt."""
        b = self.model.world.behaviour
        debt = max(0.0, -agent.cash)
        if debt <= 0 or b.leverage_spread <= 0:
            return b.debt_rate
        lev = min(1.0, debt / agent.credit_line) if agent.credit_line > 0 else 1.0
        return b.debt_rate + b.leverage_spread * lev

    def charge_interest(self, ledger: Ledger) -> None:
        """Every trading agent with debt (negative cash) pays interest on it at ``rate``:
        on the part its financiers lend it this tick (each financier in name order, up to
        its limit per borrower and its capacity, borrowers in the model's agent order) to
        them, on the rest to lenders outside the model (kind ``interest``); financiers pay
        their cost of capital on what they lend (``funding``). A defaulted agent's debt
        is frozen and pays none."""
        m = self.model
        lenders = self.lenders
        for f in lenders:
            f.loans = {}
            f.lent = 0.0
        for a in m.by_name.values():
            if a.cash >= 0 or a.defaulted:
                continue
            debt = -a.cash
            r = self.rate(a)
            for f in lenders:
                if debt <= 0:
                    break
                if f.defaulted or not f.lends_to(a.name):
                    continue
                x = min(debt, f.spec.limit_per_borrower, f.spec.capacity - f.lent)
                if x <= 0:
                    continue
                f.loans[a.name] = x
                f.lent += x
                debt -= x
                ledger.pay(a.name, f.name, x * r, "interest")
            ledger.pay(a.name, EXTERNAL, debt * r, "interest")
        tpy = m.world.meta.ticks_per_year
        for f in lenders:
            if not f.defaulted:
                ledger.pay(f.name, EXTERNAL, f.lent * f.spec.cost_of_capital / tpy, "funding")

    @property
    def lenders(self) -> list:
        """The financiers, in name order (``market.agents.financier``)."""
        from market.agents.financier import Financier

        return self.model.agents_of(Financier)

    def relieve(self, ledger: Ledger) -> None:
        """Distressed sales: an agent with a fleet whose headroom after this tick's payments
        would fall below ``distress_headroom`` x its credit line sells
        ``distress_sale_share`` of its fleet and MW to the trading hyperscaler with the
        most headroom that can pay, at a ``fire_sale_discount`` to the accelerator price
        (ledger kind ``asset_sale``), in name order."""
        m = self.model
        b = m.world.behaviour
        self.sales_this_tick = 0.0
        price = m.price_ema.get("accelerator")
        if b.distress_headroom <= 0 or b.distress_sale_share <= 0 or not price:
            return
        net = ledger.net()
        room = {n: a.cash + net.get(n, 0.0) + a.credit_line for n, a in m.by_name.items()}
        for name, seller in sorted(m.by_name.items()):
            if not seller.holds_fleet or seller.defaulted:
                continue
            if room[name] >= b.distress_headroom * seller.credit_line:
                continue
            cohorts, mw = seller.sell_fleet(b.distress_sale_share)
            units = [(q, max(0, r - m.tick - 1)) for cs in cohorts.values() for r, q, *_ in cs]
            if not units:
                continue
            life = seller.spec.fleet_life
            value = (1 - b.fire_sale_discount) * price * sum(q * left / life for q, left in units)
            buyers = [
                (room[n], n) for n, a in m.by_name.items()
                if n != name and not a.defaulted and a.holds_fleet
                and room[n] - value >= b.distress_headroom * a.credit_line
            ]  # fmt: skip
            if not buyers or value <= 0:
                seller.buy_fleet(cohorts, mw)  # no one can pay: it keeps them
                continue
            buyer = max(buyers)[1]
            m.by_name[buyer].buy_fleet(cohorts, mw)
            ledger.pay(buyer, name, value, "asset_sale")
            room[buyer] -= value
            room[name] += value
            self.sales_this_tick += value

    def settle(self, ledger: Ledger) -> None:
        """Default every agent whose cash this tick's ``ledger`` would take below its floor."""
        m = self.model
        self.defaults_this_tick = 0
        self.relieve(ledger)
        while True:
            net = ledger.net()
            late = [
                a
                for name, a in sorted(m.by_name.items())
                if not a.defaulted
                and a.cash + net.get(name, 0.0)
                < -a.credit_line - REL_MONEY * max(1.0, a.credit_line)
            ]
            if not late:
                return
            for a in late:
                deficit = -a.credit_line - (a.cash + ledger.net().get(a.name, 0.0))
                self._write_off(a, deficit, ledger)
                self._default(a)

    def _write_off(self, agent: MarketAgent, deficit: float, ledger: Ledger) -> None:
        """Its payees of this tick pay back ``deficit`` pro rata to what it paid them."""
        paid: dict[str, float] = defaultdict(float)
        for payer, payee, amount, kind in ledger.rows:
            if payer == agent.name and kind != "default" and amount > 0:
                paid[payee] += amount
        total = sum(paid.values())
        if total <= 0:  # cannot happen from a cash at or above the floor; keep money whole
            ledger.pay(EXTERNAL, agent.name, deficit, "default")
            return
        by_name = self.model.by_name
        for payee in sorted(paid):
            bearer = payee
            if payee not in by_name or by_name[payee].defaulted:  # outside or an SPV
                bearer = EXTERNAL
            ledger.pay(bearer, agent.name, deficit * paid[payee] / total, "default")

    def _default(self, agent: MarketAgent) -> None:
        m = self.model
        t = m.tick
        agent.defaulted = True
        agent.default_tick = t
        self.defaulted.append(agent.name)
        self.defaults_this_tick += 1
        for c in m.desk.book.contracts:
            if t >= c.end or agent.name not in (c.buyer, c.seller):
                continue
            left = c.end - max(c.start, t + 1)  # ticks of the term still to come
            if left > 0:
                if agent.name == c.buyer:
                    other = m.by_name[c.seller]
                    if c.kind in MINIMUMS:
                        other.default_loss += c.min_take * c.quantity * c.price * left
                    elif c.kind == "capacity_reservation":
                        line = other.line(c.good)
                        if line is not None:  # the capacity is free for others
                            line.reserved = max(0.0, line.reserved - c.quantity)
                else:
                    other = m.by_name[c.buyer]
                    if c.kind == "capacity_reservation":
                        other.default_loss += c.prepayment * left / c.term
                    elif c.kind == "equity_for_compute":
                        other.default_loss += c.quantity * c.price * left
            c.start = min(c.start, t + 1)
            c.term = max(0, t + 1 - c.start)  # ends after this tick
        for f in self.lenders:  # its financiers repay their funders what they lent it
            lost = f.loans.pop(agent.name, 0.0)
            if lost > 0 and not f.defaulted:
                m.ledger.pay(f.name, EXTERNAL, lost, "loan_loss")
                f.loan_losses += lost
                f.default_loss += lost
        agent.halt()
        m.active_agents_changed()
