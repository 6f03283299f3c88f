"""Statistics of a city with many streets a page at a time: the API's pages (`next`) and the
page's drill-down (township → villages → a village's streets) and coordinator pages reach every
row exactly once, no answer holds more than one page, and the totals are the sum of the rows."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
import shapely
import sqlalchemy as sa

from gis.coverage import STATES
from server.extensions import db
from server.models import Area, Assignment, Building, CoverageCount, Role, User
from server.services.coverage import tables
from tests.support.coverage_scenario import ensure_round

VILLAGES, STREETS_PER_VILLAGE, COORDINATORS = 20, 15, 150
STREETS = VILLAGES * STREETS_PER_VILLAGE


@pytest.fixture
def city(app) -> dict:
    """A township of 20 villages and 300 streets, two buildings per street, 150 coordinators
    of two streets each, and counts of visited and complete buildings in the round."""
    areas = [{"id": 1, "code": "T", "name_zh": "乡", "level": "township", "path": "T"}]
    streets = []
    for v in range(VILLAGES):
        vcode = f"T{v:02d}"
        areas.append({"id": len(areas) + 1, "code": vcode, "name_zh": f"{v}村",
                      "level": "village", "parent_id": 1, "path": f"T/{vcode}"})
        vid = len(areas)
        for s in range(STREETS_PER_VILLAGE):
            code = f"{vcode}-{s:02d}"
            areas.append({"id": len(areas) + 1, "code": code, "name_zh": f"{code}组",
                          "level": "street", "parent_id": vid, "path": f"T/{vcode}/{code}"})
            streets.append((len(areas), code))
    db.session.execute(sa.insert(Area), areas)
    rows = []
    for k, (sid, _code) in enumerate(streets):
        for j in range(2):
            lon, lat = 103.0 + k * 0.001, 30.0 + j * 0.001
            box = shapely.box(lon, lat, lon + 0.0002, lat + 0.0002)
            rows.append({"code": f"B{k}-{j}", "street_id": sid, "footprint": shapely.to_wkb(box),
                         "minx": lon, "miny": lat, "maxx": lon + 0.0002, "maxy": lat + 0.0002,
                         "lon": lon + 0.0001, "lat": lat + 0.0001})
    db.session.execute(sa.insert(Building), rows)
    rnd = ensure_round()
    counts = []
    for k, (sid, _code) in enumerate(streets):
        for state, n in (("complete", k % 3), ("visited", 1 if k % 3 == 0 else 0)):
            if n:
                counts.append({"round_id": rnd.id, "street_id": sid, "state": state,
                               "buildings": n})
    db.session.execute(sa.insert(CoverageCount), counts)
    first = db.session.scalar(sa.select(sa.func.max(User.id))) or 0
    db.session.execute(sa.insert(User), [
        {"id": first + 1 + c, "username": f"xg{c:03d}", "display_name": f"协管{c}",
         "role": Role.COORDINATOR.value, "password_hash": "!", "active": True}
        for c in range(COORDINATORS)])  # fmt: skip
    db.session.execute(sa.insert(Assignment), [
        {"user_id": first + 1 + c, "area_id": streets[(2 * c + j) % STREETS][0]}
        for c in range(COORDINATORS) for j in range(2)])  # fmt: skip
    db.session.commit()
    return {"round": rnd.id, "streets": {code for _sid, code in streets}}


def _follow(client, url: str, limit: int) -> list[dict]:
    pages = []
    while url:
        body = client.get(url).get_json()
        assert len(body["areas"]) <= limit and len(body["coordinators"]) <= limit
        pages.append(body)
        url = body["next"] and urljoin(url, body["next"])
        assert len(pages) <= 50, "next never ends"
    return pages


def _once(keys: list) -> set:
    assert len(keys) == len(set(keys)), "a row came twice"
    return set(keys)


def _sum(rows) -> dict[str, int]:
    return {k: sum(r[k] for r in rows) for k in (*STATES, "total")}


@pytest.mark.parametrize(("role", "areas"), [(Role.ADMIN, []), (Role.SUPERVISOR, ["T"]),
                                              (Role.SUPERVISOR, ["T03"])])
def test_the_api_pages_reach_every_row_once_and_the_totals_add_up(client, login, city, role,
                                                                  areas):
    login(role, areas=areas)
    pages = _follow(client, "/api/v1/coverage/stats?limit=40", 40)
    seen = _once([code for p in pages for code in p["areas"]])
    people = _once([name for p in pages for name in p["coordinators"]])
    streets = city["streets"] if not areas or areas == ["T"] else {
        c for c in city["streets"] if c.startswith("T03-")}
    assert {c for c in seen if "-" in c} == streets
    assert len(seen) == pages[0]["count"]["areas"]
    assert len(people) == pages[0]["count"]["coordinators"] > 0
    if areas == ["T03"]:
        assert len(pages) == 1 and seen == streets | {"T03"}  # the township is not all theirs
        assert len(people) == 8  # xg022..xg029 walk streets 44..59, T03 holds 45..59
    else:
        assert len(pages) > 1 and len(people) == COORDINATORS
    rows = [r for p in pages for code, r in p["areas"].items() if "-" in code]
    assert _sum(rows) == {k: pages[0]["totals"][k] for k in (*STATES, "total")}
    assert pages[0]["totals"]["total"] == 2 * len(streets)
    assert all(p["totals"] == pages[0]["totals"] for p in pages)


def test_the_api_narrows_to_an_area_and_a_level(client, login, city):
    login(Role.ADMIN)
    body = client.get("/api/v1/coverage/stats?area=T05&limit=1000").get_json()
    assert set(body["areas"]) == {"T05"} | {f"T05-{s:02d}" for s in range(STREETS_PER_VILLAGE)}
    assert body["next"] is None
    summary = client.get("/api/v1/coverage/stats?level=village&limit=1000").get_json()
    assert set(summary["areas"]) == {"T"} | {f"T{v:02d}" for v in range(VILLAGES)}
    assert summary["areas"]["T"]["total"] == summary["totals"]["total"] == 2 * STREETS
    assert client.get("/api/v1/coverage/stats?area=NOPE").status_code == 404


def _area_rows(page: str) -> dict[str, list[int]]:
    """data-area of each row -> its count cells (the states and the total)."""
    out = {}
    for code, body in re.findall(r'<tr data-area="([^"]+)">(.*?)</tr>', page, re.S):
        cells = re.findall(r"<td>(\d+)</td>", body)
        out[code] = [int(c) for c in cells[: len(STATES) + 1]]
    return out


def _links(page: str, rel: str) -> list[str]:
    return [u.replace("&amp;", "&") for u in re.findall(rf'<a rel="{rel}" href="([^"]+)"', page)]


def test_the_page_shows_summary_rows_and_each_village_its_streets(client, login, city):
    login(Role.SUPERVISOR, areas=["T"])
    top = client.get("/coverage/stats").get_data(as_text=True)
    rows = _area_rows(top)
    assert set(rows) == {"T"} | {f"T{v:02d}" for v in range(VILLAGES)}  # no streets at first
    streets = []
    street_rows = {}
    for v in range(VILLAGES):
        assert f'href="/coverage/stats?area=T{v:02d}"' in top
        page = client.get(f"/coverage/stats?area=T{v:02d}").get_data(as_text=True)
        below = _area_rows(page)
        assert len(below) <= tables.PAGE
        assert below.pop(f"T{v:02d}") == rows[f"T{v:02d}"]
        streets += list(below)
        street_rows.update(below)
    assert _once(streets) == city["streets"]
    total = re.search(r"<tr data-total[^>]*>(.*?)</tr>", top, re.S).group(1)
    cells = [int(c) for c in re.findall(r"<td>(\d+)</td>", total)][: len(STATES) + 1]
    assert cells == [sum(r[i] for r in street_rows.values()) for i in range(len(STATES) + 1)]
    assert cells == rows["T"]


def test_the_page_pages_searches_and_sorts_the_coordinators(client, login, city):
    login(Role.ADMIN)
    url, names = "/coverage/stats", []
    while url:
        page = client.get(url).get_data(as_text=True)
        found = re.findall(r'<tr data-coordinator="([^"]+)">', page)
        assert 0 < len(found) <= tables.PAGE
        names += found
        nexts = [u for u in _links(page, "next") if "cpage=" in u]
        url = nexts[0] if nexts else None
    assert _once(names) == {f"xg{c:03d}" for c in range(COORDINATORS)}
    assert names == sorted(names)
    page = client.get("/coverage/stats?q=xg01").get_data(as_text=True)
    assert re.findall(r'<tr data-coordinator="([^"]+)">', page) == [f"xg{c:03d}"
                                                                    for c in range(10, 20)]
    page = client.get("/coverage/stats?sort=unvisited&desc=1&q=xg00").get_data(as_text=True)
    found = re.findall(r'<tr data-coordinator="([^"]+)">(.*?)</tr>', page, re.S)
    unvisited = [int(re.findall(r"<td>(\d+)</td>", body)[STATES.index("unvisited")])
                 for _name, body in found]
    assert unvisited == sorted(unvisited, reverse=True) and len(set(unvisited)) > 1


def test_the_round_form_takes_streets_by_code_when_there_are_many(client, login, city,
                                                                  monkeypatch):
    from server.models import Round
    from server.web import rounds as rounds_page

    monkeypatch.setattr(rounds_page, "AREAS_LISTED", 100)
    login(Role.ADMIN)
    page = client.get(f"/rounds/{city['round']}").get_data(as_text=True)
    boxes = re.findall(r'name="areas" value="([^"]+)"', page)
    assert set(boxes) == {"T"} | {f"T{v:02d}" for v in range(VILLAGES)}
    assert 'name="street_codes"' in page
    made = client.post("/rounds/", data={"name": "补录", "starts_on": "2017-01-01",
                                         "ends_on": "2017-01-31", "areas": ["T02"],
                                         "street_codes": "T05-01, T05-02"})
    assert made.status_code == 302, made.get_data(as_text=True)
    new = db.session.scalar(sa.select(Round).where(Round.name == "补录"))
    assert sorted(ra.area.code for ra in new.areas) == ["T02", "T05-01", "T05-02"]
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    boxes = re.findall(r'name="areas" value="([^"]+)"', page)
    assert {"T05-01", "T05-02"} <= set(boxes) and "T05-03" not in boxes


def test_the_maps_counts_find_a_street_and_a_coordinator_beyond_the_first_page(client, login,
                                                                               city):
    """The map asks for the area or coordinator it shows (server/client/src/coverage/main.js):
    a street and a coordinator far down the lists are in the answer."""
    login(Role.ADMIN)
    first = client.get("/api/v1/coverage/stats?limit=50").get_json()
    assert "T19-14" not in first["areas"] and "xg149" not in first["coordinators"]
    street = client.get("/api/v1/coverage/stats?limit=50&area=T19-14").get_json()
    assert list(street["areas"]) == ["T19-14"] and street["areas"]["T19-14"]["total"] == 2
    one = client.get("/api/v1/coverage/stats?limit=50&coordinator=xg149").get_json()
    assert list(one["coordinators"]) == ["xg149"] and one["count"]["coordinators"] == 1
    assert client.get("/api/v1/coverage/stats?coordinator=nobody").status_code == 404
    js = (Path(__file__).parents[2] / "server/client/src/coverage/main.js").read_text()
    assert "query.set('area', area)" in js and "query.set('coordinator'" in js
