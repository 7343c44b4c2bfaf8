"""The order book: plain, frozen data that one tick's clearing takes in.

Units: every quantity is in its good's unit per tick (wafers, GB of HBM,
CoWoS wafer-equivalents, H100e, MW, H100e-quarters); every price and cost is
in US dollars per unit of the good. Agents are identified by any hashable id
(the market uses Mesa's integer ``unique_id`` or a name).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from operator import attrgetter, eq, itemgetter
from typing import Any

import numpy as np

from optimizers.errors import OrderBookError

AgentId = Hashable
Good = str
# HiGHS treats any bound or cost of this size or more as infinite.
SOLVER_INFINITY = 1e20


@dataclass(frozen=True, slots=True)
class Bid:
    """A buy order: up to ``quantity`` units of ``good`` at ``agent``, at most ``price`` $/unit."""

    agent: AgentId
    good: Good
    quantity: float
    price: float


@dataclass(frozen=True, slots=True)
class Ask:
    """A sell order: up to ``quantity`` units of ``good`` at ``agent``, at least ``price`` $/u."""

    agent: AgentId
    good: Good
    quantity: float
    price: float


@dataclass(frozen=True, slots=True)
class Recipe:
    """Production at ``agent``: each unit of ``output`` consumes ``inputs[g]`` units of good g.

    At most ``capacity`` units of output per tick; ``cost`` $ per unit of output on
    top of the inputs.
    """

    agent: AgentId
    output: Good
    inputs: Mapping[Good, float]
    capacity: float = math.inf
    cost: float = 0.0

    def __post_init__(self) -> None:
        # Freeze the inputs into a plain dict in a stable (sorted) order.
        object.__setattr__(self, "inputs", dict(sorted(dict(self.inputs).items())))


@dataclass(frozen=True, slots=True)
class Route:
    """``good`` may move from ``seller``'s node to ``buyer``'s node.

    ``capacity`` units per tick (inf = unlimited), ``cost`` $ per unit moved;
    ``allowed=False`` closes the route (an export control) so it carries nothing.
    """

    seller: AgentId
    buyer: AgentId
    good: Good
    capacity: float = math.inf
    cost: float = 0.0
    allowed: bool = True


@dataclass(frozen=True, slots=True)
class Commitment:
    """A contracted delivery this tick, served before the spot market.

    ``quantity`` units of ``good`` travel from ``seller`` to ``buyer`` along the
    route between them; ``price`` ($/unit) is the contract price, used in
    settlement, not in the clearing. A shortfall is possible at a penalty and is
    reported per commitment.
    """

    id: Hashable
    seller: AgentId
    buyer: AgentId
    good: Good
    quantity: float
    price: float


@dataclass(frozen=True, slots=True)
class Block:
    """An all-or-nothing group of bids and asks, accepted at one common ratio.

    The ratio is 0, or in ``[min_ratio, 1]``; ``min_ratio=1`` means fill-or-kill.
    """

    id: Hashable
    bids: tuple[Bid, ...] = ()
    asks: tuple[Ask, ...] = ()
    min_ratio: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "bids", tuple(self.bids))
        object.__setattr__(self, "asks", tuple(self.asks))


@dataclass(frozen=True, slots=True)
class OrderBook:
    """Everything one tick's clearing needs.

    ``agents`` and ``goods`` may list the tick's nodes and goods explicitly; when
    empty, they are inferred from the orders (so a typo in a recipe input or a
    route end shows up as an unknown good or agent).
    """

    bids: tuple[Bid, ...] = ()
    asks: tuple[Ask, ...] = ()
    recipes: tuple[Recipe, ...] = ()
    routes: tuple[Route, ...] = ()
    commitments: tuple[Commitment, ...] = ()
    blocks: tuple[Block, ...] = ()
    agents: tuple[AgentId, ...] = field(default=())
    goods: tuple[Good, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in (
            "bids",
            "asks",
            "recipes",
            "routes",
            "commitments",
            "blocks",
            "agents",
            "goods",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _where(section: str, index: int, entry: Any) -> str:
    return f"OrderBook.{section}[{index}] ({entry!r})"


def _check_number(
    value: Any,
    section: str,
    index: int,
    entry: Any,
    name: str,
    *,
    allow_inf: bool = False,
    positive: bool = False,
) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and not math.isnan(value)
    if ok and math.isinf(value) and not (allow_inf and value > 0):
        ok = False
    if ok and math.isfinite(value) and abs(value) >= SOLVER_INFINITY:
        unlimited = " (use math.inf for unlimited)" if allow_inf else ""
        raise OrderBookError(
            f"{_where(section, index, entry)}: field '{name}' is {value!r}, at or above "
            f"{SOLVER_INFINITY:.0e}, which HiGHS reads as infinite{unlimited}; rescale the "
            "units of this good so its numbers stay below that."
        )
    if ok and (value <= 0 if positive else value < 0):
        ok = False
    if not ok:
        bound = "> 0" if positive else ">= 0"
        kind = "a number (inf allowed)" if allow_inf else "a finite number"
        raise OrderBookError(
            f"{_where(section, index, entry)}: field '{name}' is {value!r}; "
            f"it must be {kind} {bound}. Fix the order that produced it."
        )


def _known(book: OrderBook, cols: BookColumns) -> tuple[set, set]:
    """The agents and goods the book names (its own lists, else those its orders use)."""
    agents: set = set(book.agents)
    goods: set = set(book.goods)
    first, second, third = itemgetter(0), itemgetter(1), itemgetter(2)
    if not book.agents:
        for nodes in (cols.bid_nodes, cols.ask_nodes, cols.recipe_nodes, cols.block_order_nodes):
            agents.update(map(first, nodes))
        agents.update(map(first, cols.commitment_keys))
        agents.update(map(second, cols.commitment_keys))
    if not book.goods:
        for nodes in (cols.bid_nodes, cols.ask_nodes, cols.recipe_nodes, cols.block_order_nodes):
            goods.update(map(second, nodes))
        goods.update(map(third, cols.route_keys))
        goods.update(map(third, cols.commitment_keys))
    return agents, goods


def _check_node(
    agent: Any, good: Any, agents: set, goods: set, section: str, index: int, entry: Any, field: str
) -> None:
    if agent not in agents:
        raise OrderBookError(
            f"{_where(section, index, entry)}: field '{field}' names unknown agent {agent!r}; "
            "add it to OrderBook.agents or correct the id."
        )
    if good not in goods:
        raise OrderBookError(
            f"{_where(section, index, entry)}: field 'good' names unknown good {good!r}; "
            "add it to OrderBook.goods or correct the name."
        )


def _all_valid(
    values: Iterable[Any],
    allow_inf: bool = False,
    positive: bool = False,
    top: float | None = None,
    as_array: Callable[[], np.ndarray] | None = None,
) -> bool:
    """Fast vectorised screen: True if every value is a number >= 0 (> 0 if ``positive``,
    at most ``top`` if given; finite unless allowed).

    When it says False, the per-entry checks run and name the culprit. ``as_array``
    (e.g. ``BookColumns.floats``) converts the values once the types have passed.
    """
    values = values if isinstance(values, list) else list(values)
    if not all(issubclass(t, Real) and t is not bool for t in set(map(type, values))):
        return False
    try:
        a = as_array() if as_array else np.fromiter(values, dtype=np.float64, count=len(values))
    except (TypeError, ValueError):
        return False
    ok = a > 0 if positive else a >= 0  # False for NaN
    if top is not None:
        ok &= a <= top
    if not allow_inf:
        ok &= np.isfinite(a)
    ok &= ~np.isfinite(a) | (a < SOLVER_INFINITY)
    return bool(ok.all())


@dataclass(frozen=True, slots=True)
class BookColumns:
    """One pass over a book's bids, asks, routes and commitments, as columns.

    Per section, the structural ids (``*_nodes``: (agent, good); ``*_keys``:
    (seller, buyer, good)) as lists, and the numbers as they were given (lists,
    so validation still sees their types). Validation, the shape key and the LP
    data all read these instead of walking the book again.
    """

    bid_nodes: list
    bid_quantity: list
    bid_price: list
    ask_nodes: list
    ask_quantity: list
    ask_price: list
    route_keys: list
    route_capacity: list
    route_cost: list
    route_allowed: list
    commitment_keys: list
    commitment_quantity: list
    commitment_price: list
    commitment_ids: list
    recipe_nodes: list  # (agent, output)
    recipe_inputs: list  # {good: units per unit of output}
    recipe_capacity: list
    recipe_cost: list
    # Blocks: their ids and min ratios, and every order of every block flattened
    # (bids then asks, block by block) with the index of its block.
    block_ids: list
    block_min_ratio: list
    block_order_block: list
    block_order_nodes: list
    block_order_quantity: list
    block_order_price: list
    block_order_is_bid: list
    _arrays: dict = field(default_factory=dict, repr=False, compare=False)

    def floats(self, name: str) -> np.ndarray:
        """The number column ``name`` as a read-only float64 array, converted once."""
        a = self._arrays.get(name)
        if a is None:
            values = getattr(self, name)
            a = np.fromiter(values, dtype=np.float64, count=len(values))
            a.setflags(write=False)
            self._arrays[name] = a
        return a

    def valid(self, name: str, **screen: Any) -> bool:
        """The vectorised screen (``_all_valid``) of number column ``name``."""
        return _all_valid(getattr(self, name), as_array=lambda: self.floats(name), **screen)


def compile_book(book: OrderBook) -> BookColumns:
    """The book's per-section columns (see :class:`BookColumns`), one C-level pass each."""
    node, numbers = attrgetter("agent", "good"), (attrgetter("quantity"), attrgetter("price"))
    key = attrgetter("seller", "buyer", "good")
    bids, asks, routes, cs = book.bids, book.asks, book.routes, book.commitments
    recipes, blocks = book.recipes, book.blocks
    orders = [(i, o, True) for i, b in enumerate(blocks) for o in b.bids]
    orders += [(i, o, False) for i, b in enumerate(blocks) for o in b.asks]
    orders.sort(key=itemgetter(0))  # stable: each block's bids, then its asks
    block_orders = [o for _, o, _ in orders]
    return BookColumns(
        commitment_ids=list(map(attrgetter("id"), cs)),
        recipe_nodes=list(map(attrgetter("agent", "output"), recipes)),
        recipe_inputs=list(map(attrgetter("inputs"), recipes)),
        recipe_capacity=list(map(attrgetter("capacity"), recipes)),
        recipe_cost=list(map(attrgetter("cost"), recipes)),
        block_ids=list(map(attrgetter("id"), blocks)),
        block_min_ratio=list(map(attrgetter("min_ratio"), blocks)),
        block_order_block=[i for i, _, _ in orders],
        block_order_nodes=list(map(node, block_orders)),
        block_order_quantity=list(map(numbers[0], block_orders)),
        block_order_price=list(map(numbers[1], block_orders)),
        block_order_is_bid=[is_bid for _, _, is_bid in orders],
        bid_nodes=list(map(node, bids)),
        bid_quantity=list(map(numbers[0], bids)),
        bid_price=list(map(numbers[1], bids)),
        ask_nodes=list(map(node, asks)),
        ask_quantity=list(map(numbers[0], asks)),
        ask_price=list(map(numbers[1], asks)),
        route_keys=list(map(key, routes)),
        route_capacity=list(map(attrgetter("capacity"), routes)),
        route_cost=list(map(attrgetter("cost"), routes)),
        route_allowed=list(map(attrgetter("allowed"), routes)),
        commitment_keys=list(map(key, cs)),
        commitment_quantity=list(map(numbers[0], cs)),
        commitment_price=list(map(numbers[1], cs)),
    )


