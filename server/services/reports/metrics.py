"""The plan's numbers per round and per period, for each street, village, the township and each
coordinator (docs/DOMAIN.md, "Targets and rhythm"; the definitions are written there too):

- **information update rate** = persons on the register of the area at the period's end who
  were registered or confirmed (a new version of the person) in the round up to that day ÷
  persons on the register of the area at that day (living there, not departed);
- **accuracy rate** = approved ÷ reviewed (approved + has issues + rejected) among the
  submissions of the period, with the submissions sent back and how many of them were corrected;
- buildings visited and complete at the period's end (the coverage state rule of
  gis/coverage.py applied to the round's visits up to that day), households and persons
  registered, updated and departed in the period, suspect visits, registrations held for review.

A figure with nothing to divide by is None (shown as "—"), never 0 % nor 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from flask import current_app

from gis.states import STATES
from server.models import Area, Round, User
from server.models.submissions import RETURNED_STATES
from server.services import area_tree, scope
from server.services.area_tree import AreaView
from server.services.coverage import day_moves
from server.services.reports import daysums, register_sums
from server.services.reports import facts as facts_
from server.services.reports.facts import Facts
from server.services.reports.figures import NUMBERS, Counts, Table, summed
from server.services.reports.periods import Period

__all__ = ["Counts", "summed"]  # where the pages and tests have always found them
_UNVISITED, _COMPLETE = STATES.index("unvisited"), STATES.index("complete")


@dataclass(frozen=True, slots=True)
class Targets:
    update_rate: float
    accuracy: float
    phase: str


def targets(rnd: Round) -> Targets:
    """The round's own targets, else its phase's, else the server's (ENTRY_RATE_TARGET, 100 %)."""
    phase = rnd.phase
    update = rnd.update_rate_target or (phase.update_rate_target if phase else None)
    accuracy = rnd.accuracy_target or (phase.accuracy_target if phase else None)
    return Targets(update or current_app.config["ENTRY_RATE_TARGET"], accuracy or 1.0,
                   phase.name if phase else "")


def tally(f: Facts, start: date, end: date, by: str = "street") -> dict[int | None, Counts]:
    """Counts in the window [start, end] per street id (`by="street"`, with the stock figures
    as of `end`) or per coordinator id (`by="coordinator"`), for each id with a count."""
    return table(f, start, end, by).as_dict()


def table(f: Facts, start: date, end: date, by: str = "street") -> Table:
    """tally's counts as one Table (figures.py): what the pages sum up the area tree. Kept
    with the facts (a request's): a report asks for the same window more than once (its
    period, again in its trend). Read-only."""
    key = ("table", start, end, by)
    found = f.derived.get(key)
    if found is None:
        found = f.derived[key] = _table(f, start, end, by)
    return found


def _table(f: Facts, start: date, end: date, by: str) -> Table:
    streets = by == "street"
    side = 0 if streets else 1
    t = Table(_size(f))
    if streets:
        _coverage_at(f, end, t)
        register_sums.add_register(f, end, t)
    for name, column in f.visits[side].columns(start, end).items():
        t.add(name, column)
    mark = daysums.aligned(f.round.starts_on, start, end)
    if mark:
        t.add("buildings_visited", f.firsts[side].columns(start, end)[mark])
    else:
        found = daysums.visited_buildings(f.round.id, start, end, f.streets, streets)
        for key, n in found.items():
            t.bump(None if key == daysums.NONE else key, "buildings_visited", n)
    register_sums.add_flows(f, start, end, streets, t)
    for name, column in f.sums[side].columns(start, end).items():
        t.add(name, column)
    for s in f.submissions:  # the few not summed: counted one by one
        if not start <= s.day <= end:
            continue
        key = s.street_id if streets else s.submitter_id
        if s.review_state == "approved":
            t.bump(key, "approved")
        if s.review_state != "received":
            t.bump(key, "reviewed")
        _returns(s, t, key)
    for s in f.returned:  # summed above as reviewed; here their returns and corrections
        if start <= s.day <= end:
            _returns(s, t, s.street_id if streets else s.submitter_id)
    if streets:
        days, where, count = _conflict_arrays(f)
        inside = (days >= start.toordinal()) & (days <= end.toordinal())
        t.add("held", np.bincount(where[inside], weights=count[inside]).astype(np.int64))
    return t


