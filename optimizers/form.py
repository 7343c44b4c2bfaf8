"""The clearing LP in standard form: index maps, a sparse matrix and data arrays.

One compiler turns an :class:`OrderBook` into

    maximise    c @ x
    subject to  row_lo <= A @ x <= row_hi
                col_lo <=     x <= col_hi,   x[j] integer where ``integer[j]``

The Pyomo model (``clearing.py``), the direct highspy reference
(``reference.py``) and the price rule (``prices.py``) all read this one layout,
so they cannot disagree on what a column or a row means.

Columns, in this order (each block aligned with the book's tuple of that name):

- ``bid``: units filled of each bid; objective +price ($/unit).
- ``ask``: units sold of each ask; objective -price.
- ``recipe``: units of output made by each recipe; objective -cost.
- ``route``: units moved along each route; objective -cost; upper bound the
  capacity, or 0 when the route is not allowed.
- ``delivery``: units delivered of each commitment; objective +penalty, so the
  welfare carries -penalty * shortfall (a constant is subtracted when reported).
- ``dispose``: free disposal at each node that receives a commitment, so a
  buyer can take a contracted delivery it has no bid for (shortfall measures
  the seller's failure to deliver only).
- ``ratio`` and ``accept``: per block, the accepted ratio in [0, 1] and a binary
  acceptance switch; ``min_ratio * accept <= ratio <= accept``.

Rows: first one balance row per (agent, good) node, written "uses - sources = 0"
(uses: bid fills, outflows, recipe inputs, disposal; sources: ask fills,
inflows, recipe output), so its dual is the price a seller at that node is paid;
then one shared-capacity row per route that carries commitments (spot flow +
deliveries <= capacity); then two link rows per block.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import chain, compress
from operator import itemgetter

import numpy as np

from optimizers.book import AgentId, BookColumns, Good, OrderBook, compile_book

KINDS = ("bid", "ask", "recipe", "route", "delivery", "dispose", "ratio", "accept")


def shape_key(book: OrderBook, columns: BookColumns | None = None) -> tuple:
    """Everything that fixes the LP's structure; quantities, prices, capacities,
    costs and ``allowed`` flags are data and may change without a rebuild.

    ``columns`` (``compile_book(book)``) saves a walk over the book.
    """
    cols = columns if columns is not None else compile_book(book)
    return (
        tuple(cols.bid_nodes),
        tuple(cols.ask_nodes),
        tuple(zip(cols.recipe_nodes, (tuple(units.items()) for units in cols.recipe_inputs))),
        tuple(cols.route_keys),
        tuple(cols.commitment_keys),
        tuple(
            zip(
                cols.block_order_block,
                cols.block_order_is_bid,
                cols.block_order_nodes,
                cols.block_order_quantity,
            )
        ),
        tuple(cols.block_min_ratio),
    )


@dataclass(frozen=True, slots=True)
class Layout:
    """The structure of the LP for one book shape (no prices or quantities)."""

    nodes: tuple[tuple[AgentId, Good], ...]
    node_index: dict[tuple[AgentId, Good], int]
    cols: dict[str, slice]
    num_cols: int
    num_rows: int
    num_balance: int
    shared_routes: np.ndarray  # route index of each shared-capacity row
    dispose_nodes: np.ndarray  # node index of each disposal column
    # Column-wise (CSC) matrix.
    start: np.ndarray
    index: np.ndarray
    value: np.ndarray
    nz_col: np.ndarray  # column of each non-zero (the CSC starts, expanded)
    integer: np.ndarray  # bool per column
    commitment_routes: np.ndarray  # route index of each commitment
    # Units of the book per LP unit: every quantity column, bound and capacity is
    # divided by it (a power of two, so exactly), so HiGHS's absolute tolerances
    # meet numbers near 1 whether the book trades 1e-9 or 1e9 units. Prices are
    # unchanged by it (the objective and the rows scale together).
    scale: float = 1.0


@dataclass(frozen=True, slots=True)
class Data:
    """The numbers of one book on a layout ($/unit for ``c``, units for bounds)."""

    c: np.ndarray
    col_lo: np.ndarray
    col_hi: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    offset: float  # welfare ($) = scale * (c @ x) - offset; offset = penalty * committed units
    penalty: float  # $ per unit of commitment shortfall


def quantity_scale(book: OrderBook, columns: BookColumns | None = None) -> float:
    """The power of two nearest the median positive finite quantity of the book (units)."""
    cols = columns if columns is not None else compile_book(book)
    a = np.concatenate(
        [
            np.asarray(values, dtype=np.float64)
            for values in (
                cols.bid_quantity,
                cols.ask_quantity,
                cols.block_order_quantity,
                cols.recipe_capacity,
                cols.route_capacity,
                cols.commitment_quantity,
            )
        ]
    )
    a = a[np.isfinite(a) & (a > 0)]
    if len(a) == 0:
        return 1.0
    return float(2.0 ** np.round(np.log2(np.median(a))))


def natural(layout: Layout, x: np.ndarray) -> np.ndarray:
    """LP column values in the book's units (block ratios and switches are unitless)."""
    out = x * layout.scale
    for kind in ("ratio", "accept"):
        out[layout.cols[kind]] = x[layout.cols[kind]]
    return out


