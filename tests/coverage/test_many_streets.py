"""A supervisor over more streets than one statement may carry bound parameters (SQLite as its
authors build it takes 32,766, Debian's build 250,000; PostgreSQL's protocol 65,535): every
reader of their scope answers, with the right figures. Their streets reach the database as a
subquery or one array, never one id each."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Entity
from server.services import scope
from tests.support.coverage_scenario import ensure_round

MANY = 33_000  # streets under the village, past SQLite's limit of bound parameters
LAST = f"T01-S{MANY - 1:05d}"


@pytest.fixture
def crowded_village(stock_sqlite, area_tree, make_building, login):
    """Village T01 with MANY more streets (a building and a household on the last one), a
    round over everything, and a village supervisor logged in."""
    village = area_tree["T01"]
    db.session.execute(sa.insert(Area), [
        {"code": f"T01-S{i:05d}", "name_zh": f"{i}组", "name_en": f"Group {i}",
         "level": "street", "parent_id": village.id, "path": f"T/T01/T01-S{i:05d}"}
        for i in range(MANY)])
    scope.areas_edited()  # (what an areas import does: the kept trees are read again)
    db.session.commit()
    ensure_round()
    last = db.session.scalar(sa.select(Area).where(Area.code == LAST))
    make_building("B-LAST", last)
    make_building("B-FIRST", area_tree["T01-01"])
    db.session.add(Entity(dataset="households", uuid="hh-last", area_id=last.id,
                          label="最后一户", properties={"street": LAST}))
    db.session.commit()
    return login("supervisor", areas=["T01"])


def _csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


READERS = {
    "home page": ("/", lambda r: re.findall(r"<li><strong>(\d+)</strong> (?:栋房屋|条街巷)",
                                          r.get_data(as_text=True)),
                  [str(2), str(MANY + 2)]),
    "map API": ("/api/v1/coverage/buildings.geojson",
                lambda r: sorted(f["properties"]["code"] for f in r.get_json()["features"]),
                ["B-FIRST", "B-LAST"]),
    "unvisited export": ("/coverage/unvisited.csv",
                         lambda r: sorted(row["street"] for row in _csv(r.data)),
                         ["T01-01", LAST]),
    "statistics API": ("/api/v1/coverage/stats?area=T01",
                       lambda r: r.get_json()["areas"]["T01"]["total"], 2),
    "register page": ("/register/?list=households",
                      lambda r: "最后一户" in r.get_data(as_text=True), True),
    "entities API": ("/api/v1/entities/households",
                     lambda r: [e["uuid"] for e in r.get_json()["entities"]], ["hh-last"]),
}


@pytest.mark.parametrize("reader", READERS)
def test_a_supervisor_of_more_streets_than_parameters_is_answered(client, crowded_village,
                                                                  reader):
    url, read, expected = READERS[reader]
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert read(response) == expected
