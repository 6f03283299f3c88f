"""Generated visits for the buildings in the database (demo data, tests, benchmarks).

Rows are bulk-inserted (a submission row per visit, as ingest would leave it, and its Visit
already matched) so that a city of a million buildings and three million visits loads in
minutes; coverage is then recomputed in one pass.
"""

from __future__ import annotations

import hashlib

import numpy as np
import sqlalchemy as sa

from gis.coverage import OUTCOMES, match_visits
from gis.demo_visits import generate_visits
from server.extensions import db
from server.models import Form, FormVersion, Round, Submission, User
from server.models import Visit as VisitRow
from server.models._types import utcnow
from server.services import coverage

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
    now = utcnow()
    n = len(visits)
    times = np.asarray(visits.time, "datetime64[us]").tolist()
    lon, lat, acc = visits.lon.tolist(), visits.lat.tolist(), visits.accuracy_m.tolist()
    chosen = np.where(visits.has_building, visits.building_ids, -1).tolist()
    matched = [None if b is None else int(b) for b in m.building_ids.tolist()]
    dist = [None if d != d else d for d in m.distance_m.tolist()]
    flags = [
        [f for f, on in (("far", a), ("poor_accuracy", b), ("unmatched", c)) if on]
        for a, b, c in zip(
            m.far.tolist(), m.poor_accuracy.tolist(), m.unmatched.tolist(), strict=True
        )
    ]
    outcome = [OUTCOMES[k] for k in visits.outcome.tolist()]
    units = visits.units.tolist()
    uid = [user_id.get(c) if c else None for c in visits.coordinator.tolist()]
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        subs = [
            {
                "id": first + i,
                "instance_id": f"uuid:gen-{seed}-{round_id}-{first + i}",
                "form_version_id": fv_id,
                "submitter_id": uid[i],
                "received_at": now,
                "xml_sha256": "0" * 64,
                "xml_size": 0,
                "storage_key": "",
                "superseded": False,
                "review_state": "received",
                "processing_state": "done",
                "attachments_expected": 0,
                "attachments_present": 0,
                "lon": lon[i],
                "lat": lat[i],
                "gps_accuracy": acc[i],
            }
            for i in range(start, stop)
        ]
        rows = [
            {
                "submission_id": first + i,
                "round_id": round_id,
                "coordinator_id": uid[i],
                "chosen_building_id": chosen[i] if chosen[i] >= 0 else None,
                "building_id": matched[i],
                "lon": lon[i],
                "lat": lat[i],
                "gps_accuracy": acc[i],
                "distance_m": dist[i],
                "outcome": outcome[i],
                "units_recorded": units[i],
                "flags": flags[i],
                "visited_at": times[i] or now,
            }
            for i in range(start, stop)
        ]
        db.session.execute(sa.insert(Submission), subs)
        db.session.execute(sa.insert(VisitRow), rows)
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


def _coordinator_of_street() -> dict[str, str]:
    out: dict[str, str] = {}
    for user, streets in coverage.coordinator_streets().items():
        for s in streets:
            out.setdefault(s, user)
    return out