def _node_order(cols: BookColumns) -> dict:
    """Every (agent, good) node the book touches, numbered in order of first appearance
    (bids, asks, recipes, routes, commitments, blocks; see ``book.iter_nodes``)."""
    recipe_nodes = [
        node
        for (agent, output), inputs in zip(cols.recipe_nodes, cols.recipe_inputs)
        for node in ((agent, output), *((agent, g) for g in inputs))
    ]
    ends = []
    for keys in (cols.route_keys, cols.commitment_keys):
        if keys:
            sellers, buyers, goods = zip(*keys)
            ends.append(chain.from_iterable(zip(zip(sellers, goods), zip(buyers, goods))))
    first = dict.fromkeys(
        chain(cols.bid_nodes, cols.ask_nodes, recipe_nodes, *ends, cols.block_order_nodes)
    )
    return dict(zip(first, range(len(first))))


def build_layout(book: OrderBook, columns: BookColumns | None = None) -> Layout:
    """Index maps and the sparse matrix of a book's LP (book assumed validated).

    ``columns`` (``compile_book(book)``) saves a walk over the book; the matrix is
    assembled from them section by section, without a loop over the entries.
    """
    bc = columns if columns is not None else compile_book(book)
    q = quantity_scale(book, bc)
    node_index = _node_order(bc)
    nodes = tuple(node_index)
    nb = len(nodes)
    row_of = node_index.__getitem__

    sizes = {
        "bid": len(bc.bid_nodes),
        "ask": len(bc.ask_nodes),
        "recipe": len(bc.recipe_nodes),
        "route": len(bc.route_keys),
        "delivery": len(bc.commitment_keys),
    }
    buyer_nodes = [(buyer, good) for _, buyer, good in bc.commitment_keys]
    dispose_nodes = list(dict.fromkeys(map(row_of, buyer_nodes)))
    sizes["dispose"] = len(dispose_nodes)
    sizes["ratio"] = sizes["accept"] = len(bc.block_ids)
    cols: dict[str, slice] = {}
    pos = 0
    for kind in KINDS:
        cols[kind] = slice(pos, pos + sizes[kind])
        pos += sizes[kind]
    ncols = pos

    route_index = dict(zip(bc.route_keys, range(len(bc.route_keys))))
    commit_route = np.fromiter(
        map(route_index.__getitem__, bc.commitment_keys), dtype=np.int64, count=sizes["delivery"]
    )
    shared = np.asarray(list(dict.fromkeys(commit_route.tolist())), dtype=np.int64)
    shared_row = np.full(sizes["route"], -1, dtype=np.int64)
    shared_row[shared] = nb + np.arange(len(shared))
    link0 = nb + len(shared)
    nblocks = sizes["ratio"]
    nrows = link0 + 2 * nblocks

    # Entries (column, row, value), section by section.
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def put(col, row, value) -> None:
        col = np.asarray(col, dtype=np.int64)
        parts.append((col, np.asarray(row, dtype=np.int64), np.broadcast_to(value, col.shape)))

    def rows(node_list: list) -> np.ndarray:
        return np.fromiter(map(row_of, node_list), dtype=np.int64, count=len(node_list))

    def span(kind: str) -> np.ndarray:
        return np.arange(cols[kind].start, cols[kind].stop)

    put(span("bid"), rows(bc.bid_nodes), 1.0)
    put(span("ask"), rows(bc.ask_nodes), -1.0)
    c0 = cols["recipe"].start
    for i, ((agent, output), inputs) in enumerate(zip(bc.recipe_nodes, bc.recipe_inputs)):
        put([c0 + i], [row_of((agent, output))], -1.0)
        put(
            np.full(len(inputs), c0 + i),
            [row_of((agent, g)) for g in inputs],
            np.fromiter(inputs.values(), dtype=np.float64, count=len(inputs)),
        )
    route_cols = span("route")
    sellers = [(s, g) for s, _, g in bc.route_keys]
    put(route_cols, rows(sellers), 1.0)
    put(route_cols, rows([(b, g) for _, b, g in bc.route_keys]), -1.0)
    put(route_cols[shared], shared_row[shared], 1.0)
    delivery_cols = span("delivery")
    put(delivery_cols, rows([(s, g) for s, _, g in bc.commitment_keys]), 1.0)
    put(delivery_cols, rows(buyer_nodes), -1.0)
    put(delivery_cols, shared_row[commit_route], 1.0)
    put(span("dispose"), dispose_nodes, 1.0)
    block = np.asarray(bc.block_order_block, dtype=np.int64)
    sign = np.where(np.asarray(bc.block_order_is_bid, dtype=bool), 1.0, -1.0)
    quantity = np.asarray(bc.block_order_quantity, dtype=np.float64)
    put(cols["ratio"].start + block, rows(bc.block_order_nodes), sign * quantity / q)
    ratio, accept = span("ratio"), span("accept")
    link = link0 + 2 * np.arange(nblocks)
    put(ratio, link, 1.0)  # ratio - accept <= 0
    put(ratio, link + 1, 1.0)  # ratio - min_ratio * accept >= 0
    put(accept, link, -1.0)
    put(accept, link + 1, -np.asarray(bc.block_min_ratio, dtype=np.float64))

    col_arr = np.concatenate([p[0] for p in parts])
    row_arr = np.concatenate([p[1] for p in parts]).astype(np.int32)
    val_arr = np.concatenate([p[2] for p in parts]).astype(np.float64)
    # Sort by (column, row) and sum duplicate entries (e.g. a block holding a bid and
    # an ask at the same node): HiGHS rejects a matrix with repeated entries.
    key = col_arr * nrows + row_arr
    key, first = np.unique(key, return_inverse=True)
    val_arr = np.bincount(first, weights=val_arr, minlength=len(key))
    keep = val_arr != 0.0
    key, val_arr = key[keep], val_arr[keep]
    col_arr, row_arr = key // nrows, (key % nrows).astype(np.int32)
    start = np.searchsorted(col_arr, np.arange(ncols + 1)).astype(np.int32)
    integer = np.zeros(ncols, dtype=bool)
    integer[cols["accept"]] = True
    return Layout(
        nodes=nodes,
        node_index=node_index,
        cols=cols,
        num_cols=ncols,
        num_rows=nrows,
        num_balance=nb,
        shared_routes=shared,
        dispose_nodes=np.asarray(dispose_nodes, dtype=np.int64),
        start=start,
        index=row_arr,
        value=val_arr,
        nz_col=col_arr.astype(np.int64),
        integer=integer,
        commitment_routes=commit_route,
        scale=q,
    )