def _routes_ok(cols: BookColumns, agents: set, goods: set) -> bool:
    """Vectorised screen of the routes' structure (known ends, distinct ends, no
    duplicate); False sends them to the per-entry checks."""
    keys = cols.route_keys
    if not keys:
        return True
    sellers, buyers, route_goods = zip(*keys)
    return (
        agents.issuperset(sellers)
        and agents.issuperset(buyers)
        and goods.issuperset(route_goods)
        and not any(map(eq, sellers, buyers))
        and len(set(keys)) == len(keys)
    )


def validate(
    book: OrderBook, columns: BookColumns | None = None, *, structure_checked: bool = False
) -> None:
    """Raise :class:`OrderBookError` naming the first malformed entry and field.

    ``columns`` (from :func:`compile_book` of this book) saves a walk over the book.
    Each section is screened on its columns at once; only a section the screen
    refuses is walked entry by entry, to name the culprit. ``structure_checked``
    says this book's structure (its ``form.shape_key``, ``agents`` and ``goods``)
    equals that of a book already validated, so only what a book of that shape
    can change is checked: the numbers, the ``allowed`` flags and the ids.
    """
    cols = columns if columns is not None else compile_book(book)
    structure = not structure_checked
    first, second = itemgetter(0), itemgetter(1)
    names: list[tuple[set, set]] = []

    def known() -> tuple[set, set]:
        if not names:
            names.append(_known(book, cols))
        return names[0]

    def nodes_known(nodes: list) -> bool:
        agents, goods = known()
        return agents.issuperset(map(first, nodes)) and goods.issuperset(map(second, nodes))

    for section, orders, nodes in (
        ("bids", book.bids, cols.bid_nodes),
        ("asks", book.asks, cols.ask_nodes),
    ):
        side = section[:-1]
        numbers_ok = cols.valid(f"{side}_quantity") and cols.valid(f"{side}_price")
        if numbers_ok and (not structure or nodes_known(nodes)):
            continue
        agents, goods = known()
        for i, o in enumerate(orders):
            _check_number(o.quantity, section, i, o, "quantity")
            _check_number(o.price, section, i, o, "price")
            _check_node(o.agent, o.good, agents, goods, section, i, o, "agent")
    if not _recipes_ok(cols, structure, known):
        _check_recipes(book, *known())
    routes_ok = (
        cols.valid("route_capacity", allow_inf=True)
        and cols.valid("route_cost")
        and set(map(type, cols.route_allowed)) <= {bool}
        and (not structure or _routes_ok(cols, *known()))
    )
    if not routes_ok:
        _check_routes(book, *known())
    cs = book.commitments
    commitments_ok = (
        cols.valid("commitment_quantity")
        and cols.valid("commitment_price")
        and len(set(cols.commitment_ids)) == len(cs)
        and (not structure or set(cols.commitment_keys) <= set(cols.route_keys))
    )
    if cs and not commitments_ok:
        _check_commitments(book, set(cols.route_keys), *known())
    blocks_ok = (
        len(set(cols.block_ids)) == len(book.blocks)
        and cols.valid("block_order_quantity")
        and cols.valid("block_order_price")
        and (
            not structure
            or (
                _all_valid(cols.block_min_ratio, positive=True, top=1.0)
                and len(set(cols.block_order_block)) == len(book.blocks)  # none empty
                and nodes_known(cols.block_order_nodes)
            )
        )
    )
    if book.blocks and not blocks_ok:
        _check_blocks(book, *known())


