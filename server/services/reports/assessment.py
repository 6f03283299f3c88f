"""Coordinators' assessment (考核) per period, with weights an admin sets.

Each criterion becomes a part between 0 and 1:

- buildings visited, households updated, persons updated: the coordinator's count ÷ the
  largest count among all coordinators in the same period (the best scores 1);
- accuracy: approved ÷ reviewed of their submissions;
- suspect visits: 1 − suspect visits ÷ visits;
- corrections: returned submissions corrected ÷ returned;
- timeliness: 1 − (median hours from a return to its correction ÷ TIMELINESS_HOURS), at least 0.

The score is 100 × Σ weight × part ÷ Σ weight over the parts that have a value: a criterion with
nothing to measure (no submission reviewed, nothing returned) is left out, not counted as 0 or
1. Scores are computed over every coordinator, so a row reads the same to whoever may see it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from server.extensions import db
from server.i18n import N_
from server.models import AssessmentWeight, Assignment, Role, User
from server.models._types import utcnow
from server.services import area_tree, audit, scope, spreadsheets
from server.services.errors import ServiceError
from server.services.reports.facts import Facts
from server.services.reports.metrics import Counts, tally

#: (criterion, its name in English; the catalogue has the Chinese), in the page's order.
CRITERIA = (
    ("buildings", N_("Buildings visited")),
    ("households", N_("Households updated")),
    ("persons", N_("Persons updated")),
    ("accuracy", N_("Accuracy")),
    ("suspect", N_("Visits not suspect")),
    ("corrections", N_("Returned work corrected")),
    ("timeliness", N_("Timeliness of corrections")),
)
DEFAULT_WEIGHTS = {"buildings": 2.0, "households": 1.0, "persons": 2.0, "accuracy": 3.0,
                   "suspect": 1.0, "corrections": 1.0, "timeliness": 1.0}
#: A correction this many hours (or more) after the return scores 0 for timeliness.
TIMELINESS_HOURS = 72
MAX_WEIGHT = 100
SORT_KEYS = ("score", "name", "buildings", "households", "persons", "accuracy", "suspect_rate",
             "returned", "corrected", "hours")


class WeightError(ServiceError):
    """Weights that cannot be saved: each a number from 0 to 100, at least one above 0."""

    code = "invalid_weights"


def weights() -> dict[str, float]:
    """The weights in force: the admin's, else the defaults."""
    stored = dict(db.session.execute(
        sa.select(AssessmentWeight.criterion, AssessmentWeight.weight)).all())
    return {name: float(stored.get(name, DEFAULT_WEIGHTS[name])) for name, _ in CRITERIA}


def set_weights(user: User | None, raw: Mapping[str, str]) -> dict[str, float]:
    """Save the weights typed on the page (all or nothing); audited."""
    parsed: dict[str, float] = {}
    for name, _label in CRITERIA:
        text = str(raw.get(name, "")).strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 <= value <= MAX_WEIGHT):
            raise WeightError("The weight of {criterion} must be a number from 0 to {max}, "
                              "not {value!r}.", criterion=name, max=MAX_WEIGHT, value=text)
        parsed[name] = value
    if not any(parsed.values()):
        raise WeightError("At least one weight must be above 0.")
    old = weights()
    for name, value in parsed.items():
        row = db.session.get(AssessmentWeight, name) or AssessmentWeight(criterion=name)
        row.weight, row.updated_at = value, utcnow()
        row.updated_by_id = user.id if user is not None else None
        db.session.add(row)
    audit.record("assessment.weights", user=user, object_type="assessment", old=old,
                 new=parsed)
    db.session.commit()
    return parsed


@dataclass(frozen=True, slots=True)
class Person:
    """A coordinator as the assessment shows them (three columns: a city has thousands)."""

    id: int
    username: str
    display_name: str | None


@dataclass(frozen=True, slots=True)
class Row:
    user: Person
    counts: Counts
    parts: dict[str, float | None]
    score: float | None

    @property
    def name(self) -> str:
        return self.user.display_name or self.user.username


def assess(f: Facts, start: date, end: date, viewer: User | None,
           within: frozenset[int] | None = None) -> list[Row]:
    """One row per coordinator the viewer may see (a supervisor: their team; a coordinator:
    themselves), optionally only those assigned in the streets `within`; by score, best first."""
    per = tally(f, start, end, by="coordinator")
    people = [Person(*row) for row in db.session.execute(
        sa.select(User.id, User.username, User.display_name).where(
            User.role == Role.COORDINATOR.value,
            sa.or_(User.active.is_(True), User.id.in_([k for k in per if k is not None]))))]
    best = {name: max((_count(per.get(u.id, Counts()), name) for u in people), default=0)
            for name in ("buildings", "households", "persons")}
    w = weights()
    team = scope.team(viewer)
    visible = None if team is None else set(db.session.scalars(team))
    working = _working_in(within) if within is not None else None
    rows = []
    for u in people:
        if (visible is not None and u.id not in visible) or (
                working is not None and u.id not in working):
            continue
        c = per.get(u.id, Counts())
        parts = _parts(c, best)
        rows.append(Row(u, c, parts, _score(parts, w)))
    return sort(rows, "score", descending=True)


