"""Every payment of a tick, so money can be audited: transfers between agents net to zero."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

#: Counterparty of payments to or from outside the model (costs, capex, lab revenue).
EXTERNAL = "<external>"


@dataclass(slots=True)
class Ledger:
    """Payments ($) of one tick: (payer, payee, amount, kind)."""

    rows: list[tuple[str, str, float, str]] = field(default_factory=list)

    def pay(self, payer: str, payee: str, amount: float, kind: str) -> None:
        """Record ``payer`` paying ``payee`` ``amount`` $ (either may be EXTERNAL)."""
        if amount != 0.0:
            self.rows.append((payer, payee, float(amount), kind))

    def net(
        self, exclude: tuple[str, ...] = (), exclude_paid: tuple[str, ...] = ()
    ) -> dict[str, float]:
        """$ received minus $ paid, per party (EXTERNAL included), leaving out ``exclude``
        kinds, and ``exclude_paid`` kinds on the payer's side only (a purchase that is
        capital spending for the buyer and revenue for the seller, e.g. ``spot:tools``)."""
        out: dict[str, float] = defaultdict(float)
        for payer, payee, amount, kind in self.rows:
            if kind in exclude:
                continue
            if kind not in exclude_paid:
                out[payer] -= amount
            out[payee] += amount
        return dict(out)