def _recipes_ok(cols: BookColumns, structure: bool, known) -> bool:
    """Vectorised screen of the recipes; False sends them to the per-entry checks."""
    caps, inputs = cols.recipe_capacity, cols.recipe_inputs
    if not (cols.valid("recipe_capacity", allow_inf=True) and cols.valid("recipe_cost")):
        return False
    # No inputs and no capacity limit: free, unbounded output (capacity is data).
    if any(not units and math.isinf(cap) for units, cap in zip(inputs, caps)):
        return False
    if not structure:
        return True
    agents, goods = known()
    outputs = list(map(itemgetter(1), cols.recipe_nodes))
    used = [g for units in inputs for g in units]
    return (
        agents.issuperset(map(itemgetter(0), cols.recipe_nodes))
        and goods.issuperset(outputs)
        and goods.issuperset(used)
        and not any(map(operator.contains, inputs, outputs))
        and _all_valid([u for units in inputs for u in units.values()], positive=True)
    )


def _check_recipes(book: OrderBook, agents: set, goods: set) -> None:
    for i, r in enumerate(book.recipes):
        _check_number(r.capacity, "recipes", i, r, "capacity", allow_inf=True)
        _check_number(r.cost, "recipes", i, r, "cost")
        if r.agent not in agents:
            raise OrderBookError(
                f"{_where('recipes', i, r)}: field 'agent' names unknown agent {r.agent!r}."
            )
        if r.output not in goods:
            raise OrderBookError(
                f"{_where('recipes', i, r)}: field 'output' names unknown good {r.output!r}."
            )
        if not r.inputs and math.isinf(r.capacity):
            raise OrderBookError(
                f"{_where('recipes', i, r)}: field 'inputs' is empty and capacity is "
                "unlimited, so output would be free and unbounded; give it inputs or "
                "a finite capacity."
            )
        for g, units in r.inputs.items():
            if g not in goods:
                raise OrderBookError(
                    f"{_where('recipes', i, r)}: field 'inputs' names unknown good {g!r}; "
                    f"known goods are {sorted(goods)}. Correct the name or add it to "
                    "OrderBook.goods."
                )
            if g == r.output:
                raise OrderBookError(
                    f"{_where('recipes', i, r)}: field 'inputs' uses its own output {g!r}."
                )
            _check_number(units, "recipes", i, r, f"inputs[{g!r}]", positive=True)


