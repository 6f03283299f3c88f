"""Generated visits in bulk, for the demo township, tests and benchmarks.

gis.demo_visits draws the visits (GPS noise, far and inaccurate geotags, outcomes, unlinked
visits); here they become rows as ingest and the visits step would leave them: a submission
per visit (with its raw XML for the demo, so that pages open it and a replay re-derives the same
visit) and its Visit, matched by the engine under the round's thresholds. Rows go in by DBAPI
executemany on SQLite and COPY on PostgreSQL, so millions load in about a minute; the caller
then recomputes the round's coverage in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import repeat

import numpy as np
import sqlalchemy as sa

from gis.coverage import OUTCOMES, match_visits
from gis.demo_visits import generate_visits
from server import localtime
from server.extensions import db
from server.models import Form, FormVersion, Round, Submission, User
from server.services import scope
from server.services.coverage import rounds
from server.services.coverage import store as coverage

DEMO_FORM = "demo_visit"
#: The form the generated visits were "sent" with (closed: no phone lists it).
DEMO_XLSFORM = """
| survey |                    |                |                   |
|        | type               | name           | label             |
|        | start              | start          |                   |
|        | text               | building       | Building code     |
|        | select_one outcome | outcome        | Outcome           |
|        | integer            | units_recorded | Units recorded    |
|        | geopoint           | visit_location | Location          |
| choices |           |             |             |
|         | list_name | name        | label       |
|         | outcome   | done        | Done        |
|         | outcome   | nobody_home | Nobody home |
|         | outcome   | refused     | Refused     |
|         | outcome   | vacant      | Vacant      |
|         | outcome   | not_rented  | Not rented  |
|         | outcome   | demolished  | Demolished  |
| settings |                |         |                           |
|          | form_id        | version | form_title                |
|          | demo_visit     | 1       | Generated visits (demo)   |
"""


def demo_form_version() -> int:
    """The closed demo form's version (created on first use)."""
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == DEMO_FORM))
    if form is not None:
        return form.versions[0].id
    from forms import convert_xlsform  # pyxform: only when the demo form is first made

    converted = convert_xlsform(DEMO_XLSFORM.encode(), "demo_visit.md")
    form = Form(xml_form_id=DEMO_FORM, title="Generated visits (demo)", state="closed")
    db.session.add(form)
    db.session.flush()
    fv = FormVersion(form_id=form.id, version=converted.version, xform=converted.xform,
                     state="published", md5=hashlib.md5(converted.xform.encode()).hexdigest())
    db.session.add(fv)
    db.session.flush()
    return fv.id


def _instance(instance_id: str, start: str, building: str, outcome: str, units: int,
              lon, lat, acc, version: str) -> bytes:
    loc = "" if lon is None else f"{lat:.7f} {lon:.7f} 0 {acc:.1f}"
    return (f'<data xmlns:orx="http://openrosa.org/xforms" id="{DEMO_FORM}" version="{version}">'
            f"<start>{start}</start><building>{building}</building><outcome>{outcome}</outcome>"
            f"<units_recorded>{units}</units_recorded><visit_location>{loc}</visit_location>"
            f"<meta><instanceID>{instance_id}</instanceID></meta></data>").encode()


