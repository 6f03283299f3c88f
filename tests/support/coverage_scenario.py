"""Coverage with known truth: township-form submissions through ingest and the processing
step, and a scenario of 18 buildings whose coverage states are known by construction."""

from __future__ import annotations

import hashlib
import math
import uuid
from datetime import date

import sqlalchemy as sa

from server.extensions import db
from server.models import Form, FormVersion, Round, Submission

M_PER_DEG = 111_320.0


def install_forms(xforms: dict[str, tuple[str, str]]) -> dict[str, FormVersion]:
    """Store XForms (name -> (xform, version)) as published form versions, once each (models
    only, no forms service); name -> FormVersion."""
    versions = {}
    for name, (xform, version) in xforms.items():
        form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == name))
        if form is None:
            form = Form(xml_form_id=name, title=name, state="published")
            db.session.add(form)
            db.session.flush()
        fv = db.session.scalar(
            sa.select(FormVersion).where(
                FormVersion.form_id == form.id, FormVersion.version == version
            )
        )
        if fv is None:
            fv = FormVersion(
                form_id=form.id,
                version=version,
                xform=xform,
                state="published",
                md5=hashlib.md5(xform.encode()).hexdigest(),
            )
            db.session.add(fv)
            db.session.flush()
        versions[name] = fv
    db.session.commit()
    return versions


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point `east_m`/`north_m` metres from (lon, lat)."""
    return (lon + east_m / (M_PER_DEG * math.cos(math.radians(lat))), lat + north_m / M_PER_DEG)


def instance_xml(
    form: str,
    version: str,
    instance_id: str,
    *,
    building: str | None = None,
    outcome: str = "done",
    location: tuple[float, float, float] | None = None,
    deprecated_id: str | None = None,
    start: str = "2016-10-05T09:00:00+08:00",
) -> bytes:
    """A township-form instance as a phone sends it (only the fields the server reads)."""
    loc = f"{location[1]} {location[0]} 1900 {location[2]}" if location else ""
    entity = ""
    extra = ""
    if form == "household":
        hid = str(uuid.uuid4())
        entity = (
            f'<entity dataset="households" id="{hid}" create="1" update="0">'
            f"<label>x</label></entity>"
        )
        extra = "<household_mode>new</household_mode><unit_label>101</unit_label>"
    elif form == "building_listing":
        extra = f"<building_mode>{'existing' if building else 'new'}</building_mode>"
    dep = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (
        f'<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" '
        f'id="{form}" version="{version}"><start>{start}</start><street>T01-01</street>'
        f"<building>{building or ''}</building>{extra}<outcome>{outcome}</outcome>"
        f"<visit_location>{loc}</visit_location>"
        f"<meta><instanceID>{instance_id}</instanceID>{dep}{entity}</meta></data>"
    ).encode()


def submit_instance(
    versions: dict[str, FormVersion], form: str, submitter_id: int | None = None, **kwargs
) -> Submission:
    """As a POST would: ingest (durable store), then the processing worker's step."""
    from server.models import User
    from server.services.ingest import accept as submissions
    from server.services.processing import pipeline as processing

    instance_id = kwargs.pop("instance_id", None) or f"uuid:{uuid.uuid4()}"
    fv = versions[form]
    xml = instance_xml(form, fv.version, instance_id, **kwargs)
    user = db.session.get(User, submitter_id) if submitter_id else None
    result = submissions.ingest(user, xml, [])
    assert result.status == 201, result.message
    sub_id = result.submission.id
    state = processing.process_one(sub_id)
    sub = db.session.get(Submission, sub_id)
    assert state == "done", sub.processing_error
    return sub


# --- the scenario with known truth ------------------------------------------------------------

LON0, LAT0 = 102.6, 24.6
SIZE = 0.0001  # ~10 m x 11 m footprints, 100 m apart


def ensure_areas() -> dict[str, int]:
    from server.models import Area

    ids = {}
    parent = None
    for code, level, path in (
        ("T", "township", "T"),
        ("T01", "village", "T/T01"),
        ("T01-01", "street", "T/T01/T01-01"),
        ("T01-02", "street", "T/T01/T01-02"),
    ):
        area = db.session.scalar(sa.select(Area).where(Area.code == code))
        if area is None:
            area = Area(
                code=code,
                name_zh=f"{code}区",
                name_en=code,
                level=level,
                path=path,
                parent_id=ids.get(parent) if level != "street" else ids["T01"],
            )
            db.session.add(area)
            db.session.flush()
        ids[code] = area.id
        parent = code
    return ids