def _count(c: Counts, name: str) -> int:
    return {"buildings": c.buildings_visited, "households": c.households_touched,
            "persons": c.persons_touched}[name]


def _parts(c: Counts, best: dict[str, int]) -> dict[str, float | None]:
    hours = c.correction_median_hours
    parts: dict[str, float | None] = {
        name: _count(c, name) / best[name] if best[name] else None
        for name in ("buildings", "households", "persons")
    }
    parts["accuracy"] = c.accuracy
    parts["suspect"] = None if c.suspect_rate is None else 1 - c.suspect_rate
    parts["corrections"] = c.corrected_share
    parts["timeliness"] = (None if hours is None
                           else max(0.0, 1 - hours / TIMELINESS_HOURS))
    return parts


def _score(parts: dict[str, float | None], w: dict[str, float]) -> float | None:
    weighted = [(w[name], part) for name, part in parts.items() if part is not None and w[name]]
    total = sum(weight for weight, _ in weighted)
    return 100 * sum(weight * part for weight, part in weighted) / total if total else None


def _working_in(streets: frozenset[int]) -> set[int]:
    """Coordinators assigned to any of the streets (directly or through a village above)."""
    _areas, chains = area_tree.tree()  # each street's chain of areas up to the township
    above = {area_id for street in streets for area_id in chains.get(street, (street,))}
    return {user_id for user_id, area_id in db.session.execute(
        sa.select(Assignment.user_id, Assignment.area_id)) if area_id in above}


_KEYS = {  # (one getter per column: a row's every value is not worked out to sort by one)
    "score": lambda r: r.score, "name": lambda r: r.name,
    "buildings": lambda r: r.counts.buildings_visited,
    "households": lambda r: r.counts.households_touched,
    "persons": lambda r: r.counts.persons_touched, "accuracy": lambda r: r.counts.accuracy,
    "suspect_rate": lambda r: r.counts.suspect_rate, "returned": lambda r: r.counts.returned,
    "corrected": lambda r: r.counts.corrected,
    "hours": lambda r: r.counts.correction_median_hours,
}


def _key(row: Row, key: str):
    return _KEYS[key](row)


def sort(rows: list[Row], key: str, descending: bool = False) -> list[Row]:
    """Rows by a column (unknown keys: by score); rows without a value always last."""
    key = key if key in SORT_KEYS else "score"
    have = [r for r in rows if _key(r, key) is not None]
    missing = [r for r in rows if _key(r, key) is None]
    have.sort(key=lambda r: (_key(r, key), r.name), reverse=descending)
    return have + sorted(missing, key=lambda r: r.name)


def columns(translate) -> list[str]:
    """The export's and the page's headings, in the reader's language."""
    return [translate(t) for t in (
        "Coordinator", "Buildings visited", "Households updated", "Persons updated",
        "Submissions returned", "Corrected", "Accuracy", "Suspect visits",
        "Median hours to correct", "Score")]


def cells(row: Row) -> list:
    """One row's values as the export writes them (rates as fractions, formatted as %)."""
    c = row.counts
    hours = c.correction_median_hours
    return [row.name, c.buildings_visited, c.households_touched, c.persons_touched, c.returned,
            c.corrected, c.accuracy, c.suspect_rate, None if hours is None else round(hours, 1),
            None if row.score is None else round(row.score, 1)]


def xlsx(rows: list[Row], title: str, translate) -> bytes:
    """The assessment table as a workbook (one sheet)."""
    import xlsxwriter  # only exports pay for it

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    write_sheet(book, title, rows, translate)
    book.close()
    return out.getvalue()


def write_sheet(book, title: str, rows: list[Row], translate) -> None:
    """The assessment as one sheet of a workbook (also the meeting report's last sheet)."""
    sheet = book.add_worksheet(translate("Assessment"))
    bold, pct = book.add_format({"bold": True}), book.add_format({"num_format": "0.0%"})
    spreadsheets.write_xlsx_row(sheet, 0, [title], bold)
    spreadsheets.write_xlsx_row(sheet, 1, columns(translate), bold)
    for i, row in enumerate(rows, 2):
        values = cells(row)
        spreadsheets.write_xlsx_row(sheet, i, values)
        for col in (6, 7):
            if values[col] is not None:
                sheet.write_number(i, col, values[col], pct)
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 9, 12)
