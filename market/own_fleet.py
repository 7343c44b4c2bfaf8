"""A lab's own fleet of accelerators (ODD 7.17): cohorts it bought, used for its own demand.

A lab with a fleet (``LabSpec.fleet``, e.g. xAI's Colossus) serves its own demand from
it first and bids on the compute market for the rest; it pays ``fleet_opex`` per
H100e-quarter it uses (power, colocation, staff: it buys no MW or shells). With
``fleet_target`` > 0 it also bids for accelerators (``wanted``), valued as the NPV of
the compute it need not rent (``value``).
"""

from __future__ import annotations

from market.agents.hyperscaler import install_npv
from market.scenario import LabSpec


class OwnFleet:
    """Cohorts of H100e by designer, ``[retire tick, H100e]``; the start fleet has evenly
    spread ages (as a hyperscaler's)."""

    def __init__(self, spec: LabSpec) -> None:
        self.spec = spec
        life = spec.fleet_life
        self.cohorts: dict[str, list[list[float]]] = {
            d: [[1 + k, q / life] for k in range(life)] for d, q in spec.fleet.items() if q > 0
        }
        self.size = sum(spec.fleet.values())
        self.used = 0.0  # H100e-quarters of its own compute it used this tick

    def retire(self, tick: int) -> None:
        """Cohorts whose life has ended by ``tick`` leave the fleet."""
        for d in list(self.cohorts):
            self.cohorts[d] = [c for c in self.cohorts[d] if c[0] > tick]
        self.size = sum(q for cs in self.cohorts.values() for _, q in cs)

    def retiring(self, tick: int) -> float:
        """H100e that retire at the next tick."""
        return sum(q for cs in self.cohorts.values() for r, q in cs if r <= tick + 1)

    def add(self, designer: str, units: float, tick: int) -> None:
        """``units`` H100e bought at ``tick``, in use from the next tick for ``fleet_life``."""
        if units > 0:
            self.cohorts.setdefault(designer, []).append([tick + 1 + self.spec.fleet_life, units])
            self.size += units

    def remove(self, units: float) -> float:
        """Take ``units`` H100e out of the fleet, pro rata from every cohort (at most all of
        it); returns the H100e taken."""
        taken = min(units, self.size)
        if taken <= 0:
            return 0.0
        keep = 1.0 - taken / self.size
        for cohorts in self.cohorts.values():
            for c in cohorts:
                c[1] *= keep
        self.size -= taken
        return taken

    def share(self, designer: str) -> float:
        """The designer's share of the fleet (0 for an empty fleet)."""
        if self.size <= 0:
            return 0.0
        return sum(q for _, q in self.cohorts.get(designer, ())) / self.size

    def wanted(self, expected: float, tick: int, adjustment: float) -> float:
        """H100e to buy: what retires plus 1 / ``adjustment`` of the gap between
        ``fleet_target`` x ``expected`` demand and the fleet (hyperscalers' rule, 7.2)."""
        gap = max(0.0, self.spec.fleet_target * expected - self.size)
        return (self.retiring(tick) + gap / adjustment) if self.spec.fleet_target > 0 else 0.0

    def value(self, price: float, utilisation: float, decline: float, ticks: int, tpy: int):
        """$ one more H100e is worth to it: the NPV of renting it at ``price`` $ per
        H100e-quarter (``hyperscaler.install_npv``) at its ``fleet_opex`` and
        ``discount_rate``."""
        rate = (1 + self.spec.discount_rate) ** (1 / tpy) - 1
        return install_npv(price, utilisation, self.spec.fleet_opex, decline, rate, ticks)
