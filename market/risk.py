"""Who bears the risk of each expansion: a book of stakes, their exposure and losses (ODD 7.18).

Every expansion of capacity (a supplier's line or DRAM wafer pool, a hyperscaler's
installs: accelerators, MW, networking and shells; an SPV's shells and MW) is recorded
with who financed it and with what, through one function other code calls:
:meth:`RiskBook.record_expansion` (``source`` one of ``SOURCES``; ``"balance_sheet"``
is split when the tick closes into ``own_cash`` and ``debt``). A project is one
owner's asset (``"<owner>:<asset>"``, e.g. ``"TSMC:wafer"``, ``"Meta:fleet"``); a stake
is one (project, party, source) with

- ``invested``: $ put in so far; ``financed``: $ put in this tick;
- ``value``: its book value, the exposure ($ at risk): ``value <- value x (1 - 1/L) +
  financed`` each tick, L the asset's life in ticks (``behaviour.capacity_life``, a
  fleet's ``fleet_life``); the unimpaired value follows the same rule without write-downs;
- ``loss``: $ realised this tick, the write-down of its value.

Write-down (stranded capacity): with i_t = 1 - sold / available the project's idle
share at tick t, from its owner's capacity rows (a DRAM wafer pool: all of its maker's
rows; a fleet: the ``compute`` row; 0 when nothing is available) and ī its mean over the
last N = ``behaviour.stranded_ticks`` ticks (ī = 1 once its owner has defaulted), the
project is stranded when ī >= ``behaviour.stranded_idle_share`` (with N ticks of history;
at once on default); then every stake's value becomes ``min(value, (1 - ī) x
unimpaired)`` and the difference is its realised loss. Structures that value their own
stakes (SPVs, ``market/spv.py``; vendor financing and backstops, ``_structure``) register
them ``managed`` and set value and loss themselves. So for every stake but a backstop's,
realised loss = the fall in its book value beyond depreciation: the risk table's losses
add up to the written-down capacity's value (a backstop's loss is the $ its guarantor
paid for idle compute, beside the neocloud's write-down).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from market.goods import GOODS

if TYPE_CHECKING:
    from market.ledger import Ledger
    from market.model import MarketModel

#: How an expansion was financed (``balance_sheet`` is split into own_cash and debt).
SOURCES = (
    "own_cash", "debt", "prepayment", "spv_debt", "spv_equity", "rvg", "vendor_financing",
    "lease", "backstop",
)  # fmt: skip
BALANCE_SHEET = "balance_sheet"

#: Ledger kinds of the structures of ODD 7.17 the book holds as managed stakes, and the
#: asset (and source) of their project.
STRUCTURES = {"vendor_investment": "vendor_financing", "backstop": "backstop"}

#: Goods a hyperscaler's installs consume that are capital (its fleet project's capex).
FLEET_GOODS = tuple(g for g, info in GOODS.items() if info.durable and g != "tools")

#: Columns of the ``risk`` table (after ``tick``).
COLUMNS = (
    "project", "owner", "party", "party_type", "source", "financed", "invested", "exposure",
    "realised_loss",
)  # fmt: skip


@dataclass(slots=True)
class Stake:
    """One party's stake in one project, financed one way ($)."""

    party: str
    party_type: str
    source: str
    financed: float = 0.0  # $ this tick
    invested: float = 0.0  # $ so far
    value: float = 0.0  # book value: the exposure
    unimpaired: float = 0.0  # book value without write-downs
    loss: float = 0.0  # $ realised this tick
    loss_total: float = 0.0


@dataclass(slots=True)
class Project:
    """One owner's asset: capacity it built, with the stakes that financed it."""

    name: str
    owner: str
    asset: str  # a capacity row's good, "fleet" (the compute row) or "dram_wafer" (all rows)
    life: float  # ticks; 0 for a managed project
    managed: bool = False
    stakes: dict[tuple[str, str], Stake] = field(default_factory=dict)
    idles: list[float] = field(default_factory=list)  # idle shares of the last N ticks
    idle: float = 0.0  # their mean

    def stake(self, party: str, party_type: str, source: str) -> Stake:
        s = self.stakes.get((party, source))
        if s is None:
            s = self.stakes[(party, source)] = Stake(party, party_type, source)
        return s


