"""The hash and size of every tile a set of requests gives, per role: run it under two checkouts
on the same kept city and compare the files to show a change left the tiles' bytes alone.

    .venv/bin/python tests/bench/tile_bytes.py --keep DIR --size 1000000 --out FILE [--points 20]
    TILE_BYTES_ROOT=/path/to/other/checkout .venv/bin/python tests/bench/tile_bytes.py … (its code)
    python -c "import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); \
        print(len(a), sum(a[k] != b.get(k) for k in a))" OLD NEW

DIR is a folder `bench_scoped_tiles.py --keep DIR` built. For each role of that bench (admin,
township supervisor, village supervisor, a coordinator's streets) it takes `--points` random
buildings of the scope, the tiles holding them at zooms 11–18 plus a neighbour of a third of them
(tile edges), each unfiltered and filtered to `state=unvisited` and `state=visited`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import sqlalchemy as sa

ROOT = Path(os.environ.get("TILE_BYTES_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import bench_scoped_tiles as scoped  # noqa: E402
from bench_coverage import make_app  # noqa: E402

from gis.tiles import lonlat_to_tile  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", required=True)
    ap.add_argument("--size", type=int, default=200000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--points", type=int, default=20)
    args = ap.parse_args()
    keep = Path(args.keep)
    app = make_app(f"sqlite:///{keep / f'tiles{args.size}.sqlite3'}", keep / f"inst{args.size}")
    app.config["PROCESS_IN_BACKGROUND"] = False
    from server.extensions import db
    from server.models import Round

    out: dict[str, str] = {}
    with app.app_context():
        rid = db.session.scalar(sa.select(Round.id))
        rng = np.random.default_rng(99)
        for role, (username, query) in scoped._users().items():
            client = app.test_client()
            client.post("/login", data={"username": username, "password": scoped.PASSWORD})
            points = scoped._scope_points(username, query, args.points, rng)
            tiles = list(dict.fromkeys((z, *lonlat_to_tile(lon, lat, z))
                                       for z in range(11, 19) for lon, lat in points))
            tiles += [(z, x + 1, y) for z, x, y in tiles[::3]]
            tiles += [(z, x, y + 1) for z, x, y in tiles[1::3]]
            for z, x, y in tiles:
                for extra in ("", "state=unvisited", "state=visited"):
                    url = f"/tiles/coverage/{rid}/{z}/{x}/{y}.mvt{query}"
                    if extra:
                        url += ("&" if query else "?") + extra
                    resp = client.get(url)
                    assert resp.status_code == 200, (url, resp.status_code)
                    digest = hashlib.sha256(resp.data).hexdigest()[:16]
                    out[f"{role}|{url}"] = f"{digest}:{len(resp.data)}"
    Path(args.out).write_text(json.dumps(out, indent=0, sort_keys=True))
    print(len(out), "tiles,", sum(v.endswith(":0") for v in out.values()), "empty")


if __name__ == "__main__":
    main()
