"""Statistics tables a page at a time: areas and coordinators counted as arrays over the roll-ups.

A city of a million buildings has ~11,000 areas and ~2,000 coordinators: turning every one of
them into a dict and a table row cost seconds per request. Here the counts per street
(`rollups.street_matrix`, read from `coverage_counts`) are added up the area tree and over each
coordinator's streets with numpy, for every area at once; only the rows of the page asked for
become dicts. Which areas a user sees follows `rollups.rollups`: their streets, and the areas
above them none of whose streets is hidden from the user.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from gis.coverage import STATES, counts_of
from server.models import User
from server.models.areas import AREA_LEVELS
from server.services import area_tree, scope, versions
from server.services.coverage.rollups import street_matrix

PAGE = 100  # rows of a table on the statistics page
SORTS = ("name", "total", "unvisited", "entry_rate", "accuracy_rate")
_S = len(STATES)
_VISITED, _COMPLETE, _SUSPECT, _UNVISITED = (STATES.index(s) for s in
                                             ("visited", "complete", "suspect", "unvisited"))


@dataclass(frozen=True, slots=True)
class AreaRow:
    """One area of a table: what the page shows and links (counts: counts_of's dict)."""

    code: str
    name_zh: str
    name_en: str | None
    level: str
    depth: int
    parent: str | None
    children: int  # areas right below it that the user sees (0: nothing to drill into)
    counts: dict

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") and self.name_en else self.name_zh


@dataclass
class Stats:
    """A round's counts over everything one user sees, as arrays (one row per area, in path
    order, and one per coordinator in username order)."""

    codes: list[str]
    paths: list[str]
    levels: list[str]
    names: list[tuple[str, str | None]]
    depth: np.ndarray
    parent: np.ndarray  # position of the parent area, -1 for a root
    counts: np.ndarray  # (areas, states)
    shown: np.ndarray  # bool per area
    children: np.ndarray  # shown areas right below each area
    total: np.ndarray  # (states,): every building the user sees in the round
    coordinators: list[str]
    coordinator_counts: np.ndarray  # (coordinators, states)
    level_rank: np.ndarray  # each area's level as its index in AREA_LEVELS
    by_code: dict[str, int]  # area code -> row

    def position(self, code: str) -> int | None:
        """The area's row, if the user sees it."""
        k = self.by_code.get(code)
        return k if k is not None and self.shown[k] else None

    def row(self, k: int) -> AreaRow:
        p = int(self.parent[k])
        return AreaRow(self.codes[k], self.names[k][0], self.names[k][1], self.levels[k],
                       int(self.depth[k]), self.codes[p] if p >= 0 else None,
                       int(self.children[k]), counts_of(self.counts[k]))

    def ancestors(self, k: int) -> list[AreaRow]:
        """The shown areas above k, top first (the page's breadcrumb)."""
        out = []
        p = int(self.parent[k])
        while p >= 0:
            if self.shown[p]:
                out.append(self.row(p))
            p = int(self.parent[p])
        return out[::-1]

    def area_positions(self, root: int | None = None, children_only: bool = False,
                       deepest: str | None = None) -> np.ndarray:
        """Rows of the shown areas in path order: all, or `root` and the areas below it (only
        its children with `children_only`), none deeper than the level `deepest`."""
        keep = self.shown.copy()
        if root is not None:
            base = self.paths[root]
            lo = root
            hi = bisect.bisect_left(self.paths, base + "0", lo=root)  # "0" follows "/"
            inside = np.zeros(len(keep), bool)
            inside[lo:hi] = True
            if children_only:
                inside &= self.depth <= self.depth[root] + 1
            keep &= inside
        if deepest is not None:
            keep &= self.level_rank <= AREA_LEVELS.index(deepest)
        return np.flatnonzero(keep)

    def coordinator_positions(self, q: str = "", sort: str = "name",
                              descending: bool = False) -> np.ndarray:
        """Rows of the coordinators whose username holds `q`, in the order asked for."""
        q = q.strip().lower()
        rows = np.array([k for k, n in enumerate(self.coordinators) if q in n.lower()]
                        if q else range(len(self.coordinators)), np.int64)
        if sort == "name" or not len(rows):
            return rows[::-1] if descending else rows
        c = self.coordinator_counts[rows].astype(np.float64)
        total = c.sum(axis=1)
        seen = total - c[:, _UNVISITED]
        with np.errstate(divide="ignore", invalid="ignore"):
            key = {"total": total, "unvisited": c[:, _UNVISITED],
                   "entry_rate": np.where(total > 0, (c[:, _VISITED] + c[:, _COMPLETE])
                                          / np.maximum(total, 1), 0.0),
                   "accuracy_rate": np.where(seen > 0, (seen - c[:, _SUSPECT])
                                             / np.maximum(seen, 1), 0.0)}[sort]
        order = np.argsort(-key if descending else key, kind="stable")  # ties: by name
        return rows[order]

    def coordinator(self, k: int) -> tuple[str, dict]:
        return self.coordinators[k], counts_of(self.coordinator_counts[k])


@dataclass
class _Tree:
    """Every area as arrays in path order, and each coordinator's streets as (coordinator,
    area position) pairs: the same for every user, built once per process and signature."""

    rows: list[tuple]
    ids: np.ndarray
    codes: list[str]
    paths: list[str]
    levels: list[str]
    level_rank: np.ndarray  # index in AREA_LEVELS (deepest=…)
    names: list[tuple[str, str | None]]
    parent: np.ndarray
    depth: np.ndarray
    is_street: np.ndarray
    by_code: dict[str, int]
    below: np.ndarray  # first row of the area's descendants (paths under "path/")
    end: np.ndarray  # the row after its last descendant
    in_round: dict = field(default_factory=dict)  # the round's streets -> bool per area
    pairs: tuple | None = None  # (staff stamp, names, coordinator of pair, area of pair)


_TREE: versions.Kept[_Tree] = versions.Kept(16)


def _tree() -> _Tree:
    """The area tree of this database, kept per process until the areas' signature changes
    (an areas import bumps it: scope.areas_edited)."""
    return _TREE.get(None, scope.areas_signature(), _read_tree)


def _read_tree() -> _Tree:
    rows = [(a.id, a.code, a.parent_id, a.level, a.path, a.name_zh, a.name_en)
            for a in area_tree.tree()[0]]  # in path order (Python's, not the collation's)
    ids = np.array([r[0] for r in rows], np.int64)
    pos_of_id = {int(i): k for k, i in enumerate(ids.tolist())}
    levels = [r[3] for r in rows]
    rank = {lv: k for k, lv in enumerate(AREA_LEVELS)}
    paths = [r[4] for r in rows]
    return _Tree(
        rows, ids, [r[1] for r in rows], paths, levels,
        np.array([rank.get(lv, len(AREA_LEVELS)) for lv in levels], np.int64),
        [(r[5], r[6]) for r in rows],
        np.array([pos_of_id.get(r[2], -1) if r[2] is not None else -1 for r in rows], np.int64),
        np.array([r[4].count("/") for r in rows], np.int64),
        np.array([lv == "street" for lv in levels], bool),
        {r[1]: k for k, r in enumerate(rows)},
        np.array([bisect.bisect_left(paths, p + "/") for p in paths], np.int64),
        np.array([bisect.bisect_left(paths, p + "0") for p in paths], np.int64),  # "0" > "/"
    )


def area_rows() -> list[tuple]:
    """(id, code, parent_id, level, path, name_zh, name_en) of every area in path order (Python's
    order, not the collation's), kept per process until the areas' signature changes."""
    return _tree().rows


def _in_round(tree: _Tree, within: frozenset[str]) -> np.ndarray:
    hit = tree.in_round.get(within)
    if hit is None:
        hit = tree.is_street & np.array([c in within for c in tree.codes], bool)
        if len(tree.in_round) > 64:
            tree.in_round.clear()
        tree.in_round[within] = hit
    return hit


def _pairs(tree: _Tree) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(coordinators by username, coordinator of each pair, area position of each pair)."""
    sig = versions.stamp()
    if tree.pairs is None or tree.pairs[0] != sig:
        names, who, where = [], [], []
        for name, streets in sorted(scope.coordinator_streets().items()):
            ks = [tree.by_code[c] for c in streets if c in tree.by_code]
            names.append(name)
            who.extend([len(names) - 1] * len(ks))
            where.extend(ks)
        tree.pairs = (sig, names, np.array(who, np.int64), np.array(where, np.int64))
    return tree.pairs[1], tree.pairs[2], tree.pairs[3]


def _up(values: np.ndarray, tree: _Tree) -> np.ndarray:
    """Each area's value plus those of every area below it (in path order an area's
    descendants are one run of rows, [below, end): a difference of running sums)."""
    run = np.concatenate([np.zeros((1, *values.shape[1:]), values.dtype),
                          np.cumsum(values, axis=0)])
    return values + run[tree.end] - run[tree.below]


def compute(round_id: int, user: User | None, within: frozenset[str] | None = None) -> Stats:
    """Counts per area and per coordinator of a round, as far as the user may see (`within`:
    the round's streets; other streets' buildings count nowhere)."""
    tree = _tree()
    n, ids, parent, depth, is_street = (len(tree.rows), tree.ids, tree.parent, tree.depth,
                                        tree.is_street)
    m = street_matrix(round_id)
    per = np.zeros((n, _S), np.int64)
    fits = is_street & (ids < len(m))
    per[fits] = m[ids[fits]]
    in_scope = scope.street_ids(user)
    scoped = (is_street if in_scope is None
              else is_street & np.isin(ids, np.fromiter(in_scope, np.int64, len(in_scope))))
    in_round = is_street if within is None else _in_round(tree, within)
    per[~in_round] = 0
    counts = _up(per, tree)
    visible = scoped & in_round
    if in_scope is None and within is None:
        shown = np.ones(n, bool)
        total = m.sum(axis=0)  # with the buildings outside any street
    else:
        hidden = (is_street & ~scoped).astype(np.int64)
        shown = (_up(visible.astype(np.int64), tree) > 0) & (_up(hidden, tree) == 0)
        total = per[visible].sum(axis=0)
    children = np.bincount(parent[shown & (parent >= 0)], minlength=n)
    names, ccounts = _coordinators(tree, per, visible, in_scope is None and within is None)
    return Stats(tree.codes, tree.paths, tree.levels, tree.names, depth, parent, counts, shown,
                 children, total, names, ccounts, tree.level_rank, tree.by_code)


def _coordinators(tree: _Tree, per: np.ndarray, visible: np.ndarray,
                  everything: bool) -> tuple[list[str], np.ndarray]:
    """Each coordinator's counts over their assigned streets that the user sees (a coordinator
    with none of those streets is left out, unless the user sees everything)."""
    every, who, where = _pairs(tree)
    keep = visible[where] if len(where) else np.zeros(0, bool)
    who, where = who[keep], where[keep]
    if everything:
        rows = np.arange(len(every))
    else:
        rows = np.flatnonzero(np.bincount(who, minlength=len(every)) > 0)
    slot = np.full(len(every), -1, np.int64)
    slot[rows] = np.arange(len(rows))
    out = np.zeros((len(rows), _S), np.int64)
    if len(who):
        mine, got = slot[who], per[where]
        for s in range(_S):
            out[:, s] = np.bincount(mine, weights=got[:, s], minlength=len(rows))
    return [every[k] for k in rows.tolist()], out
