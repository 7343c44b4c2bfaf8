"""Data-centre special-purpose vehicles (ODD 7.18): debt and equity buy a tenant's MW.

An SPV (scenario ``[[spvs]]``, ``market.scenario.SpvSpec``) is a structure, not an
agent: it trades nothing in the market, it owns shells and MW and holds a lease, and
every $ it moves is a ledger row with its name as a party (in each tick its rows net
to zero: it keeps no cash). Each tick, after interest and before defaults
(``SpvDesk.settle``), in name order:

1. *Tenant left*: a tenant that has defaulted leaves; the SPV defaults (step 5).
2. *Renewal*: every ``lease_term`` ticks after ``start``, the tenant renews the MW it
   uses: with I its idle MW (available - sold H100e x ``mw_per_h100e``) and M the
   SPV's MW under lease, it hands back min(M, I) MW (taken off its shell stock) and the
   lease share u <- u x (1 - min(M, I) / M).
3. *Lease*: with D the debt outstanding before this tick's drawing, r = (1 +
   ``rate``)^(1/ticks_per_year) - 1 and A the instalments due, debt service S = r D + A
   and rent R = u x ``coverage`` x S (take-or-pay: owed whether the tenant uses the MW
   or not). If R >= S: the tenant pays R (``spv_rent``), the lenders get r D
   (``spv_interest``) and A (``spv_principal``), the equity holders R - S by share
   (``spv_dividend``). If R < S (rents below debt service) the lenders get R and the
   SPV defaults.
4. *Drawing* (t >= start, drawn < size): the SPV buys the shells and MW its tenant paid
   for this tick (``spot:``/``contract:`` shell and power, P $), K = min(size - drawn, P):
   lenders pay ``debt_share`` x K (``spv_debt``, from outside), outside investors and the
   tenant pay the equity ``(1 - debt_share) x K`` by ``tenant_equity`` (``spv_equity``),
   the SPV pays K to the tenant (``spv_purchase``: the tenant's own cash paid only its
   equity share). Each drawing is a tranche repaid in ``debt_term`` equal instalments.
5. *Default*: its assets' book value V (its drawings, depreciated by 1/``shell_life`` a
   tick) is written down to the lenders' recovery ``recovery`` x V. Equity holders lose
   their stakes' value max(0, V - D) first, lenders D - min(recovery x V, D); a residual-
   value guarantee makes the tenant pay the lenders G = min(``rvg`` x size, their loss)
   (``rvg``), moving G of the loss to the tenant. It finances, leases and pays nothing
   more.

Exposures (the risk book, ``market.risk``; project ``"<SPV>:shell"``): lenders D
(source ``spv_debt``), equity holders max(0, V - D) by share (``spv_equity``); realised
losses are the falls of those values on default, so they add up to max(V, D) - recovery
x V.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from market.ledger import EXTERNAL
from market.tolerance import REL_QUANTITY

if TYPE_CHECKING:
    from market.ledger import Ledger
    from market.model import MarketModel
    from market.scenario import SpvSpec

#: Ledger kinds of an SPV's financing (capital, not operating profit).
FINANCING_KINDS = ("spv_debt", "spv_equity", "spv_purchase", "spv_principal", "rvg")
#: Goods an SPV buys from its tenant.
MW_GOODS = ("shell", "power")


@dataclass(slots=True)
class Spv:
    """One SPV's state ($ unless stated)."""

    spec: SpvSpec
    drawn: float = 0.0  # $ of shells and MW bought so far
    tranches: list[list[float]] = field(default_factory=list)  # [outstanding, instalment]
    asset: float = 0.0  # book value of its shells and MW
    mw: float = 0.0  # MW under lease
    lease_share: float = 1.0  # u: share of the lease still in force
    defaulted: bool = False
    default_tick: int | None = None
    why: str = ""  # "tenant left" or "rent below debt service"
    rent: float = 0.0  # this tick
    service: float = 0.0  # this tick's debt service due
    rvg_paid: float = 0.0
    lenders_share: float = 1.0  # after default: the lenders' share of the recovered assets

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def debt(self) -> float:
        return sum(o for o, _ in self.tranches)

    @property
    def lenders(self) -> str:
        return f"{self.spec.name} lenders"

    @property
    def investors(self) -> str:
        return f"{self.spec.name} investors"


