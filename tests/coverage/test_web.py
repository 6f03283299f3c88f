"""The map page, vector tiles (decoded), API GeoJSON, exports and CLI on the known scenario."""

from __future__ import annotations

import csv
import io
import json

import mapbox_vector_tile
import pytest
from PIL import Image

from gis.states import BY_KEY, STATES
from gis.tiles import lonlat_to_tile
from server.extensions import db
from server.services.coverage import tiles as coverage_tiles
from tests.support.app import PASSWORD
from tests.support.coverage_scenario import LAT0, LON0, offset


@pytest.fixture(autouse=True)
def _fresh_tiles():
    coverage_tiles.clear()
    yield
    coverage_tiles.clear()


def _login_as(client, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


def _features(data: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(data)["buildings"]["features"] if data else []


def test_map_page_for_supervisors_only(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    r = client.get("/coverage/")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert 'id="coverage-map"' in page and 'data-count="unvisited">5<' in page
    assert "/tiles/coverage/{round}/{z}/{x}/{y}.mvt" in page


def test_map_page_forbidden_to_coordinators(client, scenario) -> None:
    _login_as(client, "xieguan")
    assert client.get("/coverage/").status_code == 403
    rid = scenario["round_id"]
    assert client.get(f"/tiles/coverage/{rid}/16/0/0.mvt").status_code == 403


def test_polygon_tile_holds_the_buildings_with_their_states(client, login, scenario) -> None:
    login("admin")
    rid = scenario["round_id"]
    x, y = lonlat_to_tile(LON0 + 0.0005, LAT0 + 0.00005, 16)
    r = client.get(f"/tiles/coverage/{rid}/16/{x}/{y}.mvt")
    assert r.status_code == 200 and r.mimetype == "application/vnd.mapbox-vector-tile"
    got = {f["properties"]["code"]: f["properties"]["state"] for f in _features(r.data)}
    assert got  # the first buildings of the scenario are in this tile
    for code, state in got.items():
        assert scenario["expected"][code] == state
    assert {"B01", "B02"} <= set(got)
    feature = next(f for f in _features(r.data) if f["properties"]["code"] == "B01")
    assert feature["geometry"]["type"] == "Polygon"
    # conditional GET: same coverage, same ETag -> 304
    again = client.get(
        f"/tiles/coverage/{rid}/16/{x}/{y}.mvt", headers={"If-None-Match": r.headers["ETag"]}
    )
    assert again.status_code == 304


def test_low_zoom_tile_counts_every_building(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    rid = scenario["round_id"]
    x, y = lonlat_to_tile(LON0 + 0.009, LAT0, 10)
    feats = _features(client.get(f"/tiles/coverage/{rid}/10/{x}/{y}.mvt").data)
    assert all(f["geometry"]["type"] == "Point" for f in feats)
    assert sum(f["properties"]["n"] for f in feats) == 18
    assert sum(f["properties"].get("unvisited", 0) for f in feats) == 5
    only = _features(client.get(f"/tiles/coverage/{rid}/10/{x}/{y}.mvt?state=suspect").data)
    assert sum(f["properties"]["n"] for f in only) == 3


def test_tile_filters_and_invalidation(client, login, scenario, submit) -> None:
    login("supervisor", areas=["T"])
    rid = scenario["round_id"]
    x, y = lonlat_to_tile(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 15)  # B14
    url = f"/tiles/coverage/{rid}/15/{x}/{y}.mvt"
    street2 = {f["properties"]["code"] for f in _features(client.get(url + "?street=T01-02").data)}
    assert street2 and all(int(c[1:]) >= 10 for c in street2)
    before = client.get(url)
    b14 = [f for f in _features(before.data) if f["properties"]["code"] == "B14"]
    assert b14[0]["properties"]["state"] == "unvisited"

    lon, lat = offset(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 0, 0)
    submit("building_listing", building="B14", outcome="vacant", location=(lon, lat, 4.0))
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the coverage changed: a new ETag, a new tile
    b14 = [f for f in _features(after.data) if f["properties"]["code"] == "B14"]
    assert b14[0]["properties"]["state"] == "complete"


def test_tile_errors(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    assert client.get("/tiles/coverage/999/10/0/0.mvt").status_code == 404
    assert client.get(f"/tiles/coverage/{scenario['round_id']}/3/9/0.mvt").status_code == 404
    r = client.get(f"/tiles/coverage/{scenario['round_id']}/10/0/0.mvt?coordinator=nobody")
    assert r.status_code == 404


def test_api_geojson_mine_for_the_coordinator(client, scenario) -> None:
    _login_as(client, "xieguan")
    r = client.get("/api/v1/coverage/buildings.geojson?mine=1")
    assert r.status_code == 200
    fc = r.get_json()
    props = [f["properties"] for f in fc["features"]]
    assert {p["code"] for p in props} == {f"B0{i}" for i in range(1, 10)}  # street T01-01
    assert set(props[0]) == {"id", "code", "street", "state", "address", "expected_units"}
    assert {p["code"]: p["state"] for p in props} == {
        c: s for c, s in scenario["expected"].items() if int(c[1:]) <= 9
    }
    # a coordinator cannot look outside their streets
    other = client.get("/api/v1/coverage/buildings.geojson?street=T01-02").get_json()
    assert other["features"] == []


def test_api_stats_and_building_detail(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    stats = client.get("/api/v1/coverage/stats").get_json()
    assert stats["areas"]["T"]["total"] == 18
    assert stats["coordinators"]["xieguan"]["unvisited"] == 1
    fc = client.get("/api/v1/coverage/buildings.geojson?state=suspect").get_json()
    assert sorted(f["properties"]["code"] for f in fc["features"]) == ["B04", "B05", "B13"]
    bid = fc["features"][0]["id"]
    detail = client.get(f"/api/v1/coverage/buildings/{bid}").get_json()
    assert detail["state"] == "suspect" and detail["visits"][0]["flags"] == ["far"]
    assert detail["visits"][0]["flag_labels"] == ["距建筑物过远"]  # the panel shows words
    english = client.get(f"/api/v1/coverage/buildings/{bid}?lang=en").get_json()
    assert english["visits"][0]["flag_labels"] == ["Far from the building"]
    assert client.get("/api/v1/coverage/buildings/999999").status_code == 404


def test_exports_of_unvisited_buildings(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/coverage/unvisited.csv?coordinator=xieguan").data.decode("utf-8-sig")
            )
        )
    )
    assert [r["code"] for r in rows] == ["B08"]
    response = client.get("/coverage/unvisited.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
    everyone = response.data.decode("utf-8-sig")
    codes = [r["code"] for r in csv.DictReader(io.StringIO(everyone))]
    assert sorted(codes) == ["B08", "B11", "B14", "B16", "B17"]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/coverage/unvisited.xlsx").data))
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["order", "code", "street"]
    assert sorted(r[1] for r in sheet.iter_rows(min_row=2, values_only=True)) == sorted(codes)
    gj = json.loads(client.get("/coverage/unvisited.geojson?street=T01-02").data)
    assert sorted(f["properties"]["code"] for f in gj["features"]) == ["B11", "B14", "B16", "B17"]
    assert gj["features"][0]["geometry"]["type"] == "Polygon"
    assert client.get("/coverage/unvisited.pdf").status_code == 404


def test_unvisited_exports_never_hold_a_formula(client, login, scenario) -> None:
    """Issue 14, finding 9: a building code or address typed in the field stays text."""
    from openpyxl import load_workbook

    from server.models import Building

    building = db.session.query(Building).filter_by(code="B08").one()
    building.code, building.address = '=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0"
    db.session.commit()
    login("supervisor", areas=["T"])
    rows = list(csv.reader(io.StringIO(
        client.get("/coverage/unvisited.csv").data.decode("utf-8-sig"))))
    cells = [c for row in rows for c in row]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells
    assert "'+cmd|' /C calc'!A0" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@")]
    sheet = load_workbook(io.BytesIO(client.get("/coverage/unvisited.xlsx").data)).active
    hostile = [c for row in sheet.iter_rows(min_row=2) for c in row
               if c.value in (building.code, building.address)]
    assert len(hostile) == 2 and {c.data_type for c in hostile} == {"s"}


def test_walk_list_prints_in_route_order(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    page = client.get("/coverage/walklist?street=T01-02&all=1").get_data(as_text=True)
    order = [page.index(f'data-code="B{i}"') for i in range(10, 19)]
    assert order == sorted(order)  # buildings in a row: walked west to east
    assert "@media print" in page


def test_png_map_of_a_village(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    r = client.get("/coverage/map.png?area=T01")
    assert r.status_code == 200 and r.mimetype == "image/png"
    img = Image.open(io.BytesIO(r.data)).convert("RGB")
    colours = {c for _n, c in img.getcolors(1_000_000)}
    assert {BY_KEY[s].rgb for s in STATES} <= colours  # the scenario has every state
    assert client.get("/coverage/map.png").status_code == 400
    assert client.get("/coverage/map.png?area=NOPE").status_code == 404


def test_cli_recompute_and_export(app, scenario, tmp_path) -> None:
    runner = app.test_cli_runner()
    r = runner.invoke(args=["coverage", "recompute", "--round", str(scenario["round_id"])])
    assert r.exit_code == 0, r.output
    assert "unvisited 5" in r.output and "18 buildings" in r.output
    r = runner.invoke(args=["coverage", "export", "--coordinator", "xieguan", "--format", "csv"])
    assert r.exit_code == 0 and "B08" in r.output and "B11" not in r.output
    out = tmp_path / "u.xlsx"
    r = runner.invoke(args=["coverage", "export", "--format", "xlsx", "-o", str(out)])
    assert r.exit_code == 0 and out.stat().st_size > 1000
    r = runner.invoke(args=["coverage", "export", "--coordinator", "nobody"])
    assert r.exit_code != 0 and "no coordinator named 'nobody'" in r.output
    r = runner.invoke(args=["coverage", "recompute", "--postgis"])
    assert r.exit_code != 0 and "PostgreSQL" in r.output
    db.session.rollback()
