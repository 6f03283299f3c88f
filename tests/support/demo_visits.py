"""Generated visits for the buildings in the database, for tests and benchmarks (tests/bench).

Rows are bulk-inserted (a submission row per visit, as ingest would leave it, and its Visit
already matched): plain DBAPI executemany of tuples on SQLite, COPY on PostgreSQL, so three
million visits load in about a minute; coverage is then recomputed in one pass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import repeat

import numpy as np
import sqlalchemy as sa

from gis.coverage import OUTCOMES, match_visits
from gis.demo_visits import generate_visits
from server.extensions import db
from server.models import Form, FormVersion, Round, Submission, User
from server.models._types import utcnow
from server.services import scope
from server.services.coverage import store as coverage

DEMO_FORM = "demo_visit"
_XFORM = "<h:html xmlns:h='http://www.w3.org/1999/xhtml'><!-- generated visits --></h:html>"


def _demo_form_version() -> int:
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == DEMO_FORM))
    if form is None:
        form = Form(xml_form_id=DEMO_FORM, title="generated visits", state="closed")
        db.session.add(form)
        db.session.flush()
        fv = FormVersion(
            form_id=form.id,
            version="1",
            xform=_XFORM,
            state="published",
            md5=hashlib.md5(_XFORM.encode()).hexdigest(),
        )
        db.session.add(fv)
        db.session.flush()
        return fv.id
    return form.versions[0].id


def load_generated_visits(
    n_visits: int, round_id: int, seed: int = 2016, chunk: int = 50_000
) -> int:
    """Add `n_visits` generated visits (GPS noise, far, poor, unlinked) in one round."""
    if db.session.get(Round, round_id) is None:
        raise ValueError(f"no round with id {round_id}")
    prep = coverage.index().buildings
    buildings = coverage.load_buildings()
    street_user = _coordinator_of_street()
    visits = generate_visits(
        buildings,
        n_visits,
        seed=seed,
        rounds=(round_id,),
        coordinator_of_street=street_user or None,
    )
    m = match_visits(prep, visits, coverage.settings())
    fv_id = _demo_form_version()
    user_id = dict(db.session.execute(sa.select(User.username, User.id)).all())
    first = (db.session.scalar(sa.select(sa.func.max(Submission.id))) or 0) + 1
    now = db_datetime(utcnow())
    n = len(visits)
    t = np.asarray(visits.time, "datetime64[us]")
    times = np.char.replace(np.datetime_as_string(t, unit="us"), "T", " ").astype(object)
    times[np.isnat(t)] = now
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
    sub_cols = ("id", "instance_id", "form_version_id", "submitter_id", "received_at",
                "xml_sha256", "xml_size", "storage_key", "superseded", "review_state",
                "processing_state", "attachments_expected", "attachments_present", "lon", "lat",
                "gps_accuracy")  # fmt: skip
    visit_cols = ("submission_id", "round_id", "coordinator_id", "chosen_building_id",
                  "building_id", "lon", "lat", "gps_accuracy", "distance_m", "outcome",
                  "units_recorded", "flags", "visited_at")  # fmt: skip
    zeros = "0" * 64
    prefix = f"uuid:gen-{seed}-{round_id}-"
    if db.engine.dialect.name == "sqlite":  # index pages of millions of rows stay in memory
        db.session.execute(sa.text("PRAGMA cache_size = -262144"))
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        bulk_insert("submissions", sub_cols, (
            (i, f"{prefix}{i}", fv_id, u, now, zeros, 0, "", False, "received", "done", 0, 0,
             x, y, ac)
            for i, u, x, y, ac in zip(sub_ids[a:b], uid[a:b], lon[a:b], lat[a:b], acc[a:b],
                                      strict=True)
        ))  # fmt: skip
        bulk_insert("visits", visit_cols, zip(
            sub_ids[a:b], repeat(round_id), uid[a:b], chosen[a:b], matched[a:b], lon[a:b],
            lat[a:b], acc[a:b], dist[a:b], outcome[a:b], units[a:b], flags[a:b], times[a:b],
            strict=False,
        ))  # fmt: skip
    db.session.commit()
    if db.engine.dialect.name == "sqlite":
        db.session.execute(sa.text("PRAGMA cache_size = -2000"))  # SQLite's default
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence('submissions', 'id'), "
                "(SELECT max(id) FROM submissions))"
            )
        )
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


def load_generated_city(buildings: int, visits: int, round_id: int, seed: int = 2016) -> None:
    """The demo township generator's city plus generated visits, then a full recompute."""
    from server.services import demo
    from server.services.coverage import recompute as coverage_recompute

    demo.load_demo(seed=seed, buildings=buildings)
    coverage.buildings_changed()
    load_generated_visits(visits, round_id, seed=seed)
    coverage_recompute.recompute(round_id)
