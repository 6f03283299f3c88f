"""Coverage benchmarks on generated cities, each figure next to plain PostGIS SQL on the same data.

    .venv/bin/python tests/bench/bench_coverage.py [--sizes 10000,100000] [--out FILE]
    DOORSTEP_BENCH_1M=1 adds the 1,000,000-building city.

Needs DOORSTEP_TEST_POSTGRES_URL (PostgreSQL 15 + PostGIS) for the comparison column; without
it only the in-process figures are measured. Per city (gis.demo, ~3 visits per building from
gis.demo_visits) it measures:

* import: gis.importing read + check + street join of a GeoPackage of the footprints, against
  PostGIS doing the same checks in SQL (validity, street by ST_Contains of the point on surface);
* full recompute: the engine alone (compute_coverage), the whole service (load visits from the
  database, match, write rows), and the PostGIS states query (gis.postgis.STATES_SQL); the two
  answers are compared building by building;
* incremental update per submission: the visits processor on a real submission (match with the
  cached index + refresh of that building from its stored visits + commit), the engine's
  CoverageIndex.apply, and the PostGIS single-visit match query;
* tile latency: z14 and z16 tiles cold and cached through the service, against ST_AsMVT.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from gis import postgis  # noqa: E402
from gis.coverage import Visit, compute_coverage  # noqa: E402
from gis.tiles import lonlat_to_tile  # noqa: E402


def _t(fn, *args, repeat: int = 1, **kw):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        best = min(best, time.perf_counter() - t0)
    return best, out


def make_app(url: str, instance: Path):
    from flask_migrate import upgrade

    from server import create_app
    from server.extensions import init_migrate

    app = create_app(
        {
            "TESTING": True,
            "INSTANCE_PATH": str(instance),
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "PROCESS_IN_BACKGROUND": False,
        }
    )
    init_migrate(app)
    with app.app_context():
        init_migrate(app)  # Flask-Migrate is bound lazily (server.extensions)
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    return app


def load_city(town) -> dict:
    """The generated city as the demo loader would leave it, bulk-inserted (setup, timed).

    Areas, buildings, coordinators (unusable password: nobody logs in) with their streets, one
    round, then ~3 generated visits per building as Submission + Visit rows (the benchmark
    measures coverage, not ingest).
    """
    from datetime import date

    import shapely

    from server.extensions import db
    from server.models import Area, Round, User
    from server.models._types import utcnow
    from server.services.coverage import store as coverage
    from tests.support.demo_visits import bulk_insert, db_datetime, load_generated_visits

    out = {}
    t0 = time.perf_counter()
    paths, ids = {}, {}
    for k, a in enumerate(town.areas, start=1):  # parents come first
        paths[a.code] = f"{paths[a.parent_code]}/{a.code}" if a.parent_code else a.code
        ids[a.code] = k
    db.session.execute(sa.insert(Area), [
        {"id": ids[a.code], "code": a.code, "name_zh": a.name_zh, "name_en": a.name_en,
         "level": a.level, "parent_id": ids.get(a.parent_code), "path": paths[a.code],
         "boundary": shapely.to_wkb(a.boundary) if a.boundary is not None else None}
        for a in town.areas
    ])  # fmt: skip
    fp = np.array([b.footprint for b in town.buildings], dtype=object)
    bounds = shapely.bounds(fp).tolist()
    rep = shapely.point_on_surface(fp)
    lon, lat = shapely.get_x(rep).tolist(), shapely.get_y(rep).tolist()
    wkb = shapely.to_wkb(fp).tolist()
    now = utcnow()
    cols = ("id", "code", "street_id", "footprint", "minx", "miny", "maxx", "maxy", "lon", "lat",
            "address", "expected_units", "floors", "source", "created_at")  # fmt: skip
    step = 100_000
    for start in range(0, len(fp), step):
        bulk_insert("buildings", cols, (
            (i + 1, b.code, ids[b.street_code], wkb[i], *bounds[i], lon[i], lat[i], b.address_zh,
             b.expected_units, b.floors, "demo", db_datetime(now))
            for i, b in enumerate(town.buildings[start : start + step], start=start)
        ))  # fmt: skip
    users = [*town.supervisors, *town.coordinators]
    db.session.execute(sa.insert(User), [
        {"id": k, "username": u.username, "display_name": u.display_name, "role": u.role,
         "password_hash": "!", "active": True, "created_at": now}
        for k, u in enumerate(users, start=1)
    ])  # fmt: skip
    bulk_insert("assignments", ("user_id", "area_id"), (
        (k, ids[c]) for k, u in enumerate(users, start=1) for c in u.area_codes
    ))  # fmt: skip
    db.session.add(Round(name="2016", starts_on=date(2016, 10, 1), ends_on=date(2016, 11, 30)))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table in ("areas", "buildings", "users", "assignments"):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            ))  # fmt: skip
        db.session.commit()
    out["load_buildings_s"] = time.perf_counter() - t0
    rnd = db.session.scalar(sa.select(Round))
    coverage.buildings_changed()
    t1 = time.perf_counter()
    coverage.index()
    out["index_build_s"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    load_generated_visits(3 * len(fp), rnd.id, seed=2016)
    out["load_visits_s"] = time.perf_counter() - t1
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    out["load_s"] = time.perf_counter() - t0
    return out


def bench_import(n: int, town, tmp: Path, pg_conn) -> dict:
    import geopandas as gpd

    from gis.importing import prepare_buildings, read_layer

    streets = [a for a in town.areas if a.level == "street"]
    frame = gpd.GeoDataFrame(
        {
            "code": [b.code for b in town.buildings],
            "expected_units": [b.expected_units for b in town.buildings],
        },
        geometry=[b.footprint for b in town.buildings],
        crs=4326,
    )
    path = tmp / f"city{n}.gpkg"
    frame.to_file(path, driver="GPKG")
    areas = gpd.GeoDataFrame(
        {"code": [a.code for a in streets], "level": ["street"] * len(streets)},
        geometry=[a.boundary for a in streets],
        crs=4326,
    )
    data = path.read_bytes()

    def run():
        f = read_layer(data, path.name)
        return prepare_buildings(f, areas, code_field="code", units_field="expected_units")

    secs, result = _t(run)
    out = {"import_s": secs, "import_records": len(result.records)}
    if pg_conn is not None:
        sql = sa.text("""
            SELECT count(*) FILTER (WHERE NOT ST_IsValid(b.geom)),
                   count(a.id)
            FROM buildings b
            LEFT JOIN areas a ON a.level = 'street' AND a.geom && b.geom
                 AND ST_Contains(a.geom, ST_PointOnSurface(b.geom))""")
        out["import_pg_s"], _ = _t(lambda: pg_conn.execute(sql).all())
    return out


def bench_recompute(pg_app) -> dict:
    from server.extensions import db
    from server.models import Round
    from server.services.coverage import recompute as coverage_recompute
    from server.services.coverage import store as coverage

    rid = db.session.scalar(sa.select(Round.id))
    prep = coverage.index().buildings
    visits, _ = coverage_recompute.load_visits(rid)
    s = coverage.settings()
    out = {"visits": len(visits)}
    out["engine_s"], cov = _t(compute_coverage, prep, visits, settings=s, repeat=3)
    out["load_visits_s"], _ = _t(coverage_recompute.load_visits, rid)
    out["service_first_s"], _ = _t(coverage_recompute.recompute, rid, rematch=False)
    out["service_s"], res = _t(coverage_recompute.recompute, rid, rematch=False, repeat=2)
    out["service_rematch_s"], _ = _t(coverage_recompute.recompute, rid, rematch=True)
    out["counts"] = {k: res.counts[k] for k in coverage.STATES}
    if pg_app is not None:
        with pg_app.app_context():
            conn = db.session.connection()
            out["pg_states_s"], pg = _t(
                postgis.coverage_states, conn, rid, s.match_distance_m, s.max_accuracy_m
            )
            db.session.rollback()
        mine = dict(zip(cov.building_ids.tolist(), cov.states.tolist(), strict=True))
        out["identical"] = all(pg[b][0] == st for b, st in mine.items()) and len(pg) == len(mine)
    return out


def bench_incremental(pg_app, n_subs: int = 200) -> dict:
    from forms import convert_xlsform
    from server.extensions import db
    from server.models import Building, Form, FormVersion, Submission
    from server.services.coverage import store as coverage
    from server.services.coverage import visits

    c = convert_xlsform((ROOT / "forms/township/household.xlsx").read_bytes(), "household.xlsx")
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == "household"))
    if form is None:
        form = Form(xml_form_id="household", title="household", state="published")
        db.session.add(form)
        db.session.flush()
    fv = db.session.scalar(
        sa.select(FormVersion).where(
            FormVersion.form_id == form.id, FormVersion.version == c.version
        )
    )
    if fv is None:
        fv = FormVersion(
            form_id=form.id, version=c.version, xform=c.xform, md5=c.md5, state="published"
        )
        db.session.add(fv)
    db.session.commit()
    rows = db.session.execute(
        sa.select(Building.id, Building.code, Building.lon, Building.lat)
        .order_by(sa.func.random())
        .limit(n_subs)
    ).all()
    coverage.index()  # built once per process; not part of a submission's cost
    times = []
    for _bid, code, lon, lat in rows:
        iid = f"uuid:{uuid.uuid4()}"
        xml = (
            f'<data id="household" version="{c.version}"><start>2016-10-05T09:00:00+08:00'
            f"</start><building>{code}</building><outcome>done</outcome>"
            f"<visit_location>{lat} {lon} 1900 5</visit_location>"
            f'<meta><instanceID>{iid}</instanceID><entity dataset="households" id="{uuid.uuid4()}"'
            f' create="1"/></meta></data>'
        ).encode()
        sub = Submission(
            instance_id=iid,
            form_version_id=fv.id,
            xml_sha256="0" * 64,
            xml_size=len(xml),
            storage_key="bench",
        )
        db.session.add(sub)
        db.session.commit()
        db.session.refresh(sub)  # loaded, as processing.process_one hands it over
        t0 = time.perf_counter()
        visits.record_visit(sub, xml)
        db.session.commit()
        times.append(time.perf_counter() - t0)
    idx = coverage.index()
    eng = []
    for k, (bid, _code, lon, lat) in enumerate(rows):
        t0 = time.perf_counter()
        idx.apply(Visit(10**9 + k, int(bid), lon, lat, 5.0, "done", 1, round="bench"))
        eng.append(time.perf_counter() - t0)
    unl = []
    for k, (_bid, _code, lon, lat) in enumerate(rows):
        t0 = time.perf_counter()
        idx.apply(Visit(2 * 10**9 + k, None, lon + 1e-5, lat, 5.0, "done", 1, round="bench"))
        unl.append(time.perf_counter() - t0)
    out = {
        "processor_ms_p50": 1000 * statistics.median(times),
        "processor_ms_p95": 1000 * float(np.percentile(times, 95)),
        "engine_apply_ms_p50": 1000 * statistics.median(eng),
        "engine_apply_unlinked_ms_p50": 1000 * statistics.median(unl),
    }
    if pg_app is not None:
        with pg_app.app_context():
            conn = db.session.connection()
            epsg = postgis.buildings_epsg(conn)
            pg, pgu = [], []
            for bid, _code, lon, lat in rows:
                t0 = time.perf_counter()
                postgis.match_one(conn, lon, lat, int(bid), epsg)
                pg.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                postgis.match_one(conn, lon + 1e-5, lat, None, epsg)
                pgu.append(time.perf_counter() - t0)
            db.session.rollback()
        out["pg_match_ms_p50"] = 1000 * statistics.median(pg)
        out["pg_match_unlinked_ms_p50"] = 1000 * statistics.median(pgu)
    return out


def bench_tiles(pg_app) -> dict:
    from server.extensions import db
    from server.models import Building, Round
    from server.services.coverage import source as coverage_source
    from server.services.coverage import tiles as coverage_tiles

    rid = db.session.scalar(sa.select(Round.id))
    lon, lat = db.session.execute(
        sa.select(Building.lon, Building.lat)
        .order_by(Building.id)
        .limit(1)
        .offset(db.session.scalar(sa.select(sa.func.count(Building.id))) // 2)
    ).one()
    coverage_tiles.clear()
    t0 = time.perf_counter()
    coverage_source.shared()
    coverage_source.states(rid)
    out = {"tile_source_build_s": time.perf_counter() - t0}
    for z in (12, 14, 16):
        x, y = lonlat_to_tile(lon, lat, z)
        cold, (data, _) = _t(coverage_tiles.tile, rid, z, x, y, None, None)
        warm, _ = _t(coverage_tiles.tile, rid, z, x, y, None, None, repeat=20)
        out[f"z{z}_cold_ms"] = 1000 * cold
        out[f"z{z}_cached_ms"] = 1000 * warm
        out[f"z{z}_bytes"] = len(data)
        if pg_app is not None:
            with pg_app.app_context():
                conn = db.session.connection()
                pg, pdata = _t(postgis.tile, conn, rid, z, x, y, repeat=3)
                db.session.rollback()
            out[f"z{z}_pg_ms"] = 1000 * pg
            out[f"z{z}_pg_bytes"] = len(pdata)
    return out


def run_size(n: int, pg_url: str | None, tmp: Path) -> dict:
    from server.extensions import db

    result: dict = {"buildings": n}
    app = make_app(f"sqlite:///{tmp / f'bench{n}.sqlite3'}", tmp / f"inst{n}")
    pg_app = None
    if pg_url:
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{n}_{uuid.uuid4().hex[:6]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        pg_app = make_app(url, tmp / f"pginst{n}")
    try:
        from gis.demo import generate_township

        t0 = time.perf_counter()
        town = generate_township(seed=2016, buildings=n)
        result["generate_s"] = time.perf_counter() - t0
        with app.app_context():
            result.update({f"sqlite_{k}": v for k, v in load_city(town).items()})
        if pg_app is not None:
            with pg_app.app_context():
                result.update({f"pg_{k}": v for k, v in load_city(town).items()})
        with app.app_context():
            pg_conn_ctx = pg_app.app_context() if pg_app else None
            if pg_conn_ctx:
                pg_conn_ctx.push()
                pg_conn = db.session.connection()
            else:
                pg_conn = None
            result.update(bench_import(n, town, tmp, pg_conn))
            if pg_conn_ctx:
                db.session.rollback()
                pg_conn_ctx.pop()
        with app.app_context():
            result.update(bench_recompute(pg_app))
            result.update(bench_tiles(pg_app))
            result.update(bench_incremental(pg_app))
    finally:
        if pg_app is not None:
            with pg_app.app_context():
                db.session.remove()
                db.engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--out", help="append a JSON line per size to this file")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if os.environ.get("DOORSTEP_BENCH_1M") and 1_000_000 not in sizes:
        sizes.append(1_000_000)
    pg_url = os.environ.get("DOORSTEP_TEST_POSTGRES_URL") or None
    import json

    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            res = run_size(n, pg_url, Path(d))
            line = json.dumps(res, default=float)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(line + "\n")


if __name__ == "__main__":
    main()
