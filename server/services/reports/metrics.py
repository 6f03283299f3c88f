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

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date

import numpy as np
from flask import current_app

from gis.states import STATES
from server.models import Area, Round, User
from server.models.submissions import RETURNED_STATES
from server.services import scope
from server.services.coverage import timeline
from server.services.reports import areas as areas_
from server.services.reports import daysums
from server.services.reports import facts as facts_
from server.services.reports.areas import AreaView
from server.services.reports.facts import Facts
from server.services.reports.periods import Period


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
        """In place (a township's sum of thousands of streets copies no list per street)."""
        mine, theirs = self.__dict__, other.__dict__
        for name in _NUMBERS:
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


_NUMBERS = tuple(f.name for f in fields(Counts) if f.name != "correction_hours")
_UNVISITED, _COMPLETE = STATES.index("unvisited"), STATES.index("complete")


def summed(many) -> Counts:
    """The sum of many Counts (a new one; those summed are left as they are)."""
    out = Counts()
    for c in many:
        out += c
    return out


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
    as of `end`) or per coordinator id (`by="coordinator"`)."""
    per: dict[int | None, Counts] = defaultdict(Counts)
    streets = by == "street"
    if streets:
        _coverage_at(f, end, per)
        _register_at(f, end, per)
    side = 0 if streets else 1
    for key, visits, suspect in f.visits[side].window(start, end):
        c = per[None if key == daysums.NONE else key]
        c.visits += visits
        c.suspect_visits += suspect
    mark = daysums.aligned(f.round.starts_on, start, end)
    if mark:
        col = ("round", "xun", "week").index(mark) + 1
        found = {row[0]: row[col] for row in f.firsts[side].window(start, end)}
    else:
        found = daysums.visited_buildings(f.round.id, start, end, f.streets, streets)
    for key, n in found.items():
        per[None if key == daysums.NONE else key].buildings_visited += n
    _flows(f, start, end, streets, per)
    for key, approved, reviewed in f.sums[side].window(start, end):
        c = per[None if key == daysums.NONE else key]
        c.approved += approved
        c.reviewed += reviewed
    for s in f.submissions:  # the few not summed: counted one by one
        if not start <= s.day <= end:
            continue
        c = per[s.street_id if streets else s.submitter_id]
        if s.review_state == "approved":
            c.approved += 1
        if s.review_state != "received":
            c.reviewed += 1
        _returns(s, c)
    for s in f.returned:  # summed above as reviewed; here their returns and corrections
        if start <= s.day <= end:
            _returns(s, per[s.street_id if streets else s.submitter_id])
    if streets:
        for day, street in f.conflicts:
            if start <= day <= end:
                per[street].held += 1
    return per


def _returns(s: facts_.SubmissionFact, c: Counts) -> None:
    if s.review_state in RETURNED_STATES:
        c.returned += 1
        if s.corrected_at is not None:
            c.corrected += 1
            hours = s.correction_hours()
            if hours is not None:
                c.correction_hours.append(hours)


def _coverage_at(f: Facts, end: date, per: dict) -> None:
    """Each street's buildings visited / complete as of `end` (the coverage state rule applied
    to the round's counted visits up to that day), read from the per-street day counts kept in
    step with the visits (server/services/coverage/timeline.py), not by replaying visits."""
    sizes, visited, complete = coverage_as_of(f, end)
    seen, done = visited.tolist(), complete.tolist()
    for street, n in sizes.items():
        c = per[street]
        c.buildings += n
        row = street or 0  # row 0: buildings without a street
        if row < len(seen):
            c.visited += seen[row]
            c.complete += done[row]


def coverage_as_of(f: Facts, end: date) -> tuple[dict[int | None, int], np.ndarray, np.ndarray]:
    """(buildings per street in the round, visited and complete per street id as of `end`:
    arrays indexed by street id, 0 for no street)."""
    days = f.derived.get("coverage")
    if days is None:
        days = f.derived["coverage"] = timeline.StreetDays(f.round.id)
    sizes = f.sizes
    m = days.as_of(end)
    return sizes, m.sum(axis=1) - m[:, _UNVISITED], m[:, _COMPLETE]


def _register_at(f: Facts, end: date, per: dict) -> None:
    """Persons living in each street at `end`, and those of them confirmed in the round."""
    last: dict[int, facts_.VersionFact] = {}
    confirmed: set[int] = set()
    for v in f.versions:
        if v.dataset != "persons" or v.day > end:
            continue
        if v.entity_id not in last or v.version > last[v.entity_id].version:
            last[v.entity_id] = v
        if v.day >= f.round.starts_on:
            confirmed.add(v.entity_id)
    for entity, v in last.items():
        if not v.departed:
            c = per[v.street_id]
            c.on_register += 1
            c.confirmed += entity in confirmed


def _flows(f: Facts, start: date, end: date, streets: bool, per: dict) -> None:
    """Registered (first version in the window), updated (a later version, not a departure,
    of a record not registered in the window), departed; and, per coordinator, the records
    their submissions touched."""
    was_departed: dict[int, bool] = {}
    marks: dict[tuple[int | None, str, str], set[int]] = defaultdict(set)
    for v in f.versions:  # in (entity, version) order
        before = was_departed.get(v.entity_id, False)
        was_departed[v.entity_id] = v.departed
        if not start <= v.day <= end:
            continue
        key = v.street_id if streets else v.submitter_id
        marks[(key, v.dataset, "touched")].add(v.entity_id)
        if v.version == 1:
            marks[(key, v.dataset, "registered")].add(v.entity_id)
        elif v.departed and not before:
            marks[(key, v.dataset, "departed")].add(v.entity_id)
        elif not v.departed:
            marks[(key, v.dataset, "updated")].add(v.entity_id)
    for (key, dataset, what), ids in marks.items():
        if what == "updated":
            ids = ids - marks.get((key, dataset, "registered"), set())
        name = f"{dataset}_{what}"
        if hasattr(per[key], name):
            setattr(per[key], name, getattr(per[key], name) + len(ids))


# --- areas ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AreaRow:
    area: AreaView
    counts: Counts
    depth: int  # 0 township, 1 village, 2 street


def area_rows(f: Facts, per_street: dict[int | None, Counts], user: User | None,
              root: Area | None = None) -> list[AreaRow]:
    """The township, its villages and streets (under `root` if given) as far as the user may
    see them: a street in their scope, an area above it only when none of its streets is
    hidden from them. Each area sums its streets in the round (a street's row is its own
    Counts, not a copy: rows are read, never added to)."""
    areas, chains = _tree(f)
    visible = scope.street_ids(user)
    totals: dict[int, Counts] = {}
    hidden: set[int] = set()
    for street, chain in chains.items():
        if street in f.streets:
            c = per_street.get(street)
            totals[street] = c if c is not None else Counts()
            for up in chain[1:]:
                found = totals.get(up)
                if found is None:
                    found = totals[up] = Counts()
                if c is not None:
                    found += c
        if visible is not None and street not in visible:
            hidden.update(chain)
    rows = []
    for a in areas:
        if a.id not in totals or (a.id in hidden and a.level != "street"):
            continue
        if a.level == "street" and visible is not None and a.id not in visible:
            continue
        if root is not None and not (a.path == root.path or a.path.startswith(root.path + "/")):
            continue
        rows.append(AreaRow(a, totals[a.id], a.path.count("/")))
    return rows


def _tree(f: Facts) -> tuple[list[AreaView], dict[int, list[int]]]:
    """The areas by path and each street's chain of ids up to the township (kept per process
    by areas.py; once per request here)."""
    found = f.derived.get("areas")
    if found is None:
        found = f.derived["areas"] = areas_.tree()
    return found


def total(rows: list[AreaRow]) -> Counts:
    """The sum of the top rows shown (the area reported on, or the user's areas)."""
    top = min((r.depth for r in rows), default=0)
    return summed(r.counts for r in rows if r.depth == top)


# --- periods of a round -----------------------------------------------------------------------


def window_of(rnd: Round, period: Period | None) -> tuple[date, date]:
    """The days of the period inside the round (the whole round for None)."""
    if period is None:
        return rnd.starts_on, rnd.ends_on
    return max(period.start, rnd.starts_on), min(period.end, rnd.ends_on)


def to_date(rnd: Round, period: Period | None) -> tuple[date, date]:
    """From the round's first day to the period's end: the figures against the targets."""
    return rnd.starts_on, window_of(rnd, period)[1]