def add_generated_visits(n_visits: int, round_id: int, *, seed: int = 2016,
                         start: datetime | None = None, minutes: int | None = None,
                         raw_xml: bool = False, chunk: int = 50_000) -> int:
    """Add `n_visits` generated visits to one round, at local times from `start` over
    `minutes` (default: the round's first day, over its days); `raw_xml` stores each one's
    instance (the demo), else submissions carry no XML (benchmarks)."""
    rnd = db.session.get(Round, round_id)
    if rnd is None:
        raise ValueError(f"no round with id {round_id}")
    start = start or datetime.combine(rnd.starts_on, datetime.min.time())
    if minutes is None:
        minutes = ((rnd.ends_on - rnd.starts_on).days + 1) * 24 * 60
    street_user = _coordinator_of_street()
    visits = generate_visits(
        coverage.load_buildings(), n_visits, seed=seed, rounds=(round_id,),
        coordinator_of_street=street_user or None, start=start.strftime("%Y-%m-%dT%H:%M"),
        minutes=max(1, minutes),
    )  # fmt: skip
    m = match_visits(coverage.index().buildings, visits, rounds.settings_of(round_id))
    fv_id = demo_form_version()
    version = db.session.get(FormVersion, fv_id).version
    user_id = dict(db.session.execute(sa.select(User.username, User.id)).all())
    code_of = dict(db.session.execute(sa.text("SELECT id, code FROM buildings")).all())
    first = (db.session.scalar(sa.select(sa.func.max(Submission.id))) or 0) + 1
    n = len(visits)
    local = np.asarray(visits.time, "datetime64[m]")
    offset = localtime.zone().utcoffset(start) or timedelta(0)
    utc = local - np.timedelta64(int(offset.total_seconds() // 60), "m")
    times = np.char.replace(np.datetime_as_string(utc.astype("datetime64[us]"), unit="us"),
                            "T", " ").astype(object).tolist()
    days = np.datetime_as_string(local, unit="D").tolist()
    hours = int(offset.total_seconds() // 3600)
    starts = [f"{t}:00{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"
              for t in np.datetime_as_string(local, unit="m").tolist()]
    lon, lat, acc = (_nullable(a) for a in (visits.lon, visits.lat, visits.accuracy_m))
    chosen = np.where(visits.has_building, visits.building_ids, None).tolist()
    matched = [None if b is None else int(b) for b in m.building_ids.tolist()]
    dist = _nullable(m.distance_m)
    flag_sets = [json.dumps([f for k, f in enumerate(("far", "poor_accuracy", "unmatched"))
                             if code >> k & 1]) for code in range(8)]  # fmt: skip
    codes = m.far.astype(int) + 2 * m.poor_accuracy.astype(int) + 4 * m.unmatched.astype(int)
    flags = np.asarray(flag_sets, object)[codes].tolist()
    outcome = np.asarray(OUTCOMES, object)[visits.outcome].tolist()
    units = visits.units.tolist()
    uid = [user_id.get(c) if c else None for c in visits.coordinator.tolist()]
    sub_ids = range(first, first + n)
    prefix = f"uuid:gen-{seed}-{round_id}-"
    blobs: list[tuple[str, bytes]] = []
    shas, sizes, keys = ["0" * 64] * n, [0] * n, [""] * n
    if raw_xml:
        for i in range(n):
            b = chosen[i]
            xml = _instance(f"{prefix}{sub_ids[i]}", starts[i],
                            "" if b is None else code_of[int(b)], outcome[i], units[i],
                            lon[i], lat[i], acc[i], version)  # fmt: skip
            digest = hashlib.sha256(xml).hexdigest()
            shas[i], sizes[i], keys[i] = digest, len(xml), f"db:{digest}"
            blobs.append((digest, xml))
    sub_cols = ("id", "instance_id", "form_version_id", "submitter_id", "received_at",
                "xml_sha256", "xml_size", "storage_key", "superseded", "review_state",
                "processing_state", "attachments_expected", "attachments_present", "lon", "lat",
                "gps_accuracy", "draft")  # fmt: skip
    visit_cols = ("submission_id", "round_id", "coordinator_id", "chosen_building_id",
                  "building_id", "lon", "lat", "gps_accuracy", "distance_m", "outcome",
                  "units_recorded", "flags", "visited_at", "visited_on")  # fmt: skip
    if db.engine.dialect.name == "sqlite":  # index pages of millions of rows stay in memory
        db.session.execute(sa.text("PRAGMA cache_size = -262144"))
    if blobs:
        bulk_insert("submission_blobs", ("sha256", "xml"), blobs)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        bulk_insert("submissions", sub_cols, (
            (i, f"{prefix}{i}", fv_id, u, t, sha, size, key, False, "received", "done", 0, 0,
             x, y, ac, False)
            for i, u, t, sha, size, key, x, y, ac in zip(
                sub_ids[a:b], uid[a:b], times[a:b], shas[a:b], sizes[a:b], keys[a:b],
                lon[a:b], lat[a:b], acc[a:b], strict=True)
        ))  # fmt: skip
        bulk_insert("visits", visit_cols, zip(
            sub_ids[a:b], repeat(round_id), uid[a:b], chosen[a:b], matched[a:b], lon[a:b],
            lat[a:b], acc[a:b], dist[a:b], outcome[a:b], units[a:b], flags[a:b], times[a:b],
            days[a:b], strict=False,
        ))  # fmt: skip
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("PRAGMA cache_size = -2000"))  # SQLite's default
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence('submissions', 'id'), "
            "(SELECT max(id) FROM submissions))"))  # fmt: skip
        db.session.commit()
    return n_visits


def _nullable(a: np.ndarray) -> list:
    """Floats with NaN as None (NULL, not a NaN value, in both databases)."""
    out = a.astype(object)
    out[np.isnan(a)] = None
    return out.tolist()


def db_datetime(t: datetime) -> str:
    """A naive UTC datetime as SQLAlchemy stores it on SQLite (PostgreSQL parses it too)."""
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")


def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """Append DB-ready rows (datetimes as `db_datetime` strings, JSON as text) in the session's
    transaction: DBAPI executemany on SQLite, COPY on PostgreSQL. For generated data only: no
    defaults and no type processing."""
    conn = db.session.connection()
    raw = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    cur = raw.cursor()
    try:
        cur.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows
        )
    finally:
        cur.close()


def _coordinator_of_street() -> dict[str, str]:
    out: dict[str, str] = {}
    for user, streets in scope.coordinator_streets().items():
        for s in streets:
            out.setdefault(s, user)
    return out
