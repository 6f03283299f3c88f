"""Register exports: persons, households, buildings and rented units as CSV and XLSX, in the
reader's areas, masked as for that role, every export audited."""

from __future__ import annotations

import csv
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from server.extensions import db
from server.models import AuditEvent, Role
from tests.support.app import PASSWORD
from tests.support.data_out import PEOPLE


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _login(client, make_user, role: Role, areas: list[str]) -> None:
    user = make_user(role, areas=areas)
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 302


def test_a_supervisor_exports_the_persons_of_their_village(client, township, make_user):
    _login(client, make_user, Role.SUPERVISOR, ["T01"])
    page = client.get("/register/").data.decode()
    assert "/register/export.xlsx?list=rentals" in page and "出租房屋" in page
    response = client.get("/register/export.csv?list=persons")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="persons.csv"'
    rows = _rows(response.data)
    assert [r["__id"] for r in rows] == ["P1", "P2", "P3"]  # not P4, in village two
    assert {r["__id"]: r["id_number"] for r in rows} == {
        pid: number for pid, _n, number, _p in PEOPLE[:3]}
    assert rows[0]["full_name"] == "张伟" and rows[0]["__street"] == "T01-01"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "register.export"))
    assert (event.object_id, event.detail) == ("persons", {"format": "csv", "count": 3,
                                                           "unmasked": True})


def test_an_admin_exports_masked_rows_of_every_area(client, township, make_user):
    _login(client, make_user, Role.ADMIN, [])
    persons = _rows(client.get("/register/export.csv?list=persons").data)
    assert [r["__id"] for r in persons] == ["P1", "P2", "P3", "P4"]
    for row, (_pid, _name, number, phone) in zip(persons, PEOPLE, strict=True):
        assert row["id_number"] == number[:3] + "*" * 13 + number[-2:]
        assert row["phone"] == phone[:3] + "******" + phone[-2:]
    book = load_workbook(io.BytesIO(client.get("/register/export.xlsx?list=households").data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    values = [dict(zip(header, r, strict=True)) for r in sheet.iter_rows(min_row=2,
                                                                         values_only=True)]
    assert [v["__id"] for v in values] == ["H1", "H2", "H3"]
    assert {v["landlord_phone"] for v in values} == {"138******00"}
    rentals = _rows(client.get("/register/export.csv?list=rentals").data)
    assert [r["__id"] for r in rentals] == ["H1", "H3"]  # H2 is owned, not rented
    assert {r["tenure"] for r in rentals} == {"rented"}
    # the rental register's rows: the landlord's phone masked for an admin, tenants counted
    assert [(r["landlord_phone"], r["tenants"], r["violations"]) for r in rentals] == [
        ("138******00", "2", ""), ("138******00", "1", "")]
    events = db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "register.export").order_by(AuditEvent.id)).all()
    assert [(e.object_id, e.detail["format"], e.detail["count"], e.detail["unmasked"])
            for e in events] == [("persons", "csv", 4, False), ("households", "xlsx", 3, False),
                                 ("rentals", "csv", 2, False)]


def test_the_api_exports_too_and_refuses_what_does_not_exist(client, township, make_user):
    _login(client, make_user, Role.COORDINATOR, ["T02-01"])
    rows = _rows(client.get("/api/v1/register/persons/export.csv").data)
    assert [r["__id"] for r in rows] == ["P4"]
    assert rows[0]["id_number"] == PEOPLE[3][2]  # coordinators see the people they register
    missing = client.get("/api/v1/register/pets/export.csv?lang=en")
    assert missing.status_code == 404 and "pets" in missing.get_json()["message"]
    assert client.get("/api/v1/register/persons/export.pdf").status_code == 404
    assert client.get("/register/export.csv?list=persons").status_code == 403  # pages: staff


def test_an_exported_cell_is_never_a_formula(client, township, make_user):
    from server.models import Entity

    person = db.session.scalar(sa.select(Entity).where(Entity.uuid == "P1"))
    person.properties = {**person.properties, "full_name": "=HYPERLINK(\"http://x\")"}
    db.session.commit()
    _login(client, make_user, Role.SUPERVISOR, ["T"])
    rows = _rows(client.get("/register/export.csv?list=persons").data)
    assert rows[0]["full_name"] == "'=HYPERLINK(\"http://x\")"
    sheet = load_workbook(io.BytesIO(client.get("/register/export.xlsx?list=persons").data)
                          ).active
    cell = next(c for row in sheet.iter_rows(min_row=2) for c in row
                if c.value and "HYPERLINK" in str(c.value))
    assert cell.data_type == "s"
