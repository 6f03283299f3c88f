"""Shared fixtures: an app on a real SQLite file per test, clients logged in per role."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from server.extensions import db
from server.models import Area, Building, Role, User
from server.services import device_links, users
from tests.support.app import PASSWORD, POSTGRES_URL, make_app, upgrade


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(tmp_path)
    upgrade(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


#: SQLITE_MAX_VARIABLE_NUMBER as SQLite's authors build it (since 3.32); Debian's takes 250,000.
STOCK_SQLITE_PARAMETERS = 32_766


@pytest.fixture
def stock_sqlite(app: Flask) -> Iterator[None]:
    """The app's SQLite connections limited to the stock number of bound parameters, whatever
    this machine's library was built with (a statement past it is refused)."""
    def limit(dbapi_conn, _record) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, STOCK_SQLITE_PARAMETERS)

    db.session.remove()
    db.engine.dispose()
    sa.event.listen(db.engine, "connect", limit)
    yield
    sa.event.remove(db.engine, "connect", limit)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def area_tree(app: Flask) -> dict[str, Area]:
    """A township with one village and two streets."""
    town = Area(code="T", name_zh="测试乡", name_en="Test Township", level="township", path="T")
    db.session.add(town)
    db.session.flush()
    village = Area(code="T01", name_zh="一村", name_en="Village One", level="village",
                   parent_id=town.id, path="T/T01")
    db.session.add(village)
    db.session.flush()
    streets = {}
    for code in ("T01-01", "T01-02"):
        street = Area(code=code, name_zh=f"{code}组", name_en=f"Group {code}", level="street",
                      parent_id=village.id, path=f"T/T01/{code}")
        db.session.add(street)
        streets[code] = street
    db.session.commit()
    return {"T": town, "T01": village, **streets}


@pytest.fixture
def two_villages(area_tree: dict[str, Area]) -> dict[str, Area]:
    """area_tree and a second village T02 with one street T02-01 (reports per village)."""
    t02 = Area(code="T02", name_zh="二村", name_en="Village Two", level="village",
               parent_id=area_tree["T"].id, path="T/T02")
    db.session.add(t02)
    db.session.flush()
    street = Area(code="T02-01", name_zh="T02-01组", name_en="Group T02-01", level="street",
                  parent_id=t02.id, path="T/T02/T02-01")
    db.session.add(street)
    db.session.commit()
    return {**area_tree, "T02": t02, "T02-01": street}


@pytest.fixture
def make_user(app: Flask):
    def factory(role: Role | str, username: str | None = None, areas: list[str] = ()) -> User:
        serial = db.session.scalar(sa.select(sa.func.count(User.id)))
        username = username or f"{Role(role).value}-{serial}"
        user, _ = users.create_user(username, role, area_codes=list(areas), password=PASSWORD)
        if Role(role) is Role.COORDINATOR:
            # What the phone keeps: the plain token exists only here, the database has its hash.
            user.device_token = device_links.create(user, device_links.COLLECT)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def login(client: FlaskClient, make_user):
    """Log the test client in as a fresh user of the given role; returns the user."""

    def do_login(role: Role | str, areas: list[str] = ()) -> User:
        user = make_user(role, areas=areas)
        response = client.post("/login", data={"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, response.data
        return user

    return do_login


@pytest.fixture
def make_building(app: Flask):
    import shapely

    def factory(code: str, street: Area, lon: float = 102.6, lat: float = 24.6,
                size_deg: float = 0.0001, expected_units: int | None = 2) -> Building:
        building = Building(code=code, street_id=street.id, expected_units=expected_units,
                            address=f"{code} 号")
        building.set_shape(shapely.box(lon, lat, lon + size_deg, lat + size_deg))
        db.session.add(building)
        db.session.commit()
        return building

    return factory


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("set DOORSTEP_TEST_POSTGRES_URL to run PostgreSQL tests")
    import uuid

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"doorstep_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def postgres_app(tmp_path, postgres_url) -> Iterator[Flask]:
    """The app on a fresh, migrated PostgreSQL database, inside an app context."""
    app = make_app(tmp_path, SQLALCHEMY_DATABASE_URI=postgres_url)
    upgrade(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
