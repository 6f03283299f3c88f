"""The visit a submission records: which building, where, with what outcome; then coverage.

The "visits" step of server.services.processing.pipeline: runs after the entities step (a
building found in the field exists by then), idempotently
(one Visit per submission; an edit naming a `deprecatedID` replaces the old visit). Fields read
from the instance (forms/township): `building` (or `building_id`) holding the building code or a
`buildings` entity id, `outcome`, `visit_location` (else the first geopoint), `start`. A
submission declaring a `households` entity records one dwelling unit when its outcome is done
or vacant (a vacant flat is recorded, not missing); otherwise a `units_recorded` field (a
building-level form's count) gives the units of a done visit.

The visit's round is server.services.coverage.rounds.round_for(): its day (in the township's
zone) and its building's street; the round's own thresholds then decide its match and flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np
import sqlalchemy as sa

from forms.instance import InstanceError, instance_schema, parse_geopoint, parse_instance
from gis.coverage import OUTCOMES, Visit, VisitMatch
from server import localtime
from server.extensions import db
from server.models import Building, Entity, FormVersion, Submission
from server.models import Visit as VisitRow
from server.services.coverage import refresh as coverage_refresh
from server.services.coverage import rounds, visit_batch
from server.services.coverage import store as coverage
from server.services.step_batch import Batch, current

BUILDING_FIELDS = ("building", "building_id")
GEO_FIELD = "visit_location"
UNITS_FIELD = "units_recorded"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=64)
def _geo_paths(db_key: str, form_version_id: int, xform_md5: str) -> tuple[str, ...]:
    """Geopoint paths of a form version (its XForm is parsed once per process)."""
    xform = db.session.scalar(sa.select(FormVersion.xform).where(FormVersion.id == form_version_id))
    return tuple(instance_schema(xform).geo_paths) if xform else ()


@dataclass(slots=True)
class _Read:
    """What the step reads of an instance, in one walk of it (document order)."""

    fields: dict[str, str]  # first non-empty text per local name (outside repeats' later items)
    paths: dict[str, str]  # first non-empty text per path of local names
    household: bool  # declares a `households` entity
    geotag: tuple | None = None  # (lon, lat, accuracy), once _geotag read it


def _read(root) -> _Read:
    """One walk, document order (a stack, not recursion: a call per element costs more)."""
    out = _Read({}, {}, False)
    fields, paths = out.fields, out.paths
    stack = [(root, "/" + _local(root.tag))]
    while stack:
        el, path = stack.pop()
        name = path.rpartition("/")[2]
        text = el.text
        if text and (text := text.strip()):
            if name not in fields:
                fields[name] = text
            if path not in paths:
                paths[path] = text
        if name == "entity" and el.get("dataset") == "households":
            out.household = True
        if len(el):
            stack.extend((child, f"{path}/{child.tag.rpartition('}')[2]}")
                         for child in reversed(el))
    return out


def _read_of(submission: Submission, root) -> _Read:
    """The instance read once per batch (its prepare and its run share it)."""
    batch = visit_batch.current(current())
    if batch is None:
        return _read(root)
    if submission.id not in batch.reads:
        batch.reads[submission.id] = _read(root)
    return batch.reads[submission.id]


def _geotag(
    submission: Submission, read: _Read, md5: str | None
) -> tuple[float | None, float | None, float | None]:
    if read.geotag is None:
        read.geotag = _find_geotag(submission, read, md5)
    return read.geotag


def _find_geotag(
    submission: Submission, read: _Read, md5: str | None
) -> tuple[float | None, float | None, float | None]:
    fv_id = submission.form_version_id
    geo = _geo_paths(coverage.db_key(), fv_id, md5) if md5 is not None else ()
    values = read.paths
    ordered = sorted(geo, key=lambda p: (not p.endswith("/" + GEO_FIELD), p))
    for path in ordered:
        if path in values and (pt := parse_geopoint(values[path].split(";")[0])) is not None:
            lat, lon, _alt, acc = pt
            return lon, lat, acc
    if submission.lon is not None and submission.lat is not None:
        return submission.lon, submission.lat, submission.gps_accuracy
    return None, None, None


def _time(fields: dict[str, str], submission: Submission) -> tuple[datetime, date]:
    """(UTC time, the township's calendar day) of the visit: the form's `start`, else when
    received. A time without a zone is taken as the township's local time."""
    for name in ("start", "end"):
        if name in fields:
            try:
                t = datetime.fromisoformat(fields[name].replace("Z", "+00:00"))
            except ValueError:
                continue
            if t.tzinfo is None:
                t = t.replace(tzinfo=localtime.zone())
            utc = t.astimezone(UTC).replace(tzinfo=None)
            return utc, localtime.local_date(utc)
    received = submission.received_at or datetime.now(UTC).replace(tzinfo=None)
    return received, localtime.local_date(received)


def _units(fields: dict[str, str]) -> int:
    try:
        return max(0, int(fields.get(UNITS_FIELD, "0")))
    except ValueError:
        return 0


@dataclass(slots=True)
class _Lookup:
    rounds_signature: tuple  # rounds.spans() re-reads the rounds when it moves
    building_id: int | None  # the chosen building's, by code or `buildings` entity id
    form_md5: str | None
    top_building_id: int | None  # the index is rebuilt when buildings were added
    visit: tuple | None  # (id, building_id, round_id) of this submission's visit, if any
    old: tuple | None  # the same for the submission this one edits


def _first(stmt):
    return stmt.limit(1).scalar_subquery()


def _visit_of(submission_id):
    sel = sa.select(VisitRow.id).where(VisitRow.submission_id == submission_id)
    return [_first(sel.with_only_columns(c)) for c in (VisitRow.id, VisitRow.building_id,
                                                       VisitRow.round_id)]  # fmt: skip


@lru_cache(maxsize=2)
def _lookup_statement(edit: bool) -> sa.Select:
    """Built once: statement construction would cost more than running it."""
    chosen = sa.bindparam("chosen", type_=sa.String)
    cols = [
        *rounds.signature_columns(),
        _first(sa.select(Building.id).where(Building.code == chosen)),
        _first(
            sa.select(Entity.building_id).where(
                Entity.uuid == chosen, Entity.building_id.is_not(None)
            )
        ),
        _first(sa.select(FormVersion.md5).where(FormVersion.id == sa.bindparam("fv"))),
        sa.select(sa.func.max(Building.id)).scalar_subquery(),
        *_visit_of(sa.bindparam("sub")),
    ]
    if edit:
        old = sa.select(Submission.id).where(Submission.instance_id == sa.bindparam("old"))
        cols += _visit_of(_first(old))
    return sa.select(*cols)


def _lookup(submission: Submission, chosen: str | None) -> _Lookup:
    """Everything process() reads before matching, in one round trip (indexed subqueries), or
    from what the batch read for all its submissions."""
    found = visit_batch.current(current())
    if found is not None:
        prior = found.priors.get(submission.deprecated_id) if submission.deprecated_id else None
        return _Lookup(found.signature, found.building(chosen) if chosen else None,
                       found.md5.get(submission.form_version_id), found.top(),
                       found.visit_of(submission.id), found.visit_of(prior))
    edit = bool(submission.deprecated_id)
    params = {"chosen": chosen or "", "fv": submission.form_version_id, "sub": submission.id}
    if edit:
        params["old"] = submission.deprecated_id
    r = db.session.connection().execute(_lookup_statement(edit), params).one()
    visit = tuple(r[7:10]) if r[7] is not None else None
    old = tuple(r[10:13]) if edit and r[10] is not None else None
    return _Lookup(tuple(r[0:3]), r[3] if r[3] is not None else r[4], r[5], r[6], visit, old)


def _chosen(fields: dict[str, str]) -> str | None:
    return next((fields[f] for f in BUILDING_FIELDS if f in fields), None)


def prepare_batch(group: Batch) -> None:
    """The lookups of every submission of the batch, in a few queries (visit_batch)."""
    reads: dict[int, _Read] = {}

    def chosen_of(sub: Submission) -> str | None:
        root = group.root_or_none(sub)
        if root is None:
            return None
        reads[sub.id] = _read(root)
        return _chosen(reads[sub.id].fields)

    visit_batch.prepare(group, chosen_of)
    visit_batch.current(group).reads.update(reads)


finish_batch = visit_batch.finish


def record_visit(submission: Submission, xml: bytes) -> None:
    """Create or update the submission's Visit and refresh its building's coverage (in a
    batch: recorded for the batch's writes, server.services.coverage.visit_batch)."""
    group = current()
    batch = visit_batch.current(group)
    try:
        root = parse_instance(xml) if group is None else group.root(submission)
    except InstanceError:
        return  # ingest rejects malformed XML; nothing to derive
    read = _read_of(submission, root)
    fields = read.fields
    chosen_value = _chosen(fields)
    when, day = _time(fields, submission)
    found = _lookup(submission, chosen_value)
    table = VisitRow.__table__
    touched: set[tuple[int, int]] = set()
    for row in (found.old, found.visit):
        if row is not None and row[1] and row[2]:
            touched.add((row[1], row[2]))
    if found.old is not None:
        if batch is not None:
            batch.delete(found.old[0])
        else:
            db.session.execute(sa.delete(table).where(table.c.id == found.old[0]))
    if submission.superseded:  # replayed after its edit: the edit's visit counts
        if found.visit is not None:
            if batch is not None:
                batch.delete(found.visit[0])
            else:
                db.session.execute(sa.delete(table).where(table.c.id == found.visit[0]))
        _refresh(touched, batch)
        return

    chosen = found.building_id if chosen_value else None
    lon, lat, acc = _geotag(submission, read, found.form_md5)
    outcome = fields.get("outcome", "done")
    if outcome not in OUTCOMES:
        outcome = "done"
    units = 0
    if read.household and outcome in ("done", "vacant"):
        outcome, units = "done", 1
    elif outcome == "done":
        units = _units(fields)

    index = coverage.index(top_building_id=found.top_building_id)
    if chosen is not None and not _known(index, chosen):
        coverage.buildings_changed()  # a building added since the index was built
        index = coverage.index()
    visit = Visit(submission.id, chosen, lon, lat, acc, outcome, units, round=None)
    match = _match(index, visit, submission, group, batch)
    spans = rounds.spans(found.rounds_signature)
    street = _street(index, chosen if chosen is not None else match.building_id)
    round_id = rounds.round_for(day, street, spans)
    own = next((s.settings for s in spans if s.id == round_id), index.settings)
    if own != index.settings:  # the round's own thresholds decide the match and flags
        match = coverage.index_for(own, found.top_building_id).match(visit)
    flags = list(coverage.match_flags(match))
    if chosen_value and chosen is None:
        flags.append("unknown_building")
    if lon is None:
        flags.append("no_geotag")
    values = {
        "round_id": round_id,
        "coordinator_id": submission.submitter_id,
        "chosen_building_id": chosen,
        "building_id": None if match.building_id is None else int(match.building_id),
        "lon": lon, "lat": lat, "gps_accuracy": acc, "distance_m": match.distance_m,
        "outcome": outcome, "units_recorded": units, "flags": flags, "visited_at": when,
        "visited_on": day,
    }  # fmt: skip
    if batch is not None:
        if found.visit is None:
            batch.inserts[submission.id] = values
        else:
            batch.updates[found.visit[0]] = values
    elif found.visit is None:
        db.session.connection().execute(table.insert(), {"submission_id": submission.id,
                                                         **values})
    else:
        db.session.connection().execute(table.update().where(table.c.id == sa.bindparam("vid")),
                                        {"vid": found.visit[0], **values})  # fmt: skip
    if values["building_id"] and values["round_id"]:
        touched.add((values["building_id"], values["round_id"]))
    _refresh(touched, batch)


def _match(index, visit: Visit, submission: Submission, group: Batch | None,
           batch: visit_batch.Prepared | None) -> VisitMatch:
    """The visit's match. In a batch it comes from one vectorised call over the batch's visits
    from this one on (made again only if the index was rebuilt meanwhile), used only where the
    inputs it was given are still this visit's (a building the entities step made since
    changes them): the answers are index.match's, for a fraction of the cost."""
    if batch is None or group is None:
        return index.match(visit)
    hit = batch.matched.get(submission.id)
    if hit is None or hit[0] is not index:
        _match_rest(index, submission, group, batch)
        hit = batch.matched[submission.id]
    key = (visit.building_id, visit.lon, visit.lat, visit.accuracy_m)
    return hit[2] if hit[1] == key else index.match(visit)


def _match_rest(index, submission: Submission, group: Batch,
                batch: visit_batch.Prepared) -> None:
    """Match the visits of `submission` and those after it in the batch in one call."""
    rest = group.subs[next(k for k, s in enumerate(group.subs) if s is submission):]
    keys: dict[int, tuple] = {}
    for sub in rest:
        batch.matched[sub.id] = (index, None, None)
        read = batch.reads.get(sub.id)
        if read is None or sub.superseded:
            continue  # malformed, or replayed after its edit: it records no visit
        value = _chosen(read.fields)
        chosen = batch.building(value) if value else None
        if chosen is None or _known(index, chosen):
            lon, lat, acc = _geotag(sub, read, batch.md5.get(sub.form_version_id))
            keys[sub.id] = (chosen, lon, lat, acc)
    visits = [Visit(sub_id, *key, "done") for sub_id, key in keys.items()]
    try:
        answers = index.match_many(visits)
    except ValueError:  # never seen; if one visit's inputs do it, its own match says so alone
        return
    for visit, answer in zip(visits, answers, strict=True):
        batch.matched[visit.id] = (index, keys[visit.id], answer)


def _street(index, building_id) -> str | None:
    """The street code of a building in the index (None: no building, or no street)."""
    if building_id is None:
        return None
    ids = index.buildings.ids
    pos = int(np.searchsorted(ids, building_id))
    if pos >= len(ids) or int(ids[pos]) != int(building_id):
        return None
    street = index.buildings.streets[pos]
    return None if street is None or street == "None" else str(street)


def _known(index, building_id: int) -> bool:
    ids = index.buildings.ids
    pos = int(np.searchsorted(ids, building_id))
    return pos < len(ids) and int(ids[pos]) == building_id


def _refresh(touched: set[tuple[int, int]], batch: visit_batch.Prepared | None) -> None:
    if batch is not None:  # refreshed when the batch finishes
        batch.touched |= touched
        return
    for building_id, round_id in sorted(touched):
        coverage_refresh.refresh_building(building_id, round_id)

