"""What the meetings read (docs/DOMAIN.md): the centre's ten-day report (旬报) for the township
and each village station's weekly report (周报), as one data structure the page, the XLSX and the
PDF all render (server/services/reports/builder.py).

A report covers one area (a township, a village or a street) and one period, in the round that
covers the area in that period: progress against the phase's targets, the changes since the last
period, the trend over the round's periods, a row per area below, the buildings still unvisited,
the flags (suspect visits, registrations held for review, rental violations), the coverage map
and the coordinators' assessment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from gis import states as coverage_states
from server import localtime
from server.extensions import db
from server.i18n import current_locale
from server.models import (
    Area,
    Building,
    CoverageStep,
    Round,
    Submission,
    User,
    Visit,
)
from server.models._types import utcnow
from server.services import area_tree, scope
from server.services.area_tree import AreaView
from server.services.coverage import exports as coverage_exports
from server.services.coverage import query as coverage_query
from server.services.coverage import rounds
from server.services.coverage.store import flagged_column, suspect_column
from server.services.errors import ServiceError
from server.services.reports import assessment, metrics, periods, rental_flags
from server.services.reports import facts as facts_
from server.services.reports.metrics import AreaRow, Counts, Targets
from server.services.reports.periods import Period

#: Unvisited buildings listed by code per report (the count is always whole).
UNVISITED_LISTED = 60
TITLES = {"xun": "Ten-day report", "week": "Weekly report"}


class ReportError(ServiceError):
    """A report that cannot be made: an area out of reach, or no round in the period."""

    status = 404
    code = "no_report"


@dataclass(frozen=True, slots=True)
class TrendRow:
    period: Period
    counts: Counts  # the period's flows
    to_date: Counts  # the round so far at the period's end


@dataclass
class Report:
    kind: str
    period: Period
    area: Area
    round: Round
    targets: Targets
    now: Counts  # the period
    to_date: Counts  # the round's first day to the period's end
    before: Counts | None  # the previous period (in the round), and the round to its end
    before_to_date: Counts | None
    rows: list[AreaRow]
    trend: list[TrendRow]
    unvisited: list[tuple[str, int, list[str]]]  # (street name, count, codes listed)
    suspects: list[tuple[str, str, str]]  # (building code, day, coordinator)
    held_open: int
    rentals: rental_flags.RentalFlags
    assessment: list[assessment.Row]
    map_png: bytes
    generated_at: datetime

    @property
    def unvisited_total(self) -> int:
        return sum(n for _, n, _ in self.unvisited)


def area_for(user: User | None, code: str | None, kind: str) -> Area:
    """The area asked for, else the township (ten-day) or the user's first village (weekly),
    if the user sees all of its streets; ReportError otherwise."""
    if code:
        area = db.session.scalar(sa.select(Area).where(Area.code == code))
    else:  # a village supervisor's ten-day report: their village's
        levels = ("township", "village") if kind == "xun" else ("village",)
        view = next((a for level in levels for a in report_areas(user) if a.level == level),
                    None)
        area = db.session.get(Area, view.id) if view is not None else None
    if area is None or not _sees(user, area):
        raise ReportError("No area {area!r} in your areas.", area=code or "")
    return area


def report_areas(user: User | None) -> list[AreaView]:
    """The township and villages the user sees whole: the areas a report can be about (from
    the area tree kept per process: no Area loaded with its boundary, a city has over a
    thousand)."""
    areas, chains = area_tree.tree()
    visible = scope.street_ids(user)
    under, hidden = set(), set()  # areas with a street at or below; with one the user lacks
    for street_id, chain in chains.items():
        under.update(chain)
        if visible is not None and street_id not in visible:
            hidden.update(chain)
    return [a for a in areas if a.level in ("township", "village")
            and a.id in under and a.id not in hidden]


def _sees(user: User | None, area: Area) -> bool:
    streets = set(scope.streets_under_paths([area.path]))
    visible = scope.street_ids(user)
    return bool(streets) and (visible is None or streets <= visible)


def round_for(period: Period, area: Area) -> Round:
    """The round over the area's streets whose days overlap the period (the latest-starting)."""
    codes = set(scope.streets_under_paths([area.path]).values())
    for s in rounds.spans():
        overlaps = s.starts_on <= period.end and s.ends_on >= period.start
        if overlaps and (s.streets is None or s.streets & codes):
            return db.session.get(Round, s.id)
    raise ReportError("No round covers {area} between {first} and {last}.", area=area.name_zh,
                      first=period.start.isoformat(), last=period.end.isoformat())