class RiskBook:
    """The model's book of expansions (one per model): record, value, write down."""

    def __init__(self, model: MarketModel) -> None:
        self.model = model
        self.projects: dict[str, Project] = {}
        self._pending: dict[str, list[tuple[Project, float]]] = defaultdict(list)
        self.spv_financed: dict[str, float] = defaultdict(float)  # tenant -> $ this tick

    def party_type(self, party: str) -> str:
        a = self.model.by_name.get(party)
        return type(a).__name__ if a is not None else "outside"

    def project(self, owner: str, asset: str, life: float = 0.0, managed: bool = False) -> Project:
        """The project ``"<owner>:<asset>"``, created on first use."""
        name = f"{owner}:{asset}"
        p = self.projects.get(name)
        if p is None:
            p = self.projects[name] = Project(name, owner, asset, life, managed)
        return p

    def record_expansion(
        self,
        owner: str,
        asset: str,
        cost: float,
        source: str = BALANCE_SHEET,
        party: str | None = None,
        party_type: str | None = None,
        life: float | None = None,
    ) -> Project | None:
        """Record ``cost`` $ of new capacity ``asset`` of ``owner`` financed by ``party``
        (default the owner) with ``source`` (``SOURCES``, or ``"balance_sheet"``: the
        owner's own cash and debt, split when the tick closes). ``life``: ticks over which
        the book depreciates it (default: ``behaviour.capacity_life``). Call it in the tick
        the money is paid. Returns the project (None for a cost <= 0)."""
        if cost <= 0:
            return None
        if source != BALANCE_SHEET and source not in SOURCES:
            raise ValueError(f"risk source {source!r}: use one of {SOURCES} or 'balance_sheet'")
        if life is None:
            life = self.model.world.behaviour.capacity_life
        p = self.project(owner, asset, life)
        if source == BALANCE_SHEET:
            self._pending[owner].append((p, cost))
            return p
        party = party or owner
        s = p.stake(party, party_type or self.party_type(party), source)
        s.financed += cost
        return p

    def set_value(
        self, project: Project, party: str, party_type: str, source: str, value: float,
        financed: float = 0.0, loss: float = 0.0,
    ) -> None:  # fmt: skip
        """A managed project's stake: $ financed this tick, its value and realised loss."""
        s = project.stake(party, party_type, source)
        s.financed += financed
        s.value = s.unimpaired = value
        s.loss += loss

    # ------------------------------------------------------------------ the tick
    def close_tick(self, ledger: Ledger) -> None:
        """After the tick's payments (and defaults): the hyperscalers' installs, the split
        of balance-sheet spending into own cash and debt, depreciation and write-downs."""
        m = self.model
        fleet = set(FLEET_GOODS)
        spend: dict[str, float] = defaultdict(float)
        for payer, payee, amount, kind in ledger.rows:
            head, _, good = kind.partition(":")
            if good in fleet and head in ("spot", "contract") and payer != payee:
                a = m.by_name.get(payer)
                if a is not None and a.buys_fleet:
                    spend[payer] += amount
            elif kind in STRUCTURES and amount > 0:
                self._structure(payer, payee, amount, kind)
        for name in sorted(spend):
            own = spend[name] - self.spv_financed.get(name, 0.0)
            a = m.by_name[name]
            self.record_expansion(name, "fleet", own, life=a.spec.fleet_life)
        self.spv_financed.clear()
        for p in self.projects.values():  # a structure's stake is lost with its recipient
            if p.managed and p.asset in STRUCTURES.values() and m.by_name[p.owner].defaulted:
                for st in p.stakes.values():
                    st.loss += st.value
                    st.value = 0.0
        if self._pending:
            net = ledger.net()
            for owner, items in self._pending.items():
                a = m.by_name[owner]
                after = a.cash + net.get(owner, 0.0)
                borrowed = max(0.0, -after) - max(0.0, -a.cash)  # new debt this tick
                total = sum(c for _, c in items)
                debt_share = min(1.0, max(0.0, borrowed) / total) if total > 0 else 0.0
                kind = type(a).__name__
                for p, cost in items:
                    if debt_share < 1.0:
                        p.stake(owner, kind, "own_cash").financed += cost * (1 - debt_share)
                    if debt_share > 0.0:
                        p.stake(owner, kind, "debt").financed += cost * debt_share
            self._pending.clear()
        b = m.world.behaviour
        rows = {}
        for p in self.projects.values():
            if p.managed:
                continue
            owner = m.by_name[p.owner]
            if owner.name not in rows:
                rows[owner.name] = owner.capacity_rows()
            p.idles.append(idle_share(rows[owner.name], p.asset, owner.defaulted))
            del p.idles[: -b.stranded_ticks]
            p.idle = 1.0 if owner.defaulted else sum(p.idles) / len(p.idles)
            write = owner.defaulted or (
                len(p.idles) == b.stranded_ticks and p.idle >= b.stranded_idle_share
            )
            keep = 1.0 - 1.0 / p.life
            for s in p.stakes.values():
                s.value = s.value * keep + s.financed
                s.unimpaired = s.unimpaired * keep + s.financed
                if write:
                    new = min(s.value, (1.0 - p.idle) * s.unimpaired)
                    s.loss += s.value - new
                    s.value = new

    def _structure(self, payer: str, payee: str, amount: float, kind: str) -> None:
        """A financing structure of ODD 7.17 as a managed stake of its payer in the payee.

        Vendor financing (ledger ``vendor_investment``, designer -> lab): the designer's $
        sit in the lab (project ``"<lab>:vendor_financing"``; they come back as chip
        purchases, the fleets' own expansions), exposure = $ invested, lost if the lab
        defaults. A backstop (``backstop``, guarantor -> neocloud): the guarantor pays for
        compute nobody rents, so every $ is a realised loss the day it is paid (project
        ``"<neocloud>:backstop"``, exposure 0)."""
        p = self.project(payee, STRUCTURES[kind], managed=True)
        st = p.stake(payer, self.party_type(payer), STRUCTURES[kind])
        st.financed += amount
        if kind == "backstop":
            st.loss += amount
        else:
            st.value += amount
            st.unimpaired += amount

    def rows(self, tick: int) -> dict[str, list]:
        """This tick's rows of the ``risk`` table (one per stake with money in it), and
        reset the per-tick amounts."""
        cols: dict[str, list] = {c: [] for c in ("tick", *COLUMNS)}
        for name in sorted(self.projects):  # rows in project order, whoever expanded first
            p = self.projects[name]
            for s in p.stakes.values():
                s.invested += s.financed
                s.loss_total += s.loss
                if s.invested <= 0 and s.loss <= 0:
                    continue
                for c, v in zip(
                    ("tick", *COLUMNS),
                    (tick, p.name, p.owner, s.party, s.party_type, s.source, s.financed,
                     s.invested, s.value, s.loss),
                ):  # fmt: skip
                    cols[c].append(v)
                s.financed = s.loss = 0.0
        return cols


def idle_share(rows: list[tuple[str, float, float, float]], asset: str, defaulted: bool) -> float:
    """1 - sold / available over the capacity rows (good, capacity, available, sold) that
    carry ``asset`` ("fleet": the compute row; an asset without a row of its own, such as
    a DRAM wafer pool ``dram_wafer``: all its owner's rows; else the row of that good);
    1 for a defaulted owner, 0 when nothing is available."""
    if defaulted:
        return 1.0
    good = "compute" if asset == "fleet" else asset
    whole = not any(g == good for g, *_ in rows)  # e.g. a DRAM wafer pool
    avail = sold = 0.0
    for g, _, a, s in rows:
        if whole or g == good:
            avail += a
            sold += s
    return max(0.0, 1.0 - sold / avail) if avail > 0 else 0.0
