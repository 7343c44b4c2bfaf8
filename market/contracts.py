"""Contracts: take-or-pay, capacity reservation with prepayment, equity-for-compute.

A contract is bilateral, per tick: the seller owes ``quantity`` units of ``good``
each tick of its term. Due contracts become ``optimizers.Commitment``s (served
before the spot market). Settlement, per tick and contract:

- the buyer pays ``price`` x units delivered (equity-for-compute: 0, the credits
  were paid for in equity);
- take-or-pay (also supply agreements and capacity reservations): the buyer
  nominates what it expects to need, up to the quantity; units of the minimum
  (``min_take`` x quantity) it does not call are paid for at the contract price
  (ledger kind ``deficiency``) and stay with the seller, who may sell them again:
  the buyer pays for the lock-in but nothing is delivered to be disposed of;
- a shortfall (seller failed to deliver) costs the seller ``penalty`` x price per
  unit, paid to the buyer, and counts as a breach;
- capacity reservation: the buyer paid ``prepayment`` at signing, which finances
  the supplier's new capacity; deliveries start when it is built;
- equity-for-compute: the lab gave ``equity_share`` of itself at signing; with
  ``exclusive`` the lab's routes to rival sellers of the good close for the term;
- lease of compute: the lessor (a hyperscaler) rents ``quantity`` H100e of its fleet
  to the lessee (a lab) for ``price`` per H100e-quarter, every unit paid whether
  called or not (ledger kind ``lease``); the accelerators, and their residual value,
  stay the lessor's (``market.financing``, ODD 7.17).

Backstops, vendor financing and leases of accelerators (a financier's, of a lab's own
fleet) are contracts too, but deliver nothing through the clearing:
``market.financing`` settles them (they are never ``due``, ``settled_apart``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from market.ledger import EXTERNAL
from optimizers import Commitment

if TYPE_CHECKING:
    from market.model import MarketModel


@dataclass(slots=True)
class Contract:
    id: int
    kind: str  # "take_or_pay" | "capacity_reservation" | "equity_for_compute" | "lease" | ...
    seller: str
    buyer: str
    good: str
    quantity: float  # units per tick
    price: float  # $ per unit
    start: int  # first tick of delivery
    term: int  # ticks
    signed: int = 0  # tick it was signed
    min_take: float = 1.0
    prepayment: float = 0.0
    equity_share: float = 0.0
    exclusive: bool = False
    limit: float = math.inf  # $ at most over the term (backstop, vendor financing)
    asset_value: float = 0.0  # $ per H100e of leased accelerators at signing (lease)
    purchase_option: bool = False  # lease of accelerators: the lessee buys them at the end
    closed: bool = False  # lease of accelerators: its accelerators were bought or sold
    nominated: float = 0.0  # this tick's nominated quantity (after any cap)
    deficiency: float = 0.0  # units of the minimum it paid for but did not call, this tick
    delivered_total: float = 0.0
    shortfall_total: float = 0.0
    paid_total: float = 0.0
    breaches: int = 0

    @property
    def end(self) -> int:
        return self.start + self.term

    def active(self, tick: int) -> bool:
        return self.start <= tick < self.end


@dataclass(slots=True)
class ContractBook:
    """All contracts ever signed, in signing order, indexed by buyer and seller."""

    contracts: list[Contract] = field(default_factory=list)
    _by_buyer: dict[str, list[Contract]] = field(default_factory=dict)
    _by_seller: dict[str, list[Contract]] = field(default_factory=dict)

    def sign(self, **kw) -> Contract:
        c = Contract(id=len(self.contracts), **kw)
        self.contracts.append(c)
        self._by_buyer.setdefault(c.buyer, []).append(c)
        self._by_seller.setdefault(c.seller, []).append(c)
        return c

    def due(self, tick: int) -> list[Contract]:
        """Contracts delivering through the clearing this tick (not ``SETTLED_APART``)."""
        return [c for c in self.contracts if c.active(tick) and not settled_apart(c)]

    def sold_by(self, seller: str) -> list[Contract]:
        return self._by_seller.get(seller, [])

    def held(self, tick: int, buyer: str, seller: str | None = None, good: str | None = None):
        """Contracts in force or signed and pending for ``buyer`` (optionally one seller/good)."""
        return [
            c
            for c in self._by_buyer.get(buyer, [])
            if tick < c.end
            and (seller is None or c.seller == seller)
            and (good is None or c.good == good)
        ]


def to_commitments(
    routes: list[tuple[str, str, str]], contracts: list[Contract]
) -> tuple[list[Commitment], list[list[Contract]]]:
    """The clearing's view of this tick's due contracts: one commitment per route.

    Every route gets a commitment slot (quantity 0 where no contract is due), so
    the book keeps its shape from tick to tick and the clearing model is updated
    in place rather than rebuilt whenever a contract starts or ends. The slot holds
    the sum of the route's nominated quantities at their quantity-weighted price;
    ``split`` hands deliveries back to the contracts pro rata.
    """
    on: dict[tuple[str, str, str], list[Contract]] = {}
    for c in contracts:
        on.setdefault((c.seller, c.buyer, c.good), []).append(c)
    commitments: list[Commitment] = []
    groups: list = []
    for k, key in enumerate(routes):
        group = on.get(key)
        if group is None:
            commitments.append(Commitment(k, *key, 0.0, 0.0))
            groups.append(())
            continue
        q = sum(c.nominated for c in group)
        price = sum(c.price * c.nominated for c in group) / q if q > 0 else 0.0
        commitments.append(Commitment(k, *key, q, price))
        groups.append(group)
    return commitments, groups


def split(
    groups: list[list[Contract]], delivered: list[float]
) -> list[tuple[Contract, float, float]]:
    """(contract, units delivered, units short) for each due contract, pro rata per route."""
    out = []
    for group, d in zip(groups, delivered):
        if not group:
            continue
        total = sum(c.nominated for c in group)
        for c in group:
            share = c.nominated / total if total > 0 else 0.0
            got = min(c.nominated, d * share)
            out.append((c, got, max(0.0, c.nominated - got)))
    return out


#: Kinds whose buyer may call less than the minimum, paying for the rest (``deficiency``;
#: a lease's uncalled units pay its rent, kind ``lease``).
CALLED_DOWN = ("take_or_pay", "supply_agreement", "capacity_reservation", "lease")

#: Kinds that deliver nothing through the clearing (``market.financing`` settles them).
SETTLED_APART = ("backstop", "vendor_financing")


def settled_apart(c: Contract) -> bool:
    """Whether ``market.financing`` settles ``c`` (backstops, vendor financing, and leases
    of accelerators: a financier's lease of a lab's own fleet) rather than the clearing."""
    return c.kind in SETTLED_APART or (c.kind == "lease" and c.good == "accelerator")


#: Goods bought under long-term supply agreements (inputs and MW; compute has its own).
LTA_GOODS = ("wafer", "hbm", "cowos", "power")


class ContractDesk:
    """Signing, nomination and settlement of the model's contracts (one per model).

    Agents ``request`` contracts while they decide; the desk signs them after every
    agent has decided, in (buyer, seller, good, kind) order, so activation order
    cannot change who gets a seller's spare capacity.
    """

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.book = ContractBook()
        self.requests: list[tuple] = []
        self._use: dict[tuple[str, str, str], float] = {}  # (seller, buyer, good): units, EMA

    # ------------------------------------------------------------------ signing
    def sign_initial(self) -> None:
        """The scenario's contracts, in force from tick 0 (prepayments are paid in tick 0)."""
        for spec in self.model.world.contracts:
            c = self.book.sign(
                kind=spec.kind, seller=spec.seller, buyer=spec.buyer, good=spec.good,
                quantity=spec.quantity, price=spec.price, start=spec.start, term=spec.term,
                signed=0, min_take=spec.min_take, prepayment=spec.prepayment,
                equity_share=spec.equity_share, exclusive=spec.exclusive,
                limit=spec.limit, asset_value=spec.asset_value,
                purchase_option=spec.purchase_option,
            )  # fmt: skip
            if c.kind == "lease":
                c.min_take = 1.0  # a lease's rent is owed on every unit, called or not
                if c.price <= 0:
                    self.model.financing.price_lease(c)
            if c.kind == "equity_for_compute":
                self.model.by_name[c.buyer].equity_given += c.equity_share

    def pay_signing(self) -> None:
        """Prepayments of contracts signed at the start (tick 0); later ones pay when signed."""
        m = self.model
        if m.tick == 0:
            for c in self.book.contracts:
                if c.prepayment > 0:
                    m.ledger.pay(c.buyer, c.seller, c.prepayment, "prepayment")

    def request(self, kind: str, buyer: str, seller: str, good: str, *terms: float) -> None:
        """Ask to sign a contract once every agent has decided (see ``sign_requests``)."""
        self.requests.append((buyer, seller, good, kind, terms))

    def sign_requests(self) -> None:
        """Sign this tick's requests in (buyer, seller, good, kind) order."""
        by_name = self.model.by_name
        for buyer, seller, good, kind, terms in sorted(self.requests, key=lambda r: r[:4]):
            if by_name[buyer].defaulted or by_name[seller].defaulted:
                continue  # a defaulted agent signs nothing, and no one signs with it
            if kind == "capacity_reservation":
                self.reserve_capacity(by_name[buyer], seller, good, *terms)
            else:
                self.sign_take_or_pay(by_name[buyer], seller, *terms)
        self.requests = []

    def renew_supply_agreements(self) -> None:
        """Long-term supply agreements: each buyer of an LTA good keeps ``lta_share`` of its
        recent use from each supplier (moving average of units received, scaled down to
        what it used when it received more) under contract.
        When none is in force next tick for a (buyer, supplier, good), it signs one for
        ``lta_term`` ticks at the supplier's list price (its marked-up unit cost now), so
        most upstream volume moves at slowly moving contract prices and only the
        residual clears at spot."""
        m = self.model
        b = m.world.behaviour
        if not b.contracting or b.lta_share <= 0:
            return
        w = b.foresight
        now: dict[tuple[str, str, str], float] = {}
        received: dict[tuple[str, str], float] = defaultdict(float)
        for (s, buyer, g), q in m.outcome.flows.items():
            if g in LTA_GOODS:
                now[(s, buyer, g)] = q
                received[(buyer, g)] += q
        # Units it used, not units it received: what it disposed of is not renewed.
        for (s, buyer, g), q in now.items():
            used = m.by_name[buyer].input_used(g)
            if used is not None and received[(buyer, g)] > used:
                now[(s, buyer, g)] = q * used / received[(buyer, g)]
        for key in sorted(set(self._use) | set(now)):
            old = self._use.get(key)  # the first observation starts the average
            self._use[key] = now[key] if old is None else (1 - w) * old + w * now.get(key, 0.0)
        nxt = m.tick + 1
        for (s, buyer, g), use in sorted(self._use.items()):
            line = m.by_name[s].line(g)
            if line is None or use <= 0 or m.by_name[s].defaulted or m.by_name[buyer].defaulted:
                continue
            if any(c.start <= nxt < c.end for c in self.book.held(m.tick, buyer, s, g)):
                continue
            quantity = self._capped(s, buyer, g, b.lta_share * use)
            if quantity <= 1e-6 * max(1.0, use):
                continue
            self.book.sign(
                kind="supply_agreement", seller=s, buyer=buyer, good=g, quantity=quantity,
                price=line.price(), start=nxt, term=b.lta_term, signed=m.tick,
                min_take=b.contract_min_take,
            )  # fmt: skip

    def _capped(self, seller: str, buyer: str, good: str, quantity: float) -> float:
        """``quantity`` cut so the buyer's contracts stay within the contract cap (if any)."""
        m = self.model
        cap = m.policy.contract_cap
        if cap is None:
            return quantity
        held = sum(c.quantity for c in self.book.held(m.tick, buyer, seller, good))
        return max(0.0, min(quantity, cap * m.by_name[seller].capacity_for(good) - held))

    def reserve_capacity(self, designer, supplier: str, good: str, quantity: float, ask: float):
        """A capacity reservation: the designer prepays ``reservation_prepayment`` of the
        capex of new capacity, which the supplier builds for it (lead time of its line)."""
        m = self.model
        quantity = self._capped(supplier, designer.name, good, quantity)
        s = m.by_name[supplier]
        line = s.line(good)
        if quantity <= 0 or line is None:
            return None
        b = m.world.behaviour
        capex = line.capex_per_unit * m.policy.capex_factor(supplier)
        prepayment = b.reservation_prepayment * capex * quantity
        if prepayment > designer.headroom:  # it cannot pay for it (market.credit)
            return None
        c = self.book.sign(
            kind="capacity_reservation", seller=supplier, buyer=designer.name, good=good,
            quantity=quantity, price=ask * (1 + b.contract_premium),
            start=m.tick + s.lead_time(line), term=b.contract_term, signed=m.tick,
            prepayment=prepayment,
        )  # fmt: skip
        m.ledger.pay(c.buyer, c.seller, prepayment, "prepayment")
        line.reserved += quantity
        s.expand(line, quantity, capex, price=c.price)  # waits for tools if it needs them
        return c

    def sign_take_or_pay(self, lab, seller: str, quantity: float, price: float):
        """A take-or-pay compute contract from next tick, within the seller's spare capacity."""
        m = self.model
        h = m.by_name[seller]
        committed = sum(c.quantity for c in self.book.sold_by(seller) if m.tick < c.end)
        spare = max(0.0, h.available - committed)
        quantity = self._capped(seller, lab.name, "compute", min(quantity, spare))
        if quantity <= 1e-6 * max(1.0, lab.demand):
            return None
        return self.book.sign(
            kind="take_or_pay", seller=seller, buyer=lab.name, good="compute",
            quantity=quantity, price=price, start=m.tick + 1,
            term=m.world.behaviour.contract_term, signed=m.tick,
            min_take=m.world.behaviour.contract_min_take,
        )  # fmt: skip

    # ------------------------------------------------------------------ each tick
    def nominate(self, due: list[Contract]) -> None:
        """Set each due contract's quantity this tick: buyer nomination, then the contract cap."""
        m = self.model
        for c in due:
            c.nominated = m.by_name[c.buyer].nominate(c)
            # Units of the minimum not called are paid for and left with the seller, who
            # may sell them again (take-or-pay), rather than delivered and disposed of.
            c.deficiency = 0.0
            if c.kind in CALLED_DOWN:
                c.deficiency = max(0.0, c.min_take * c.quantity - c.nominated)
                kind = "lease" if c.kind == "lease" else "deficiency"
                m.ledger.pay(c.buyer, c.seller, c.price * c.deficiency, kind)
        cap = m.policy.contract_cap
        if cap is None:
            return
        pairs: dict[tuple[str, str, str], list[Contract]] = defaultdict(list)
        for c in due:
            pairs[(c.seller, c.buyer, c.good)].append(c)
        for (seller, _, good), cs in pairs.items():
            limit = cap * m.by_name[seller].capacity_for(good)
            total = sum(c.nominated for c in cs)
            if total > limit:
                for c in cs:
                    c.nominated *= limit / total

    def settle(
        self,
        deliveries,
        route_cost: dict[tuple[str, str, str], float],
        switching_cost: dict[tuple[str, str, str], float],
    ) -> None:
        """Contract payments at the contract price, transport (and the ecosystem
        switching cost, booked apart), and breach penalties."""
        m = self.model
        pay = m.ledger.pay
        penalty = m.world.behaviour.shortfall_penalty
        for k, d, s in deliveries:
            paid = k.price * d if k.kind != "equity_for_compute" else 0.0
            if paid:
                pay(k.buyer, k.seller, paid, "lease" if k.kind == "lease" else f"contract:{k.good}")
            key = (k.seller, k.buyer, k.good)
            switching = switching_cost.get(key, 0.0)
            pay(k.seller, EXTERNAL, (route_cost[key] - switching) * d, "transport")
            pay(k.seller, EXTERNAL, switching * d, "switching")
            k.delivered_total += d
            k.shortfall_total += s
            k.paid_total += paid
            if s > 1e-9 * max(1.0, k.nominated):
                k.breaches += 1
                pay(k.seller, k.buyer, penalty * k.price * s, "penalty")