def build(user: User | None, kind: str, period: Period, area: Area) -> Report:
    """Compute the report (nothing is stored here: server/services/reports/archive.py)."""
    rnd = round_for(period, area)
    f = facts_.load(rnd)
    streets = frozenset(s for s in scope.streets_under_paths([area.path]) if s in f.streets)

    def area_total(start, end) -> Counts:
        return metrics.table(f, start, end).total(streets)

    start, end = metrics.window_of(rnd, period)
    first = rnd.starts_on
    to_date = metrics.table(f, first, end)
    rows = metrics.area_rows(f, to_date, user, root=area, levels=2)  # the area, one level down
    prev = period.previous()
    before = before_to_date = None
    if prev.end >= rnd.starts_on:
        p_start, p_end = metrics.window_of(rnd, prev)
        before, before_to_date = area_total(p_start, p_end), area_total(first, p_end)
    trend = []
    for p in periods.between(rnd.starts_on, min(end, rnd.ends_on), kind):
        p_start, p_end = metrics.window_of(rnd, p)
        trend.append(TrendRow(p, area_total(p_start, p_end), area_total(first, p_end)))
    return Report(
        kind=kind, period=period, area=area, round=rnd, targets=metrics.targets(rnd),
        now=area_total(start, end), to_date=to_date.total(streets),
        before=before, before_to_date=before_to_date, rows=rows, trend=trend,
        unvisited=_unvisited(f, streets, end), suspects=_suspects(f, area, start, end),
        held_open=_held_open(f, streets), rentals=rental_flags.collect(area, streets, period),
        assessment=assessment.assess(f, start, end, user, within=streets),
        map_png=_map(rnd, area), generated_at=utcnow())


def _unvisited(f: facts_.Facts, streets: frozenset[int], end) -> list[tuple[str, int, list]]:
    """Per street: the buildings still unvisited at the period's end, codes in order (counted
    from the day counts; codes read only for the streets listed)."""
    sizes, visited, _complete = metrics.coverage_as_of(f, end)
    left = {s: sizes[s] - (int(visited[s]) if s < len(visited) else 0)
            for s in streets if s in sizes}
    left = {s: n for s, n in left.items() if n > 0}
    names = {a.id: a.name_zh for a in area_tree.tree()[0] if a.id in left}
    out, listed = [], 0
    for street in sorted(left, key=lambda s: f.streets.get(s, "")):
        room = max(0, UNVISITED_LISTED - listed)
        shown = _unvisited_codes(f.round.id, street, end)[:room] if room else []
        listed += len(shown)
        out.append((f"{names.get(street, '')} {f.streets.get(street, '')}".strip(),
                    left[street], shown))
    return out


def _unvisited_codes(round_id: int, street: int, end) -> list[str]:
    """A street's buildings without a counted visit up to `end`, by code."""
    step = CoverageStep.__table__.c
    visited = sa.select(step.building_id).where(
        step.round_id == round_id, step.building_id == Building.id, step.day <= end)
    return sorted(db.session.scalars(sa.select(Building.code).where(
        Building.street_id == street, ~sa.exists(visited))))


def _suspects(f: facts_.Facts, area: Area, start, end) -> list[tuple[str, str, str]]:
    """The period's suspect visits: building code, day, coordinator (read by the database: a
    visit's street is its building's, else the one it chose). Through ix_visits_flagged: the
    round's flagged visits of the period's days (a few in a hundred of its visits), then those
    with no day of their own, a query each (one with an OR walks every flagged visit); the
    area's streets as a subquery, not thousands of ids."""
    building = sa.func.coalesce(Visit.building_id, Visit.chosen_building_id)
    # the code of the building it matched; none for a visit that only chose one
    code = sa.case((Visit.building_id.is_(None), ""), else_=Building.code)
    query = (sa.select(code, Visit.visited_on, Visit.visited_at, Visit.coordinator_id)
             .join(Submission, Submission.id == Visit.submission_id)
             .join(Building, Building.id == building)
             .where(Visit.round_id == f.round.id, Submission.draft.is_(False),
                    Submission.superseded.is_(False), flagged_column(), suspect_column(),
                    Building.street_id.in_(scope.streets_under_select([area.path]))))
    rows = [*db.session.execute(query.where(Visit.visited_on.between(start, end))),
            *db.session.execute(query.where(Visit.visited_on.is_(None)))]
    found = [(b, on or localtime.local_date(at), who) for b, on, at, who in rows]
    found = [(b, day, who) for b, day, who in found if start <= day <= end]
    if not found:
        return []
    people = {id_: shown or username for id_, shown, username in db.session.execute(
        sa.select(User.id, User.display_name, User.username)
        .where(User.id.in_({w for _b, _d, w in found if w})))}
    return sorted((b, day.isoformat(), people.get(who, "")) for b, day, who in found)


def _held_open(f: facts_.Facts, streets: frozenset[int]) -> int:
    """Registrations still held for a supervisor's decision in the area (ID conflicts)."""
    return sum(still_open for _day, street, _n, still_open in f.conflicts if street in streets)


def _map(rnd: Round, area: Area) -> bytes:
    """The area's coverage map in the round, as generated now."""
    f = coverage_query.filters(None, round_id=rnd.id,
                               **({"street": area.code} if area.level == "street"
                                  else {"village": area.code}))
    # (no time in the title: the body's caption gives it, and the drawing is kept until a
    # state changes)
    return coverage_exports.png(f, f"{area.name_zh} · {rnd.name}",
                               coverage_states.names(current_locale()))
