"""The OData feed on the demo township: how long a page, a filtered read and a full read take.

    .venv/bin/python tests/bench/bench_odata.py [--buildings 2000] [--persons 5000]

In-process (Flask test client, a Bearer token), SQLite in a temp folder. The demo township
(buildings, its two rounds' generated visits, each a submission with its raw XML) plus
`--persons` persons spread over the streets. Medians of 5 runs; figures in RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildings", type=int, default=2000)
    parser.add_argument("--persons", type=int, default=5000)
    args = parser.parse_args()

    import sqlalchemy as sa

    from server.extensions import db
    from server.models import Area, Entity, Submission, User
    from server.services import api_tokens, demo
    from tests.support.app import make_app, upgrade

    folder = Path(tempfile.mkdtemp())
    app = make_app(folder)
    upgrade(app)
    with app.app_context():
        demo.load_demo(buildings=args.buildings)
        streets = db.session.scalars(sa.select(Area.id).where(Area.level == "street")).all()
        rng = random.Random(2016)
        db.session.add_all(Entity(
            dataset="persons", uuid=f"p{i}", label=f"人员{i}", area_id=rng.choice(streets),
            properties={"full_name": f"人员{i}", "id_number": f"53012219900101{i:04d}",
                        "phone": f"139{i:08d}", "household": f"h{i // 3}",
                        "status": "resident" if i % 10 else "departed"})
            for i in range(args.persons))
        db.session.commit()
        admin = db.session.scalar(sa.select(User).where(User.username == "admin"))
        token = api_tokens.create(admin, "bench")
        subs = db.session.scalar(sa.select(sa.func.count(Submission.id)))
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}

        def timed(path: str) -> tuple[float, int]:
            runs, rows = [], 0
            for _ in range(5):
                t0 = time.perf_counter()
                response = client.get(path, headers=headers)
                runs.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.data[:300]
                rows = len(response.get_json()["value"]) if "value" in (
                    response.get_json(silent=True) or {}) else 0
            return statistics.median(runs) * 1000, rows

        print(f"persons={args.persons} submissions={subs} buildings={args.buildings}")
        for label, path in [
            ("$metadata", "/odata/$metadata"),
            ("Persons, first page (1000)", "/odata/Persons?$count=true"),
            ("Persons, page at $skip=4000", "/odata/Persons?$skip=4000&$top=1000"),
            ("Persons, $filter over all", "/odata/Persons?$filter=status eq 'departed'"
                                          "&$count=true"),
            ("Submissions, first page (1000)", "/odata/Submissions_demo_visit?$count=true"),
            ("Submissions, $filter over all", "/odata/Submissions_demo_visit?"
                                              "$filter=outcome eq 'done'&$top=100"),
        ]:
            ms, rows = timed(path)
            print(f"| {label} | {rows} | {ms:.0f} ms |")


if __name__ == "__main__":
    main()
