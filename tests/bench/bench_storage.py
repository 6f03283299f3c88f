"""Bytes per stored submission, table by table, on SQLite and PostgreSQL (docs/CAPACITY.md).

    .venv/bin/python tests/bench/bench_storage.py [--households 2000] [--photos 50]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

In-process, over a fresh instance folder (and with --database-url a fresh database on that
server, dropped afterwards): the demo township (2,000 buildings, its two rounds' generated
visits and households), then the size of every table with its indexes (and TOAST on
PostgreSQL) is taken; then --households submissions of the shipped household form, filled in as
the demo fills it (two residents each, a new household at the next building of a coordinator's
streets), go through ingest and processing (batches, as the worker runs them) and half are
approved, as the demo does; the sizes are taken again. The difference, divided by the
submissions and by each table's new rows, is the growth per household submission. Then
--photos submissions of a small form with a photo (a 1024-px JPEG, as Collect's max-pixels=1024
leaves it) show where attachments go. Process CPU and the load average are printed beside.

The WAL figure (`pg_current_wal_lsn` before and after) and PostgreSQL's CPU (its processes' in
/proc, when it runs on this machine) are the cluster's: run it against a cluster of its own for
this run's alone (on a shared one, other databases' work and their CREATE/DROP DATABASE
checkpoints count too).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SQLITE_SIZES = """
SELECT coalesce(m.tbl_name, s.name), sum(CASE WHEN m.type = 'index' THEN 0 ELSE s.pgsize END),
       sum(CASE WHEN m.type = 'index' THEN s.pgsize ELSE 0 END), 0
FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1
"""
POSTGRES_SIZES = """
SELECT c.relname, pg_relation_size(c.oid), pg_indexes_size(c.oid),
       pg_total_relation_size(c.oid) - pg_relation_size(c.oid) - pg_indexes_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
"""


def sizes() -> dict[str, tuple[int, int, int, int]]:
    """table -> (rows, table bytes, index bytes, TOAST + free-space/visibility maps bytes)."""
    from server.extensions import db

    postgres = db.engine.dialect.name == "postgresql"
    with db.engine.connect() as conn:
        if postgres:
            conn.commit()
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        rows = conn.exec_driver_sql(POSTGRES_SIZES if postgres else SQLITE_SIZES).all()
        out = {}
        for name, table, index, rest in rows:
            if name.startswith("sqlite_") or name == "alembic_version":
                continue
            count = conn.exec_driver_sql(f'SELECT count(*) FROM "{name}"').scalar()
            out[name] = (count, int(table), int(index), int(rest))
    return out


def wal_lsn() -> int | None:
    from server.extensions import db

    if db.engine.dialect.name != "postgresql":
        return None
    with db.engine.connect() as conn:
        return int(conn.exec_driver_sql(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')").scalar())


def cluster_cpu() -> float | None:
    """CPU seconds used so far by the PostgreSQL cluster's processes (the postmaster's children:
    backends, WAL writer, checkpointer, autovacuum), when it runs on this machine; the whole
    cluster's, so only meaningful on a cluster of its own."""
    from server.extensions import db

    if db.engine.dialect.name != "postgresql":
        return None
    with db.engine.connect() as conn:
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    try:
        parent = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1]
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == parent:
                total += int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError):
        return None
    return total / os.sysconf("SC_CLK_TCK")


