"""Contracts: take-or-pay, capacity reservation with prepayment, equity-for-compute.

A contract is bilateral, per tick: the seller owes ``quantity`` units of ``good``
each tick of its term. Due contracts become ``optimizers.Commitment``s (served
before the spot market). Settlement, per tick and contract:

- the buyer pays ``price`` x units delivered (equity-for-compute: 0, the credits
  were paid for in equity);
- take-or-pay: the buyer nominates between ``min_take`` x quantity and quantity
  each tick and pays for what it nominated even if it cannot use it (the goods
  are delivered and, if unused, wasted: that is the lock-in);
- a shortfall (seller failed to deliver) costs the seller ``penalty`` x price per
  unit, paid to the buyer, and counts as a breach;
- capacity reservation: the buyer paid ``prepayment`` at signing, which finances
  the supplier's new capacity; deliveries start when it is built;
- equity-for-compute: the lab gave ``equity_share`` of itself at signing; with
  ``exclusive`` the lab's routes to rival sellers of the good close for the term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizers import Commitment


@dataclass(slots=True)
class Contract:
    id: int
    kind: str  # "take_or_pay" | "capacity_reservation" | "equity_for_compute"
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
    nominated: float = 0.0  # this tick's nominated quantity (after any cap)
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
        return [c for c in self.contracts if c.active(tick)]

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