def _check_routes(book: OrderBook, agents: set, goods: set) -> None:
    route_keys: set = set()
    for i, rt in enumerate(book.routes):
        _check_number(rt.capacity, "routes", i, rt, "capacity", allow_inf=True)
        _check_number(rt.cost, "routes", i, rt, "cost")
        _check_node(rt.seller, rt.good, agents, goods, "routes", i, rt, "seller")
        _check_node(rt.buyer, rt.good, agents, goods, "routes", i, rt, "buyer")
        if rt.seller == rt.buyer:
            raise OrderBookError(
                f"{_where('routes', i, rt)}: fields 'seller' and 'buyer' are the same agent."
            )
        if not isinstance(rt.allowed, bool):
            raise OrderBookError(f"{_where('routes', i, rt)}: field 'allowed' must be a bool.")
        key = (rt.seller, rt.buyer, rt.good)
        if key in route_keys:
            raise OrderBookError(
                f"{_where('routes', i, rt)}: duplicate route {key}; merge the two into one."
            )
        route_keys.add(key)


def _check_commitments(book: OrderBook, route_keys: set, agents: set, goods: set) -> None:
    ids: set = set()
    for i, c in enumerate(book.commitments):
        if c.id in ids:
            raise OrderBookError(
                f"{_where('commitments', i, c)}: field 'id' duplicates commitment id {c.id!r}."
            )
        ids.add(c.id)
        _check_number(c.quantity, "commitments", i, c, "quantity")
        _check_number(c.price, "commitments", i, c, "price")
        _check_node(c.seller, c.good, agents, goods, "commitments", i, c, "seller")
        _check_node(c.buyer, c.good, agents, goods, "commitments", i, c, "buyer")
        if (c.seller, c.buyer, c.good) not in route_keys:
            raise OrderBookError(
                f"{_where('commitments', i, c)}: no route from {c.seller!r} to "
                f"{c.buyer!r} for good {c.good!r}; a contracted delivery travels along "
                "a Route, so add one."
            )


