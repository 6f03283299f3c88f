"""The registry's queries (ID number lookup in JSONB, area filters) on PostgreSQL."""

from __future__ import annotations

import uuid as uuidlib

import pytest
import sqlalchemy as sa

from tests.support.app import PASSWORD, make_app, upgrade
from tests.support.http import multipart
from tests.support.township import ZHANG, household, person, township_file
from tests.support.xforms import build_instance

pytestmark = pytest.mark.postgres


def test_register_on_postgresql(tmp_path, postgres_url):
    import shapely

    from server.extensions import db
    from server.models import Area, Building, Role
    from server.services import device_links, users
    from server.services.forms import entity_lists
    from server.services.forms import lifecycle as service
    from server.services.processing.pipeline import process_pending
    from server.services.register import entities

    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    upgrade(app)
    with app.app_context():
        try:
            town = Area(code="T", name_zh="乡", level="township", path="T")
            db.session.add(town)
            db.session.flush()
            for code in ("T-1", "T-2"):
                street = Area(code=code, name_zh=code, level="street", parent_id=town.id,
                              path=f"T/{code}")
                db.session.add(street)
                db.session.flush()
                b = Building(code=f"B{code}", street_id=street.id, address=code)
                b.set_shape(shapely.box(102.6, 24.6, 102.6001, 24.6001))
                db.session.add(b)
            coordinator, _ = users.create_user("c", Role.COORDINATOR, area_codes=["T-1"],
                                               password=PASSWORD)
            users.create_user("d", Role.DESIGNER, password=PASSWORD)
            token = device_links.create(coordinator, device_links.COLLECT)
            db.session.commit()
            client = app.test_client()
            client.post("/login", data={"username": "d", "password": PASSWORD})
            f = township_file("household")
            r = client.post("/api/v1/forms?publish=1",
                            **multipart([("file", f.name, f.read_bytes())]))
            assert r.status_code == 201, r.json
            xform = service.find_version("household", None).xform
            h1, h2, p1 = (str(uuidlib.uuid4()) for _ in range(3))
            base = f"/o/{token}/submission"
            for xml in (
                build_instance(xform, household(h1, "BT-1", "T-1", [person(p1, ZHANG, h1)])),
                build_instance(xform, household(h2, "BT-2", "T-2", [
                    person(str(uuidlib.uuid4()), ZHANG, h2, arrival="2016-10-01")])),
            ):
                r = client.post(base, headers={"X-OpenRosa-Version": "1.0"},
                                **multipart([("xml_submission_file", "s.xml", xml)]))
                assert r.status_code == 201
            process_pending()
            db.session.expire_all()
            p = entities.get_entity(p1)
            assert p.properties["household"] == h2 and p.properties["moved_from"] == h1
            assert entity_lists.list_csv("persons.csv", coordinator).count("\n") == 1  # moved away
            assert "BT-1" in entity_lists.list_csv("buildings.csv", coordinator)

            # Now on T-2, the person is not T-1's to take: held until T-2's supervisor decides.
            from server.models import RegisterConflict
            from server.services.register import review

            h3 = str(uuidlib.uuid4())
            xml = build_instance(xform, household(h3, "BT-1", "T-1", [
                person(str(uuidlib.uuid4()), ZHANG, h3, arrival="2016-11-01")]))
            r = client.post(base, headers={"X-OpenRosa-Version": "1.0"},
                            **multipart([("xml_submission_file", "s.xml", xml)]))
            assert r.status_code == 201
            process_pending()
            db.session.expire_all()
            assert entities.get_entity(p1).properties["household"] == h2
            held = db.session.scalar(sa.select(RegisterConflict))
            supervisor, _ = users.create_user("s", Role.SUPERVISOR, area_codes=["T-2"],
                                              password=PASSWORD)
            db.session.commit()
            review.decide(supervisor, held.id, accept=True)
            assert entities.get_entity(p1).properties["household"] == h3
        finally:
            db.session.remove()
            db.engine.dispose()
