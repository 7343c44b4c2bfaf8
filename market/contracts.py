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
    """All contracts ever signed, in signing order."""

    contracts: list[Contract] = field(default_factory=list)

    def sign(self, **kw) -> Contract:
        c = Contract(id=len(self.contracts), **kw)
        self.contracts.append(c)
        return c

    def due(self, tick: int) -> list[Contract]:
        return [c for c in self.contracts if c.active(tick)]

    def held(self, tick: int, buyer: str, seller: str | None = None, good: str | None = None):
        """Contracts in force or signed and pending for ``buyer`` (optionally one seller/good)."""
        return [
            c
            for c in self.contracts
            if c.buyer == buyer
            and tick < c.end
            and (seller is None or c.seller == seller)
            and (good is None or c.good == good)
        ]

    def exclusive_closures(self, tick: int) -> set[tuple[str, str]]:
        """(buyer, good) pairs whose routes from all but the contract's seller are closed."""
        return {(c.buyer, c.good) for c in self.due(tick) if c.exclusive}

    def exclusive_seller(self, tick: int, buyer: str, good: str) -> set[str]:
        return {
            c.seller for c in self.due(tick) if c.exclusive and (c.buyer, c.good) == (buyer, good)
        }


def to_commitments(contracts: list[Contract]) -> list[Commitment]:
    """The clearing's view of this tick's due contracts (nominated quantities)."""
    return [Commitment(c.id, c.seller, c.buyer, c.good, c.nominated, c.price) for c in contracts]