def _check_blocks(book: OrderBook, agents: set, goods: set) -> None:
    block_ids: set = set()
    for i, b in enumerate(book.blocks):
        where = _where("blocks", i, b)
        if b.id in block_ids:
            raise OrderBookError(f"{where}: field 'id' duplicates block id {b.id!r}.")
        block_ids.add(b.id)
        if not b.bids and not b.asks:
            raise OrderBookError(f"{where}: fields 'bids' and 'asks' are both empty.")
        mr = b.min_ratio
        if not isinstance(mr, Real) or isinstance(mr, bool) or math.isnan(mr) or not 0 < mr <= 1:
            raise OrderBookError(f"{where}: field 'min_ratio' is {mr!r}; it must be in (0, 1].")
        for section, orders in (("bids", b.bids), ("asks", b.asks)):
            for j, o in enumerate(orders):
                sub = f"blocks[{i}].{section}"
                _check_number(o.quantity, sub, j, o, "quantity")
                _check_number(o.price, sub, j, o, "price")
                _check_node(o.agent, o.good, agents, goods, sub, j, o, "agent")


def iter_nodes(book: OrderBook) -> Iterable[tuple[AgentId, Good]]:
    """Every (agent, good) node the book touches, in order of first appearance."""
    for o in (*book.bids, *book.asks):
        yield (o.agent, o.good)
    for r in book.recipes:
        yield (r.agent, r.output)
        for g in r.inputs:
            yield (r.agent, g)
    for rt in book.routes:
        yield (rt.seller, rt.good)
        yield (rt.buyer, rt.good)
    for c in book.commitments:
        yield (c.seller, c.good)
        yield (c.buyer, c.good)
    for b in book.blocks:
        for o in (*b.bids, *b.asks):
            yield (o.agent, o.good)