def _propagate(start: dict[str, float], book: OrderBook, step) -> dict[str, float]:
    """Iterate ``step(recipe, values)`` over the recipes until no value rises, at most one
    pass more than there are goods the recipes make or use: a chain of recipes that
    repeats no good has at most that many links, so every such chain is reached; a cycle
    of recipes (goods made from each other, e.g. two classes of compute) is not followed
    round and round (the LP never runs a cycle of positive cost, and a cost-free one
    adds nothing)."""
    values = dict(start)
    goods = {r.output for r in book.recipes}
    for r in book.recipes:
        goods.update(r.inputs)
    for _ in range(len(goods) + 1):
        changed = False
        for r in book.recipes:
            for g, v in step(r, values):
                if v > values.get(g, 0.0) * (1 + 1e-12):
                    values[g] = v
                    changed = True
        if not changed:
            break
    return values


def _max_by_good(goods: list, values: np.ndarray) -> dict[str, float]:
    """The largest of ``values`` per good (0 if all are below), in order of first appearance."""
    index = dict(zip(dict.fromkeys(goods), range(len(goods))))
    codes = np.fromiter(map(index.__getitem__, goods), dtype=np.int64, count=len(goods))
    top = np.zeros(len(index))
    np.maximum.at(top, codes, values)
    return dict(zip(index, top.tolist()))


