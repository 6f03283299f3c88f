"""The plan's counts of one area or coordinator in one window (Counts), and a window's counts of
every street or coordinator at once (Table): one row of integers per count, one column per id.

A report page sums thousands of streets per window, a dozen windows per page: a Counts object
per street per window, added up the area tree one by one, was half the metrics page's time at
200,000 buildings (tests/bench/RESULTS.md, "Report pages at a million buildings"). A Table is
filled by numpy sums over the roll-up's rows and summed up the tree by one bincount per count;
Counts objects are made only for the rows a page shows.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

import numpy as np


@dataclass
class Counts:
    """Additive counts of one area or coordinator in one window; the rates derive from them."""

    buildings: int = 0
    visited: int = 0  # buildings not unvisited at the window's end
    complete: int = 0
    buildings_visited: int = 0  # buildings visited (a counted visit) in the window
    households_registered: int = 0
    households_updated: int = 0
    persons_registered: int = 0
    persons_updated: int = 0
    persons_departed: int = 0
    households_touched: int = 0  # registered, updated (a coordinator's work)
    persons_touched: int = 0  # registered, updated or departed
    on_register: int = 0  # persons living in the area at the window's end
    confirmed: int = 0  # of them, registered or confirmed in the round so far
    approved: int = 0
    reviewed: int = 0  # approved + has issues + rejected
    returned: int = 0  # has issues or rejected
    corrected: int = 0  # of those, corrected by an edit
    visits: int = 0  # visits to a building
    suspect_visits: int = 0
    held: int = 0  # registrations held for review (ID conflicts)
    correction_hours: list[float] = field(default_factory=list)

    def __add__(self, other: Counts) -> Counts:
        out = Counts()
        out += self
        out += other
        return out

    def __iadd__(self, other: Counts) -> Counts:
        """In place (a sum of many copies no list per one added)."""
        mine, theirs = self.__dict__, other.__dict__
        for name in NUMBERS:
            mine[name] += theirs[name]
        if other.correction_hours:
            self.correction_hours.extend(other.correction_hours)
        return self

    @property
    def update_rate(self) -> float | None:
        return self.confirmed / self.on_register if self.on_register else None

    @property
    def accuracy(self) -> float | None:
        return self.approved / self.reviewed if self.reviewed else None

    @property
    def visited_rate(self) -> float | None:
        return self.visited / self.buildings if self.buildings else None

    @property
    def complete_rate(self) -> float | None:
        return self.complete / self.buildings if self.buildings else None

    @property
    def suspect_rate(self) -> float | None:
        return self.suspect_visits / self.visits if self.visits else None

    @property
    def corrected_share(self) -> float | None:
        return self.corrected / self.returned if self.returned else None

    @property
    def correction_median_hours(self) -> float | None:
        return statistics.median(self.correction_hours) if self.correction_hours else None


NUMBERS = tuple(f.name for f in fields(Counts) if f.name != "correction_hours")
ROW = {name: i for i, name in enumerate(NUMBERS)}


def summed(many: Iterable[Counts]) -> Counts:
    """The sum of many Counts (a new one; those summed are left as they are)."""
    out = Counts()
    for c in many:
        out += c
    return out


class Table:
    """Every count of every id in one window: `m[ROW[name], id]`, column 0 for "none" (no
    street, no coordinator); the hours from a return to its correction per id aside (few)."""

    def __init__(self, size: int) -> None:
        self.m = np.zeros((len(NUMBERS), max(size, 1)), np.int64)
        self.hours: dict[int, list[float]] = {}

    @property
    def size(self) -> int:
        return self.m.shape[1]

    def add(self, name: str, column: np.ndarray) -> None:
        """Add a column indexed by id (as long as the table or shorter)."""
        self._fit(len(column))
        self.m[ROW[name], :len(column)] += column

    def bump(self, key: int | None, name: str, n: int = 1) -> None:
        """Add n to one id's count (None: the "none" column)."""
        i = key or 0
        self._fit(i + 1)
        self.m[ROW[name], i] += n

    def add_hours(self, key: int | None, hours: float) -> None:
        self.hours.setdefault(key or 0, []).append(hours)

    def counts(self, key: int | None) -> Counts:
        """One id's Counts (None: those of no street or coordinator)."""
        i = key or 0
        if i >= self.size:
            return Counts()
        values = self.m[:, i].tolist()
        return Counts(**dict(zip(NUMBERS, values, strict=True)),
                      correction_hours=list(self.hours.get(i, ())))

    def total(self, keys: Iterable[int | None] | None = None) -> Counts:
        """The sum over the ids `keys` (None: every id, "none" included)."""
        if keys is None:
            values, hours = self.m.sum(axis=1), [h for v in self.hours.values() for h in v]
        else:
            idx = np.array(sorted({k or 0 for k in keys}), np.int64)
            idx = idx[idx < self.size]
            values = self.m[:, idx].sum(axis=1)
            wanted = set(idx.tolist())
            hours = [h for k, v in self.hours.items() if k in wanted for h in v]
        return Counts(**dict(zip(NUMBERS, values.tolist(), strict=True)), correction_hours=hours)

    def as_dict(self) -> dict[int | None, Counts]:
        """Counts per id that has any count (the key None for column 0)."""
        used = set(np.flatnonzero(self.m.any(axis=0)).tolist()) | set(self.hours)
        return {(i or None): self.counts(i) for i in sorted(used)}

    def _fit(self, size: int) -> None:
        if size > self.size:
            self.m = np.pad(self.m, ((0, 0), (0, size - self.size)))