def _conflict_arrays(f: Facts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The held registrations' days (ordinals), streets (0 for none) and counts, once per
    request: a page tallies a dozen windows."""
    found = f.derived.get("conflicts")
    if found is None:
        n = len(f.conflicts)
        found = f.derived["conflicts"] = (
            np.fromiter((row[0].toordinal() for row in f.conflicts), np.int64, n),
            np.fromiter((row[1] or 0 for row in f.conflicts), np.int64, n),
            np.fromiter((row[2] for row in f.conflicts), np.int64, n))
    return found


def _size(f: Facts) -> int:
    """Columns enough for every street id and most person ids (Table grows for the rest)."""
    return max(max(f.streets, default=0), max((k for k in f.sizes if k), default=0)) + 1


def _returns(s: facts_.SubmissionFact, t: Table, key: int | None) -> None:
    if s.review_state in RETURNED_STATES:
        t.bump(key, "returned")
        if s.corrected_at is not None:
            t.bump(key, "corrected")
            hours = s.correction_hours()
            if hours is not None:
                t.add_hours(key, hours)


def _coverage_at(f: Facts, end: date, t: Table) -> None:
    """Each street's buildings visited / complete as of `end` (the coverage state rule applied
    to the round's counted visits up to that day), read from the per-street day counts kept in
    step with the visits (server/services/coverage/timeline.py), not by replaying visits."""
    _sizes, visited, complete = coverage_as_of(f, end)
    keys, buildings = _size_columns(f)
    t.add("buildings", buildings)
    inside = keys[keys < len(visited)]  # key 0: buildings without a street
    for name, column in (("visited", visited), ("complete", complete)):
        out = np.zeros(len(buildings), np.int64)
        out[inside] = column[inside]
        t.add(name, out)


def _size_columns(f: Facts) -> tuple[np.ndarray, np.ndarray]:
    """(the street ids of the round's buildings, 0 for none; buildings per id as a column)."""
    found = f.derived.get("size_columns")
    if found is None:
        keys = np.array([k or 0 for k in f.sizes], np.int64)
        column = np.zeros(int(keys.max(initial=0)) + 1, np.int64)
        column[keys] = list(f.sizes.values())
        found = f.derived["size_columns"] = (keys, column)
    return found


def coverage_as_of(f: Facts, end: date) -> tuple[dict[int | None, int], np.ndarray, np.ndarray]:
    """(buildings per street in the round, visited and complete per street id as of `end`:
    arrays indexed by street id, 0 for no street)."""
    days = f.derived.get("coverage")
    if days is None:
        days = f.derived["coverage"] = day_moves.street_days(f.round.id)
    sizes = f.sizes
    m = days.as_of(end)
    return sizes, m.sum(axis=1) - m[:, _UNVISITED], m[:, _COMPLETE]


# --- areas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AreaRow:
    area: AreaView
    counts: Counts
    depth: int  # 0 township, 1 village, 2 street


def area_rows(f: Facts, t: Table, user: User | None, root: Area | AreaView | None = None,
              levels: int | None = None) -> list[AreaRow]:
    """The township, its villages and streets (under `root` if given; the top `levels` levels
    of those if given) as far as the user may see them: a street in their scope, an area above
    it only when none of its streets is hidden from them. Each area sums its streets in the
    round: one bincount per count over the (area, street) pairs of the rows shown."""
    areas, pairs = _visible(f, user)
    if root is not None:
        path = root.path  # once: an ORM area's attribute per row cost 0.1 s at 2,300 areas
        areas = [(i, a) for i, a in areas if a.path == path or a.path.startswith(path + "/")]
    if levels is not None and areas:
        top = min(a.path.count("/") for _i, a in areas)
        areas = [(i, a) for i, a in areas if a.path.count("/") < top + levels]
    if not areas:
        return []
    shown = np.zeros(int(pairs[0].max(initial=0)) + 1, bool)
    shown[[i for i, _a in areas]] = True
    pick = shown[pairs[0]]
    area_of, street_of = pairs[0][pick], pairs[1][pick]
    inside = street_of < t.size
    area_of, street_of = area_of[inside], street_of[inside]
    sums = np.stack([np.bincount(area_of, weights=row[street_of], minlength=len(shown))
                     for row in t.m]).astype(np.int64) if len(area_of) else None
    hours = _hours_up(f, t)
    rows = []
    for i, a in areas:
        values = sums[:, i].tolist() if sums is not None else [0] * len(NUMBERS)
        c = Counts(**dict(zip(NUMBERS, values, strict=True)),
                   correction_hours=list(hours.get(a.id, ())))
        rows.append(AreaRow(a, c, a.path.count("/")))
    return rows


def total(f: Facts, t: Table, user: User | None, root: Area | None = None) -> Counts:
    """The sum of the top rows a user is shown (the area reported on, or the user's areas)."""
    return summed(r.counts for r in area_rows(f, t, user, root, levels=1))


def _visible(f: Facts, user: User | None) -> tuple[list[tuple[int, AreaView]], tuple]:
    """The areas with a street of the round that the user may see, in path order, each with
    its index; and the (area index, street id) pairs of those streets and the areas above them
    (per request and user, kept in the facts)."""
    key = ("visible", user.id if user is not None else None)
    found = f.derived.get(key)
    if found is not None:
        return found
    areas, chains = _tree(f)
    index = {a.id: i for i, a in enumerate(areas)}
    visible = scope.street_ids(user)
    has_street: set[int] = set()
    hidden: set[int] = set()
    pair_area, pair_street = [], []
    for street, chain in chains.items():
        if street in f.streets:
            has_street.update(chain)
            pair_area += [index[up] for up in chain]
            pair_street += [street] * len(chain)
        if visible is not None and street not in visible:
            hidden.update(chain)
    shown = [(i, a) for i, a in enumerate(areas) if a.id in has_street and (
        a.id not in hidden if a.level != "street" else visible is None or a.id in visible)]
    found = f.derived[key] = (shown, (np.array(pair_area, np.int64),
                                      np.array(pair_street, np.int64)))
    return found


def _hours_up(f: Facts, t: Table) -> dict[int, list[float]]:
    """Hours from return to correction per area: each street's, and its areas' above (few)."""
    _areas, chains = _tree(f)
    out: dict[int, list[float]] = {}
    for street, hours in t.hours.items():
        if street in f.streets and street in chains:
            for up in chains[street]:
                out.setdefault(up, []).extend(hours)
    return out


def _tree(f: Facts) -> tuple[list[AreaView], dict[int, list[int]]]:
    """The areas by path and each street's chain of ids up to the township (kept per process
    by areas.py; once per request here)."""
    found = f.derived.get("areas")
    if found is None:
        found = f.derived["areas"] = area_tree.tree()
    return found


# --- periods of a round -----------------------------------------------------------------------


def window_of(rnd: Round, period: Period | None) -> tuple[date, date]:
    """The days of the period inside the round (the whole round for None)."""
    if period is None:
        return rnd.starts_on, rnd.ends_on
    return max(period.start, rnd.starts_on), min(period.end, rnd.ends_on)


def to_date(rnd: Round, period: Period | None) -> tuple[date, date]:
    """From the round's first day to the period's end: the figures against the targets."""
    return rnd.starts_on, window_of(rnd, period)[1]