def shortfall_penalty(book: OrderBook, columns: BookColumns | None = None) -> float:
    """A penalty ($/unit) above any value or cost one unit of any good can reach here.

    A unit of good g is worth at most the best bid for g or, through a recipe using
    ``r`` units of g per output, the output's worth / r. It costs at most the dearest
    ask for g or, made by a recipe, its cost plus its inputs' costs. Moving it adds
    at most every route cost of its good once, and at most (nodes - 1) times the
    dearest of them. The penalty is 10x the sum of the
    largest worth, the largest cost and that route term, so a commitment is served
    before any spot use of the same unit, and delivered whatever the unit costs.

    ``columns`` (``compile_book(book)``) saves a walk over the book.
    """
    bc = columns if columns is not None else compile_book(book)
    good = itemgetter(1)
    block_bid = np.asarray(bc.block_order_is_bid, dtype=bool)
    block_goods = list(map(good, bc.block_order_nodes))
    block_price = bc.floats("block_order_price")
    worth = _max_by_good(
        [*map(good, bc.bid_nodes), *compress(block_goods, block_bid)],
        np.concatenate([bc.floats("bid_price"), block_price[block_bid]]),
    )
    worth = _propagate(
        worth,
        book,
        lambda r, w: [(g, w.get(r.output, 0.0) / units) for g, units in r.inputs.items()],
    )
    commitment_goods = list(map(itemgetter(2), bc.commitment_keys))
    cost = _max_by_good(
        [
            *map(good, bc.ask_nodes),
            *compress(block_goods, ~block_bid),
            *commitment_goods,
        ],
        np.concatenate(
            [
                bc.floats("ask_price"),
                block_price[~block_bid],
                bc.floats("commitment_price"),
            ]
        ),
    )
    cost = _propagate(
        cost,
        book,
        lambda r, c: [(r.output, r.cost + sum(u * c.get(g, 0.0) for g, u in r.inputs.items()))],
    )
    # A unit crosses each route at most once, and at most (nodes - 1) routes.
    moving: dict[str, float] = {}
    if bc.route_keys:
        sellers, buyers, goods = zip(*bc.route_keys)
        index = dict(zip(dict.fromkeys(goods), range(len(goods))))
        codes = np.fromiter(map(index.__getitem__, goods), dtype=np.int64, count=len(goods))
        route_cost = bc.floats("route_cost")
        total = np.bincount(codes, weights=route_cost, minlength=len(index))
        top_cost = _max_by_good(list(goods), route_cost)
        ends = set(zip(goods, sellers))
        ends.update(zip(goods, buyers))
        agents = Counter(map(itemgetter(0), ends))
        moving = {g: min(float(total[i]), (agents[g] - 1) * top_cost[g]) for g, i in index.items()}
    top = max([0.0, *worth.values()]) + max([0.0, *cost.values()]) + max([0.0, *moving.values()])
    return 10.0 * max(1.0, top)