def build_scenario(
    versions: dict[str, FormVersion], coordinator_id: int | None = None
) -> dict[str, str]:
    """Buildings and real submissions whose coverage is known by construction: code -> state."""
    import numpy as np
    import shapely

    from server.models import Building

    areas = ensure_areas()
    rng = np.random.default_rng(7)
    expected_units = {
        "B01": 2,
        "B02": 2,
        "B03": 2,
        "B04": 2,
        "B05": 2,
        "B06": 1,
        "B07": 3,
        "B08": 2,
        "B09": 0,
        "B10": 2,
        "B11": 2,
        "B12": 2,
        "B13": 2,
        "B14": 2,
        "B15": 1,
        "B16": 2,
        "B17": 2,
        "B18": None,
    }
    centre = {}
    for i, (code, units) in enumerate(expected_units.items()):
        lon = LON0 + i * 0.001
        street = areas["T01-01"] if i < 9 else areas["T01-02"]
        b = Building(code=code, street_id=street, expected_units=units, address=f"{code} 号")
        b.set_shape(shapely.box(lon, LAT0, lon + SIZE, LAT0 + SIZE))
        db.session.add(b)
        centre[code] = (lon + SIZE / 2, LAT0 + SIZE / 2)
    db.session.commit()

    def near(code: str, acc: float = 5.0, east: float = 0.0, north: float = 0.0):
        dx, dy = rng.normal(0, 2.0, 2)  # GPS noise, well inside a 10 m footprint's reach
        lon, lat = offset(*centre[code], east + dx, north + dy)
        return (lon, lat, acc)

    def sub(form: str, **kw) -> Submission:
        return submit_instance(versions, form, submitter_id=coordinator_id, **kw)

    sub("household", building="B01", location=near("B01"))
    sub("household", building="B01", location=near("B01"))
    sub("household", building="B02", location=near("B02"))
    sub("household", building="B03", outcome="nobody_home", location=near("B03"))
    sub("household", building="B03", location=near("B03", acc=80.0))  # poor: stays revisit
    sub("household", building="B04", location=near("B04", north=150.0))  # far
    sub("household", building="B05", location=near("B05", acc=40.0))  # poor accuracy
    sub("household", building=None, location=near("B06", east=9.0))  # 4 m east of B06's edge
    sub("building_listing", building="B07", outcome="vacant", location=near("B07"))
    sub("household", building=None, location=near("B08", north=65.0))  # nothing within 30 m
    sub("building_listing", building="B09", location=near("B09"))  # expects 0 units
    sub("building_listing", building="B10", location=near("B10"))  # listed, no households
    first = sub("household", building="B11", location=near("B11"))
    sub("household", building="B12", location=near("B12"), deprecated_id=first.instance_id)
    sub("household", building="B13", location=None)  # no geotag: poor
    sub("household", building=None, location=near("B15", east=-25.0))  # 20 m west of B15
    rejected = sub("household", building="B16", location=near("B16"))
    sub("household", building="B17", location=near("B17"), start="2017-03-01T10:00:00+08:00")
    sub("household", building="B18", location=near("B18"))
    from server.services.coverage import refresh as coverage_refresh

    rejected.review_state = "rejected"
    coverage_refresh.refresh_building(
        db.session.scalar(sa.select(Building.id).where(Building.code == "B16")), _round_id()
    )
    db.session.commit()
    return {
        "B01": "complete",
        "B02": "visited",
        "B03": "revisit",
        "B04": "suspect",
        "B05": "suspect",
        "B06": "complete",
        "B07": "complete",
        "B08": "unvisited",
        "B09": "complete",
        "B10": "visited",
        "B11": "unvisited",
        "B12": "visited",
        "B13": "suspect",
        "B14": "unvisited",
        "B15": "complete",
        "B16": "unvisited",
        "B17": "unvisited",
        "B18": "complete",
    }


def _round_id() -> int:
    return db.session.scalar(sa.select(Round.id).order_by(Round.id))


def ensure_round() -> Round:
    rnd = db.session.scalar(sa.select(Round))
    if rnd is None:
        rnd = Round(name="2016 push", starts_on=date(2016, 10, 1), ends_on=date(2016, 11, 30))
        db.session.add(rnd)
        db.session.commit()
    return rnd


def states_by_code(states: dict[int, str]) -> dict[str, str]:
    from server.models import Building

    codes = dict(db.session.execute(sa.select(Building.id, Building.code)).all())
    return {codes[b]: states.get(b, "unvisited") for b in codes}
