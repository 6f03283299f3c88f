"""Which round a visit belongs to: the round holding its day and its building's street.

Rounds are few and change rarely, while every processed submission asks; so each process keeps
the rounds as spans (dates, streets covered, thresholds, forms that count) and re-reads them
when a cheap signature (rounds changed, areas added, settings) moves. One rule, `round_for()`,
serves the visits step, the re-derivation job and the demo; `current_round()` picks what every
page shows by default. The rules for creating, editing and closing rounds are in round_plans.py.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from gis.thresholds import CoverageSettings
from server import localtime
from server.extensions import db
from server.i18n import N_
from server.models import Area, Round, RoundArea, RoundForm, Submission, User, Visit
from server.services import scope, versions
from server.services.coverage import store as coverage


@dataclass(frozen=True, slots=True)
class Span:
    """What deciding and counting need of one round."""

    id: int
    name: str
    starts_on: date
    ends_on: date
    streets: frozenset[str] | None  # None: every street
    form_ids: frozenset[int]  # empty: every form counts
    settings: CoverageSettings
    closed: bool
    street_pairs: tuple[tuple[int, str], ...] | None = None  # (id, code) of `streets`

    def holds(self, day: date, street: str | None) -> bool:
        return (self.starts_on <= day <= self.ends_on
                and (street is None or self.streets is None or street in self.streets))


_LOCK = threading.Lock()
_SPANS: dict[str, tuple[tuple, tuple[Span, ...]]] = {}


#: Values that change when the spans must be re-read (versions.stamp() reads them once a request).
signature_columns = versions.rounds_signature_columns


def _signature(read: tuple | None) -> tuple:
    if read is None:
        read = versions.stamp().rounds  # (one read a request with the areas' and staff's)
    cfg = current_app.config
    return (*read, cfg["MATCH_DISTANCE_M"], cfg["GPS_ACCURACY_M"])


def spans(read_signature: tuple | None = None) -> tuple[Span, ...]:
    """Every round, latest-starting first (cached per process and database)."""
    key, sig = coverage.db_key(), _signature(read_signature)
    cached = _SPANS.get(key)
    if cached is not None and cached[0] == sig:
        return cached[1]
    with _LOCK:
        built = _load()
        _SPANS[key] = (sig, built)
    return built


def forget() -> None:
    """Drop the cached spans of this database (after a change in this process)."""
    _SPANS.pop(coverage.db_key(), None)


def _load() -> tuple[Span, ...]:
    street_paths = db.session.execute(
        sa.select(Area.code, Area.path, Area.id).where(Area.level == "street")).all()
    areas: dict[int, list[str]] = {}
    for round_id, path in db.session.execute(
        sa.select(RoundArea.round_id, Area.path).join(Area, Area.id == RoundArea.area_id)
    ):
        areas.setdefault(round_id, []).append(path)
    forms: dict[int, set[int]] = {}
    for round_id, form_id in db.session.execute(sa.select(RoundForm.round_id, RoundForm.form_id)):
        forms.setdefault(round_id, set()).add(form_id)
    cfg = current_app.config
    out = []
    for r in db.session.scalars(sa.select(Round).order_by(Round.starts_on.desc(),
                                                          Round.id.desc())):
        paths = areas.get(r.id)
        pairs = None if paths is None else tuple(
            (street_id, code) for code, p, street_id in street_paths
            if any(p == a or p.startswith(a + "/") for a in paths)
        )
        covered = None if pairs is None else frozenset(code for _id, code in pairs)
        settings = CoverageSettings(r.match_distance_m or cfg["MATCH_DISTANCE_M"],
                                    r.gps_accuracy_m or cfg["GPS_ACCURACY_M"])
        out.append(Span(r.id, r.name, r.starts_on, r.ends_on, covered,
                        frozenset(forms.get(r.id, ())), settings, r.closed_at is not None, pairs))
    return tuple(out)


def span(round_id: int) -> Span | None:
    return next((s for s in spans() if s.id == round_id), None)


def round_for(day: date, street: str | None, among: tuple[Span, ...] | None = None) -> int | None:
    """**The round a visit belongs to**: the round whose dates hold the visit's day and whose
    areas hold its building's street (the chosen building, else the matched one). A visit with
    no building takes the round its day falls in. Same-area rounds never overlap (round_plans
    refuses it); rounds made before areas were recorded cover every street, and then the
    latest-starting one wins."""
    for s in spans() if among is None else among:
        if s.holds(day, street):
            return s.id
    return None


def streets_of(round_id: int) -> frozenset[str] | None:
    """Street codes a round covers; None when it covers every street."""
    s = span(round_id)
    return None if s is None else s.streets


def street_map_of(round_id: int) -> dict[int, str] | None:
    """Street id -> code of the streets a round covers; None when it covers every street."""
    s = span(round_id)
    return None if s is None or s.street_pairs is None else dict(s.street_pairs)


def settings_of(round_id: int | None) -> CoverageSettings:
    s = span(round_id) if round_id is not None else None
    return s.settings if s is not None else coverage.settings()


def current_round(user: User | None = None) -> Round | None:
    """What pages show by default: among the rounds over the user's streets, the one holding
    today, else the one that ended last, else the next to start."""
    today = localtime.today()
    visible = scope.street_codes(user)
    every = spans()
    mine = [s for s in every if visible is None or s.streets is None or s.streets & visible]
    candidates = mine or list(every)
    if not candidates:
        return None
    holding = [s for s in candidates if s.starts_on <= today <= s.ends_on]
    started = sorted((s for s in candidates if s.starts_on <= today),
                     key=lambda s: (s.ends_on, s.starts_on, s.id), reverse=True)
    upcoming = sorted((s for s in candidates if s.starts_on > today),
                      key=lambda s: (s.starts_on, s.id))
    chosen = (holding or started or upcoming)[0]
    return db.session.get(Round, chosen.id)


def accuracy_limit(user: User | None) -> float:
    """The GPS accuracy (metres) past which the user's visit today is flagged poor: the phone
    app's banner, the form engine's location dialog and its confirmation all use this one
    number. The strictest threshold among today's rounds over the user's streets (a round may
    carry its own), else the GPS_ACCURACY_M setting, as the visits step applies them."""
    today = localtime.today()
    visible = scope.street_codes(user)
    limits = [s.settings.max_accuracy_m for s in spans()
              if s.starts_on <= today <= s.ends_on
              and (visible is None or s.streets is None or bool(s.streets & visible))]
    return min(limits) if limits else float(current_app.config["GPS_ACCURACY_M"])


def visible_rounds(user: User | None) -> list[Round]:
    """Rounds over at least one of the user's streets (every round for admins), newest first."""
    visible = scope.street_codes(user)
    ids = [s.id for s in spans()
           if visible is None or s.streets is None or s.streets & visible]
    if not ids:
        return []
    found = {r.id: r for r in db.session.scalars(sa.select(Round).where(Round.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def status(r: Round, today: date | None = None) -> str:
    """closed, upcoming, current or ended."""
    today = today or localtime.today()
    if r.closed_at is not None:
        return "closed"
    if r.starts_on > today:
        return "upcoming"
    return "current" if r.ends_on >= today else "ended"


STATUS_LABELS = {"closed": N_("Closed"), "upcoming": N_("Not started"),
                 "current": N_("In progress"), "ended": N_("Past its last day")}


def status_label(r: Round) -> str:
    """The status in English words (pages translate them)."""
    return STATUS_LABELS[status(r)]


def outside(user: User | None) -> dict:
    """Counted visits that fall outside every round, among the submissions the user may see:
    how many, and their first and last day (to offer a round that would hold them)."""
    q = (
        sa.select(sa.func.count(Visit.id), sa.func.min(Visit.visited_on),
                  sa.func.max(Visit.visited_on))
        .join(Submission, Submission.id == Visit.submission_id)
        .where(Visit.round_id.is_(None), coverage.counted())
    )
    n, first, last = db.session.execute(scope.where_submission(q, user)).one()
    return {"count": int(n or 0), "first": first, "last": last}