def build_data(
    book: OrderBook,
    layout: Layout,
    penalty: float | None = None,
    columns: BookColumns | None = None,
) -> Data:
    """The book's numbers on ``layout`` (which must come from a book of the same shape).

    ``columns`` (``compile_book(book)``) saves a walk over the book.
    """
    bc = columns if columns is not None else compile_book(book)
    cols = layout.cols
    n = layout.num_cols
    c = np.zeros(n)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    nt, nc = len(bc.route_keys), len(bc.commitment_keys)
    c[cols["bid"]] = bc.floats("bid_price")
    hi[cols["bid"]] = bc.floats("bid_quantity")
    c[cols["ask"]] = -bc.floats("ask_price")
    hi[cols["ask"]] = bc.floats("ask_quantity")
    c[cols["recipe"]] = -bc.floats("recipe_cost")
    hi[cols["recipe"]] = bc.floats("recipe_capacity")
    route_cap = bc.floats("route_capacity")
    allowed = np.fromiter(bc.route_allowed, dtype=bool, count=nt)
    c[cols["route"]] = -bc.floats("route_cost")
    route_hi = np.where(allowed, route_cap, 0.0)
    # Routes with commitments take their capacity in the shared row instead.
    shared = layout.shared_routes
    route_hi[shared[allowed[shared]]] = np.inf
    hi[cols["route"]] = route_hi
    if penalty is None:
        penalty = shortfall_penalty(book, bc) if nc else 0.0
    penalty = float(penalty)
    qty = bc.floats("commitment_quantity")
    if nc:
        via = layout.commitment_routes
        # A delivery earns the penalty it avoids and pays its route's cost.
        c[cols["delivery"]] = penalty + c[cols["route"]][via]
        hi[cols["delivery"]] = np.where(allowed[via], qty, 0.0)
    # Blocks: the value of accepting the whole block ($), ratio in [0, 1], switch binary.
    nk = len(bc.block_ids)
    sign = np.where(np.asarray(bc.block_order_is_bid, dtype=bool), 1.0, -1.0)
    value = sign * bc.floats("block_order_price") * bc.floats("block_order_quantity")
    c[cols["ratio"]] = np.bincount(
        np.asarray(bc.block_order_block, dtype=np.int64), weights=value, minlength=nk
    )
    hi[cols["ratio"]] = 1.0
    hi[cols["accept"]] = 1.0

    row_lo = np.zeros(layout.num_rows)
    row_hi = np.zeros(layout.num_rows)
    nbal = layout.num_balance
    ns = len(shared)
    row_lo[nbal : nbal + ns] = -np.inf
    row_hi[nbal : nbal + ns] = route_cap[shared]
    link = nbal + ns
    row_lo[link::2] = -np.inf  # ratio - accept <= 0
    row_hi[link + 1 :: 2] = np.inf  # ratio - min_ratio * accept >= 0
    offset = float(penalty * qty.sum()) if nc else 0.0
    # To LP units (see Layout.scale): quantities / q; a block's value per unit ratio / q.
    q = layout.scale
    if q != 1.0:
        blocks = np.zeros(n, dtype=bool)
        blocks[cols["ratio"]] = blocks[cols["accept"]] = True
        hi = np.where(blocks, hi, hi / q)
        c[cols["ratio"]] /= q
        row_hi[nbal : nbal + ns] /= q
    return Data(
        c=c,
        col_lo=lo,
        col_hi=hi,
        row_lo=row_lo,
        row_hi=row_hi,
        offset=offset,
        penalty=float(penalty),
    )


def row_activity(layout: Layout, x: np.ndarray) -> np.ndarray:
    """A @ x for the layout's matrix."""
    return np.bincount(
        layout.index, weights=layout.value * x[layout.nz_col], minlength=layout.num_rows
    )
