"""The map's count poll (server/client/src/coverage/main.js `refreshCounts()`, every 10 s) and
its cached tiles: a handful of statements per request, a bodiless 304 while the answer is
unchanged, and the new numbers on the very next poll after a visit or an assignment changes
(in this process at once; from another process within the probe interval)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from gis.tiles import lonlat_to_tile
from server.extensions import db
from server.models import User
from server.services import users
from server.services.coverage import source as coverage_source
from server.services.coverage import store as coverage_store
from server.services.coverage import tiles as coverage_tiles
from tests.support.coverage_scenario import LAT0, LON0, offset


@pytest.fixture(autouse=True)
def _fresh_tiles(monkeypatch):
    coverage_tiles.clear()
    monkeypatch.setattr(coverage_source, "PROBE_SECONDS", 3600.0)  # no timed probe mid-test
    yield
    coverage_tiles.clear()


@pytest.fixture
def statements(monkeypatch):
    """SQL statements sent, through SQLAlchemy or straight to the driver (fetch_tuples)."""
    seen = [0]

    def count(*_args) -> None:
        seen[0] += 1

    raw = coverage_store.fetch_tuples

    def counted(stmt):
        seen[0] += 1
        return raw(stmt)

    monkeypatch.setattr(coverage_store, "fetch_tuples", counted)
    sa.event.listen(db.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", count)


def _poll(rid: int, **args: str) -> str:
    return "/api/v1/coverage/stats?" + "&".join(
        f"{k}={v}" for k, v in {"round": rid, "limit": 1, **args}.items())


def _sent(client, statements, url: str, **kw):
    before = statements[0]
    resp = client.get(url, **kw)
    return resp, statements[0] - before


def test_poll_and_cached_tile_send_few_statements(client, login, scenario, statements) -> None:
    login("supervisor", areas=["T"])
    rid = scenario["round_id"]
    x, y = lonlat_to_tile(LON0 + 0.00005, LAT0 + 0.00005, 15)
    for url in (_poll(rid, area="T01"), _poll(rid, coordinator="xieguan"), _poll(rid),
                f"/tiles/coverage/{rid}/15/{x}/{y}.mvt?coordinator=xieguan",
                f"/tiles/coverage/{rid}/15/{x}/{y}.mvt"):
        assert client.get(url).status_code == 200  # the process's first: its copies filled
        resp, n = _sent(client, statements, url)
        assert resp.status_code == 200
        # the user, one stamp of the areas and staff, the round, the rounds' signature, and
        # (statistics) the visits outside every round: nothing that grows with the city
        assert n <= (5 if "stats" in url else 4), (url, n)


def test_unchanged_answer_is_a_bodiless_304(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    url = _poll(scenario["round_id"], area="T01")
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    assert "no-cache" in first.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_visit_shows_on_the_next_poll(client, login, scenario, submit) -> None:
    login("supervisor", areas=["T"])
    url = _poll(scenario["round_id"], area="T01-02")
    first = client.get(url)
    before = first.get_json()["areas"]["T01-02"]
    lon, lat = offset(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 0, 0)  # B14, unvisited
    submit("building_listing", building="B14", outcome="vacant", location=(lon, lat, 4.0))
    after = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    now = after.get_json()["areas"]["T01-02"]
    assert now["unvisited"] == before["unvisited"] - 1
    assert now["complete"] == before["complete"] + 1


def test_an_assignment_shows_on_the_next_poll(client, login, scenario) -> None:
    login("supervisor", areas=["T"])
    rid = scenario["round_id"]
    url = _poll(rid, coordinator="xieguan")
    answer = client.get(url)
    first = answer.get_json()["coordinators"]["xieguan"]
    streets = client.get(_poll(rid, area="T01", limit=10)).get_json()["areas"]
    assert first["total"] == streets["T01-01"]["total"]
    xieguan = db.session.scalar(sa.select(User).where(User.username == "xieguan"))
    users.set_areas(xieguan, ["T01-02"])
    db.session.commit()
    revalidated = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
    assert revalidated.status_code == 200
    assert revalidated.get_json()["coordinators"]["xieguan"] == streets["T01-02"]
    users.set_areas(xieguan, ["T01"])  # the whole village: both streets
    db.session.commit()
    both = client.get(url).get_json()["coordinators"]["xieguan"]
    assert both["total"] == streets["T01-01"]["total"] + streets["T01-02"]["total"]
    # the tiles follow too: the coordinator filter is the streets assigned now
    x, y = lonlat_to_tile(LON0 + 0.00005, LAT0 + 0.00005, 15)
    assert client.get(f"/tiles/coverage/{rid}/15/{x}/{y}.mvt?coordinator=xieguan").data


def test_another_process_is_seen_within_the_probe(client, login, scenario, monkeypatch,
                                                   submit) -> None:
    """A change this process is not told of (made by another one) shows once the probe
    interval has passed, never later."""
    login("supervisor", areas=["T"])
    url = _poll(scenario["round_id"], area="T01-02")
    answer = client.get(url)
    before = answer.get_json()["areas"]["T01-02"]
    from server.services.coverage import feed, refresh

    for mod in (refresh, feed.coverage):  # this process hears nothing of the change
        monkeypatch.setattr(mod, "coverage_changed", lambda: None)
    lon, lat = offset(LON0 + 13 * 0.001 + 0.00005, LAT0 + 0.00005, 0, 0)
    submit("building_listing", building="B14", outcome="vacant", location=(lon, lat, 4.0))
    monkeypatch.setattr(coverage_source, "PROBE_SECONDS", 0.0)  # the interval has passed
    now = client.get(url, headers={"If-None-Match": answer.headers["ETag"]})
    assert now.status_code == 200
    assert now.get_json()["areas"]["T01-02"]["unvisited"] == before["unvisited"] - 1


def _follows_the_feed_without_reading_the_round() -> None:
    """Another process records a visit: after the probe interval this one reads the changed
    street's rows only, and its counts equal a fresh read of the whole round."""
    from server.services.coverage import counts, feed, refresh, rollups
    from tests.coverage.test_change_feed import _add_visit, _unvisited_pair
    from tests.support.coverage_scenario import ensure_round
    from tests.support.demo_visits import load_generated_city

    rnd = ensure_round()
    load_generated_city(buildings=600, visits=900, round_id=rnd.id, seed=5)
    db.session.commit()
    before = rollups.street_matrix(rnd.id).copy()
    target, _here, _there = _unvisited_pair(rnd.id)
    _add_visit(rnd.id, target)
    with pytest.MonkeyPatch.context() as mp:  # the writer is another process
        for mod in (refresh, feed.coverage):
            mp.setattr(mod, "coverage_changed", lambda: None)
        refresh.refresh_building(target, rnd.id)
        db.session.commit()
    full, patched = counts.STATS["full"], counts.STATS["patched"]
    assert (rollups.street_matrix(rnd.id) == before).all()  # within the probe interval
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coverage_source, "PROBE_SECONDS", 0.0)  # the interval has passed
        now = rollups.street_matrix(rnd.id)
    assert (counts.STATS["full"], counts.STATS["patched"]) == (full, patched + 1)
    assert now.sum() == before.sum() and (now != before).any()
    counts.clear()
    assert (rollups.street_matrix(rnd.id) == now).all()  # what a fresh read of the round says


def test_counts_follow_the_feed(app) -> None:
    _follows_the_feed_without_reading_the_round()


@pytest.mark.postgres
def test_counts_follow_the_feed_on_postgresql(postgres_app) -> None:
    _follows_the_feed_without_reading_the_round()