def jpeg(pixels: int = 1024) -> bytes:
    """A photo-like JPEG (smooth gradients and noise, quality 85) of pixels × 3/4 pixels."""
    from PIL import Image, ImageFilter

    rng = random.Random(2016)
    small = Image.new("RGB", (64, 48))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                   for _ in range(64 * 48)])
    image = small.resize((pixels, pixels * 3 // 4), Image.BICUBIC)
    noise = Image.effect_noise((pixels, pixels * 3 // 4), 40).convert("RGB")
    image = Image.blend(image, noise, 0.25).filter(ImageFilter.DETAIL)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def send_households(n: int) -> tuple[int, float, float]:
    """n household submissions through ingest, then processing; (XML bytes, ingest CPU s,
    processing CPU s)."""
    from server import localtime
    from server.extensions import db
    from server.models import Area, Assignment, Building, Form, FormVersion, Role, User
    from server.services.demo_households import _instance
    from server.services.ingest import accept
    from server.services.processing import pipeline
    from server.services.submissions import exports as submissions

    version = db.session.scalar(sa.select(FormVersion).join(Form).where(
        Form.xml_form_id == "household", FormVersion.state == "published"))
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN.value).limit(1))
    coordinator_of = dict(db.session.execute(
        sa.select(Assignment.area_id, User.id).join(User, User.id == Assignment.user_id)
        .where(User.role == Role.COORDINATOR.value)).all())
    buildings = db.session.execute(
        sa.select(Building.code, Building.lon, Building.lat, Area.code, Area.id)
        .join(Area, Area.id == Building.street_id).order_by(Building.id)).all()
    buildings = [b for b in buildings if b[4] in coordinator_of]
    users = {u.id: u for u in db.session.scalars(sa.select(User))}
    today = localtime.today()
    xml_bytes, ids = 0, []
    cpu = time.process_time()
    for k in range(n):
        code, lon, lat, street, street_id = buildings[k % len(buildings)]
        xml = _instance(version.xform, code, street, lon, lat,
                        today - timedelta(days=k % 3), 100_000 + k)
        xml_bytes += len(xml)
        ids.append(accept.ingest(users[coordinator_of[street_id]], xml, []).submission_id)
    ingest_cpu = time.process_time() - cpu
    cpu = time.process_time()
    pipeline.process_pending()
    for k, sid in enumerate(ids):
        if k % 2 == 0:
            submissions.set_review_state(admin, db.session.get(submissions.Submission, sid),
                                         "approved")
    db.session.commit()
    return xml_bytes, ingest_cpu, time.process_time() - cpu


def send_photos(n: int, photo: bytes) -> None:
    from server.extensions import db
    from server.models import Role, User
    from server.services.ingest import accept
    from tests.support.household_form import add_household_form, household_instance

    add_household_form(form_id="hh_photo")
    admin = db.session.scalar(sa.select(User).where(User.role == Role.ADMIN.value).limit(1))
    for k in range(n):
        data = photo[:-2] + k.to_bytes(4, "big") + photo[-2:]  # each photo its own bytes
        accept.ingest(admin, household_instance(f"uuid:{uuid.uuid4()}", form_id="hh_photo"),
                      [accept.Upload("door.jpg", "image/jpeg", data)])


def folder_bytes(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def report(before: dict, after: dict, n: int, label: str) -> None:
    print(f"\n{label}: growth per submission, by table (bytes; rows added per submission)")
    print("| table | rows / submission | table | indexes | TOAST, maps | total | "
          "bytes / row (total) |")
    print("|---|---|---|---|---|---|---|")
    totals = [0, 0, 0]
    for name in sorted(after):
        rows, table, index, rest = (a - b for a, b in zip(
            after[name], before.get(name, (0, 0, 0, 0)), strict=True))
        if not (rows or table or index or rest):
            continue
        totals = [totals[0] + table, totals[1] + index, totals[2] + rest]
        per_row = f"{(table + index + rest) / rows:,.0f}" if rows > 0 else "—"
        print(f"| {name} | {rows / n:.2f} | {table / n:,.0f} | {index / n:,.0f} | "
              f"{rest / n:,.0f} | {(table + index + rest) / n:,.0f} | {per_row} |")
    print(f"| **all tables** | | {totals[0] / n:,.0f} | {totals[1] / n:,.0f} | "
          f"{totals[2] / n:,.0f} | **{sum(totals) / n:,.0f}** | |")


def baseline(base: dict) -> None:
    """Bytes per row of the demo township's tables (buildings with footprints, visits...)."""
    print("| table (demo township) | rows | bytes / row: table | indexes | TOAST, maps | total |")
    print("|---|---|---|---|---|---|")
    for name, (rows, table, index, rest) in sorted(base.items()):
        if rows >= 100:
            print(f"| {name} | {rows:,} | {table / rows:,.0f} | {index / rows:,.0f} | "
                  f"{rest / rows:,.0f} | {(table + index + rest) / rows:,.0f} |")


def run(url: str, households: int, photos: int, buildings: int) -> None:
    from server.extensions import db
    from server.services import demo
    from tests.support.app import make_app, upgrade

    folder = Path(tempfile.mkdtemp())
    config = {"SQLALCHEMY_DATABASE_URI": url} if url else {}
    app = make_app(folder, **config)
    upgrade(app)
    with app.app_context():
        demo.load_demo(buildings=buildings)
        base = sizes()
        print(f"{db.engine.dialect.name}: demo township, {buildings} buildings; database "
              f"{sum(sum(v[1:]) for v in base.values()) / 2**20:.1f} MiB before; rows "
              f"{ {k: v[0] for k, v in base.items() if v[0]} }", flush=True)
        baseline(base)
        lsn, pg_cpu = wal_lsn(), cluster_cpu()
        xml_bytes, ingest_cpu, process_cpu = send_households(households)
        wal = None if lsn is None else wal_lsn() - lsn
        pg_cpu = None if pg_cpu is None else cluster_cpu() - pg_cpu
        after = sizes()
        print(f"{households} household submissions: raw XML {xml_bytes / households:,.0f} B "
              f"each; process CPU ingest {ingest_cpu / households * 1000:.2f} ms, processing + "
              f"review {process_cpu / households * 1000:.2f} ms per submission (in-process, no "
              f"HTTP); load average {os.getloadavg()[0]:.1f}", flush=True)
        if pg_cpu is not None:  # likewise the cluster's
            print(f"PostgreSQL cluster CPU: {pg_cpu / households * 1000:.2f} ms per submission "
                  f"(ingest + processing + review)")
        if wal is not None:  # the cluster's: every database on it counts
            print(f"WAL written by the cluster: {wal / households:,.0f} B per submission "
                  f"({wal / 2**20:.1f} MiB for {households}; this run's alone only on a "
                  f"cluster of its own)")
        report(base, after, households, f"{db.engine.dialect.name}, household submissions")
        storage = Path(app.config["STORAGE_DIR"])
        files_before = folder_bytes(storage)
        photo = jpeg()
        send_photos(photos, photo)
        photo_after = sizes()
        files_after = folder_bytes(storage)
        print(f"\n{photos} submissions with one {len(photo) / 1024:.0f} KiB JPEG each: "
              f"{files_after[0] - files_before[0]} files, "
              f"{(files_after[1] - files_before[1]) / photos / 1024:.0f} KiB each under "
              f"STORAGE_DIR (instance folder), not in the database")
        report(after, photo_after, photos, f"{db.engine.dialect.name}, photo submissions")
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--households", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=50)
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (fresh database)")
    args = parser.parse_args()
    admin = url = None
    if args.database_url:
        admin = sa.create_engine(args.database_url, isolation_level="AUTOCOMMIT")
        name = f"doorstep_bench_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(args.database_url).set(database=name).render_as_string(False)
    try:
        run(url or "", args.households, args.photos, args.buildings)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