class SpvDesk:
    """The scenario's SPVs (one desk per model)."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.spvs = [Spv(s) for s in sorted(model.world.spvs, key=lambda s: s.name)]

    def settle(self, ledger: Ledger) -> None:
        """Renewals, drawings, rent, debt service and defaults of this tick (module doc)."""
        if not self.spvs:
            return
        m = self.model
        t = m.tick
        tenants = {v.spec.tenant for v in self.spvs}
        paid: dict[str, float] = defaultdict(float)  # tenant -> $ of shells and MW
        mw: dict[str, float] = defaultdict(float)  # tenant -> MW of shell bought
        for payer, payee, amount, kind in ledger.rows:
            if payer in tenants and payee != payer:
                head, _, good = kind.partition(":")
                if head in ("spot", "contract") and good in MW_GOODS:
                    paid[payer] += amount
        for tenant in tenants:
            mw[tenant] = sum(m.outcome.inflows(tenant, "shell").values())
        shell_life = m.world.behaviour.shell_life
        rate_of = {v.name: (1 + v.spec.rate) ** (1 / m.world.meta.ticks_per_year) - 1
                   for v in self.spvs}  # fmt: skip
        for v in self.spvs:
            v.rent = v.service = 0.0
            if v.defaulted:
                self._value(v, shell_life)
                continue
            s = v.spec
            tenant = m.by_name[s.tenant]
            if tenant.defaulted:
                self._default(v, ledger, "tenant left")
                continue
            if v.mw > 0 and t > s.start and (t - s.start) % s.lease_term == 0:
                idle = tenant.available - tenant.sold
                idle = idle if idle > REL_QUANTITY * max(1.0, tenant.available) else 0.0
                back = min(v.mw, idle * tenant.spec.mw_per_h100e)
                if back > 0:
                    v.lease_share *= 1 - back / v.mw
                    tenant.give_back_shells(back)
                    v.mw -= back
            r = rate_of[v.name]
            debt = v.debt
            due = [min(o, i) for o, i in v.tranches]
            v.service = r * debt + sum(due)
            if v.service > 0:
                v.rent = v.lease_share * s.coverage * v.service
                if v.rent < v.service * (1 - 1e-12):
                    ledger.pay(s.tenant, v.name, v.rent, "spv_rent")
                    ledger.pay(v.name, EXTERNAL, v.rent, "spv_interest")
                    left = v.lease_share <= 0
                    self._default(v, ledger, "tenant left" if left else "rent below debt service")
                    continue
                ledger.pay(s.tenant, v.name, v.rent, "spv_rent")
                ledger.pay(v.name, EXTERNAL, r * debt, "spv_interest")
                ledger.pay(v.name, EXTERNAL, sum(due), "spv_principal")
                for tr, d in zip(v.tranches, due):
                    tr[0] -= d
                v.tranches = [tr for tr in v.tranches if tr[0] > 1e-9 * max(1.0, s.size)]
                dividend = v.rent - v.service
                ledger.pay(v.name, s.tenant, dividend * s.tenant_equity, "spv_dividend")
                ledger.pay(v.name, EXTERNAL, dividend * (1 - s.tenant_equity), "spv_dividend")
            k = 0.0
            if t >= s.start and v.drawn < s.size and paid.get(s.tenant, 0.0) > 0:
                k = min(s.size - v.drawn, paid[s.tenant])
                self._draw(v, ledger, k)
                v.mw += mw.get(s.tenant, 0.0) * k / paid[s.tenant]
            self._value(v, shell_life, k)

    def _draw(self, v: Spv, ledger: Ledger, k: float) -> None:
        s = v.spec
        debt = s.debt_share * k
        equity = k - debt
        ledger.pay(EXTERNAL, v.name, debt, "spv_debt")
        ledger.pay(EXTERNAL, v.name, equity * (1 - s.tenant_equity), "spv_equity")
        ledger.pay(s.tenant, v.name, equity * s.tenant_equity, "spv_equity")
        ledger.pay(v.name, s.tenant, k, "spv_purchase")
        v.drawn += k
        if debt > 0:
            v.tranches.append([debt, debt / s.debt_term])
        self.model.risk.spv_financed[s.tenant] += k

    def _stakes(self, v: Spv) -> list[tuple[str, str, str, float]]:
        """(party, party type, source, share of equity or 1 for the debt)."""
        s = v.spec
        return [
            (v.lenders, "lender", "spv_debt", 1.0),
            (v.investors, "investor", "spv_equity", 1 - s.tenant_equity),
            (s.tenant, "Hyperscaler", "spv_equity", s.tenant_equity),
        ]

    def _value(self, v: Spv, shell_life: int, k: float = 0.0) -> None:
        """Depreciate its assets, add this tick's drawing and value every stake: lenders
        the debt outstanding, equity holders max(0, assets - debt) by share; after a
        default, the lenders their share of the recovered assets (depreciating)."""
        v.asset = v.asset * (1 - 1 / shell_life) + k
        if v.drawn <= 0:
            return
        risk = self.model.risk
        p = risk.project(v.name, "shell", managed=True)
        s = v.spec
        if v.defaulted:
            debt, equity = v.lenders_share * v.asset, (1 - v.lenders_share) * v.asset
        else:
            debt, equity = v.debt, max(0.0, v.asset - v.debt)
        for party, kind, source, share in self._stakes(v):
            if share <= 0:
                continue
            value = debt if source == "spv_debt" else equity * share
            fin = k * (s.debt_share if source == "spv_debt" else (1 - s.debt_share) * share)
            risk.set_value(p, party, kind, source, value, fin)

    def _default(self, v: Spv, ledger: Ledger, why: str) -> None:
        """Write its assets down to the lenders' recovery; losses by seniority; the
        residual-value guarantee (module doc, step 5)."""
        m = self.model
        s = v.spec
        v.defaulted, v.default_tick, v.why = True, m.tick, why
        v.mw = 0.0
        v.lease_share = 0.0
        shell_life = m.world.behaviour.shell_life
        v.asset *= 1 - 1 / shell_life  # this tick's depreciation first
        debt = v.debt
        recovered = s.recovery * v.asset
        equity = max(0.0, v.asset - debt)
        lenders_keep = min(recovered, debt)
        equity_keep = max(0.0, recovered - debt)
        loss = {(v.lenders, "spv_debt"): debt - lenders_keep}
        for party, _, source, share in self._stakes(v)[1:]:
            loss[(party, source)] = (equity - equity_keep) * share
        tenant = m.by_name[s.tenant]
        g = 0.0
        if s.rvg > 0 and not tenant.defaulted:
            g = min(s.rvg * s.size, loss[(v.lenders, "spv_debt")])
            ledger.pay(s.tenant, EXTERNAL, g, "rvg")
            loss[(v.lenders, "spv_debt")] -= g
            loss[(s.tenant, "rvg")] = g
            v.rvg_paid = g
        # After default the lenders own what they recovered; the equity holders what is left.
        v.tranches = []
        v.asset = recovered
        v.lenders_share = lenders_keep / recovered if recovered > 0 else 1.0
        risk = m.risk
        p = risk.project(v.name, "shell", managed=True)
        for party, kind, source, share in self._stakes(v):
            if share <= 0:
                continue
            value = lenders_keep if source == "spv_debt" else equity_keep * share
            risk.set_value(p, party, kind, source, value, 0.0, loss.get((party, source), 0.0))
        if g > 0:
            risk.set_value(p, s.tenant, "Hyperscaler", "rvg", 0.0, 0.0, g)
