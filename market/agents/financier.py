"""Financier: a lender (bank, private credit) that funds borrowers' debt (ODD 7.17).

It trades nothing. Each tick ``market.credit.Credit.charge_interest`` lends it a part of
every borrower's debt (negative cash), in name order, up to ``limit_per_borrower`` per
borrower and ``capacity`` in all; the borrower pays it interest on that part at the
leverage-priced rate (ledger kind ``interest``), and it pays its ``cost_of_capital`` on
what it lends to its funders outside the model (kind ``funding``). When a borrower
defaults, it repays its funders the loan it cannot collect (kind ``loan_loss``).
"""

from __future__ import annotations

from market.agents.base import MarketAgent
from market.scenario import FinancierSpec


class Financier(MarketAgent):
    def __init__(self, model, spec: FinancierSpec) -> None:
        super().__init__(model, spec.name, spec.region, spec.cash)
        self.spec = spec
        self.loans: dict[str, float] = {}  # borrower -> $ lent this tick
        self.lent = 0.0  # $ lent in all this tick
        self.loan_losses = 0.0  # $ written off, cumulative

    def lends_to(self, borrower: str) -> bool:
        """Whether ``borrower`` is one of its borrowers (all agents but itself by default)."""
        b = self.spec.borrowers
        return borrower != self.name and (not b or borrower in b)
