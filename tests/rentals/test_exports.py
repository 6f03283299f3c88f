"""The rental register out: the workbook for people (masked per role, audited, no formulas),
and the register export's "rentals" list and the feed's RentedUnits read from the register."""

from __future__ import annotations

import io

import sqlalchemy as sa
from openpyxl import load_workbook

from server.extensions import db
from server.models import AuditEvent, Role
from server.services import api_tokens
from tests.support.app import PASSWORD
from tests.support.rentals import LI_ID, LI_PHONE, WANG_PHONE, household


def _login(client, make_user, role: Role, areas: list[str] = ()):
    user = make_user(role, areas=list(areas))
    answer = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert answer.status_code == 302
    return user


def _sheets(data: bytes) -> dict[str, list[dict]]:
    book = load_workbook(io.BytesIO(data))
    out = {}
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        out[sheet.title] = [dict(zip(header, r, strict=True))
                            for r in sheet.iter_rows(min_row=2, values_only=True)]
    return out


def test_a_supervisor_exports_their_village_unmasked_and_it_is_audited(scenario, client,
                                                                       make_user):
    _login(client, make_user, Role.SUPERVISOR, ["T01"])
    answer = client.get("/rentals/export.xlsx?village=T01&lang=zh_CN")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="rentals-T01.xlsx"'
    sheets = _sheets(answer.data)
    assert list(sheets) == ["出租房屋", "违规情况", "房东"]
    units = {r["出租房屋"]: r for r in sheets["出租房屋"]}
    assert sorted(units) == ["B1 号 U1", "B1 号 U2", "B2 号 U3"]
    assert (units["B1 号 U2"]["房东身份证号"], units["B1 号 U2"]["房东电话"]) == (LI_ID, LI_PHONE)
    assert units["B1 号 U2"]["人均面积（平方米）"] == 7.5  # a number, not text
    assert units["B2 号 U3"]["违规情况"] == "厨房出租居住"
    assert [r["违规情况"] for r in sheets["违规情况"]] == [
        "人均承租面积低于标准（人均 7.5 平方米，标准 10.0 平方米）",
        "地下室、储藏室出租居住", "安全检查不合格（1 项不合格）", "租赁合同未备案", "厨房出租居住"]
    assert sorted((r["房东"], r["违规情况"]) for r in sheets["房东"]) == [("李房东", 4),
                                                                       ("王房东", 1)]
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "rentals.export"))
    assert (event.object_id, event.detail) == ("T01", {
        "format": "xlsx", "units": 3, "violations": 5, "landlords": 2, "unmasked": True})


def test_an_admin_exports_every_village_masked(scenario, client, make_user):
    _login(client, make_user, Role.ADMIN)
    sheets = _sheets(client.get("/rentals/export.xlsx?lang=en").data)
    units = sheets["Rented units"]
    assert len(units) == 4
    numbers = {r["Landlord ID number"] for r in units} | {r["Landlord phone"] for r in units}
    assert LI_ID not in numbers and LI_PHONE not in numbers and WANG_PHONE not in numbers
    assert LI_ID[:3] + "*" * 13 + LI_ID[-2:] in numbers and "138******02" in numbers
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "rentals.export"))
    assert event.detail["unmasked"] is False and event.detail["units"] == 4
    assert client.get("/rentals/export.xlsx?village=NOPE").status_code == 404


def test_a_landlord_named_like_a_formula_stays_text(rental_township, client, make_user):
    rental_township["send"](rental_township["c1"], "household", household(
        "U9", "B1", "T01-01", landlord=("=HYPERLINK(\"http://x\")", "13800000009")))
    _login(client, make_user, Role.SUPERVISOR, ["T01"])
    book = load_workbook(io.BytesIO(client.get("/rentals/export.xlsx").data))
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows(min_row=2) for c in row
             if c.value and "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type == "s" for c in cells)


def test_the_feed_and_the_register_export_read_the_rental_register(scenario, client,
                                                                   make_user):
    reader = make_user(Role.SUPERVISOR, areas=["T"])
    token = api_tokens.create(reader, "test")
    auth = {"Authorization": f"Bearer {token}"}
    metadata = client.get("/odata/$metadata", headers=auth).data.decode()
    assert '<Property Name="area_per_tenant" Type="Edm.Double"' in metadata
    assert '<Property Name="violation_count" Type="Edm.Int64"' in metadata
    rows = client.get("/odata/RentedUnits?$filter=violation_count gt 0&$orderby=__id",
                      headers=auth).get_json()["value"]
    assert [(r["__id"], r["violations"]) for r in rows] == [
        ("U2", "area_per_tenant basement safety contract_unfiled"), ("U3", "kitchen"),
        ("U4", "partitioned")]
    assert rows[0]["landlord_id_number"] == LI_ID and rows[0]["tenants"] == 4
    _login(client, make_user, Role.ADMIN)
    csv_text = client.get("/register/export.csv?list=rentals").data.decode("utf-8-sig")
    header, *lines = csv_text.splitlines()
    assert header.split(",")[:3] == ["__id", "label", "__street"]
    assert [line.split(",")[0] for line in lines] == ["U1", "U2", "U3", "U4"]
    assert LI_ID not in csv_text
