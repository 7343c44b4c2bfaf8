"""Wafer-fab equipment maker: sells tool units ($M of equipment at 2025 list prices) to
the fabs, memory makers and packagers whose new capacity needs them (ODD 7.14).

Its line is an ordinary capacity line (ask at unit cost x (1 + markup), markup and
expansion rules of ODD 7.5, its own lead time to expand); its own expansion needs no
tools. Tools settle at the clearing's nodal price unless ``behaviour.sold_at_offer``
names them, so when they are scarce their price is the dual of the tool constraint.

Its utilisation counts the orders it could not serve, as a tool maker plans capacity on
its order backlog: units sold plus its share of the tools its customers bid for and did
not get this tick (each customer's ``tools_unfilled``, fixed in settle before anyone
decides, x this maker's share of the available tool capacity routed to that customer),
over units available.
"""

from __future__ import annotations

from market.agents.supplier import Line, SingleLineSupplier


class ToolMaker(SingleLineSupplier):
    GOOD = "tools"

    def __init__(self, model, spec) -> None:
        super().__init__(model, spec)
        self._customers: list[tuple[str, tuple[str, ...]]] | None = None

    def _routes(self) -> list[tuple[str, tuple[str, ...]]]:
        """(customer, the tool makers routed to it) for each of its customers, once."""
        if self._customers is None:
            g = self.model.graph
            self._customers = [
                (c, tuple(sorted(s for s, _, k in g.in_edges(c, keys=True) if k == "tools")))
                for _, c, k in sorted(g.out_edges(self.name, keys=True))
                if k == "tools"
            ]
        return self._customers

    def utilisation(self, line: Line) -> float:
        """(units sold + its share of the tools its customers bid for and did not get) /
        units available."""
        if line.available <= 0:
            return 0.0
        by_name = self.model.by_name
        waiting = 0.0
        for customer, makers in self._routes():
            wanted = by_name[customer].tools_unfilled  # fixed in settle, before any decide
            if wanted <= 0:
                continue
            total = sum(by_name[mk].lines["tools"].available for mk in makers)
            if total > 0:
                waiting += wanted * line.available / total
        return (line.sold + waiting) / line.available
