"""The supervisors' coverage map in Chromium against a real server: tiles, filters, a building."""

from __future__ import annotations

import math
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from gis.states import BY_KEY, STATES
from tests.support.browser import ARTIFACTS, PAINTED, PHONE, wait_until

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 860}
HOUSEHOLDS = ("101室", "102室")


def _seed_visits(instance) -> dict:
    """Generated visits (as Visit rows) plus two households in the most visited building."""
    from server import create_app
    from server.extensions import db
    from server.models import Building, Entity, Round, Visit
    from server.services.coverage import recompute as coverage_recompute
    from tests.support.demo_visits import load_generated_visits

    app = create_app({"INSTANCE_PATH": str(instance)})
    with app.app_context():
        rid = db.session.scalar(sa.select(Round.id))
        load_generated_visits(150, rid, seed=7)
        bid, n = db.session.execute(
            sa.select(Visit.building_id, sa.func.count())
            .where(Visit.building_id.is_not(None))
            .group_by(Visit.building_id)
            .order_by(sa.func.count().desc(), Visit.building_id)
            .limit(1)
        ).one()
        b = db.session.get(Building, bid)
        for label in HOUSEHOLDS:
            db.session.add(Entity(dataset="households", uuid=str(uuid.uuid4()), label=label,
                                  properties={"outcome": "done"}, building_id=bid))  # fmt: skip
        db.session.commit()
        coverage_recompute.recompute(rid)
        out = {"code": b.code, "lon": b.lon, "lat": b.lat, "visits": n}
        db.session.remove()
        db.engine.dispose()
    return out


def _log_in(page: Page, url: str, passwords: dict[str, str]) -> None:
    page.goto(f"{url}/login?next=/coverage/")
    page.fill("input[name=username]", "zhuren")
    page.fill("input[name=password]", passwords["zhuren"])
    page.click("button[type=submit]")
    page.wait_for_url("**/coverage/")


RENDERED = """() => {
  const m = window.doorstepCoverageMap;
  if (!m) return 0;
  const layer = m.getLayers().getArray().at(-1);
  return layer.getFeaturesInExtent(m.getView().calculateExtent()).length;
}"""

TILE_URL = """() =>
  window.doorstepCoverageMap.getLayers().getArray().at(-1).getSource().getUrls()[0]"""


SWATCHES = """(sel) => [...document.querySelectorAll(sel)].map(
  (e) => [e.dataset.swatch || e.dataset.state, getComputedStyle(e).backgroundColor])"""

FILLS = """() => {
  const m = window.doorstepCoverageMap;
  const layer = m.getLayers().getArray().at(-1);
  const out = {};
  for (const f of layer.getFeaturesInExtent(m.getView().calculateExtent())) {
    const style = layer.getStyleFunction()(f, m.getView().getResolution());
    out[f.get('state')] = (style.getFill() || style.getImage().getFill()).getColor();
  }
  return out;
}"""


def _rgb(state: str) -> str:
    return "rgb({}, {}, {})".format(*BY_KEY[state].rgb)


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    r = 6378137.0
    return math.radians(lon) * r, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * r


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_coverage_map_tiles_filters_and_building_panel(server, browser, viewport) -> None:
    srv, passwords = server
    target = _seed_visits(srv.instance)
    ctx = browser.new_context(viewport=viewport, locale="zh-CN", is_mobile=viewport is PHONE,
                              has_touch=viewport is PHONE)  # fmt: skip
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        _log_in(page, srv.url, passwords)
        # tiles arrive and are drawn: features in view and painted pixels on the canvas
        wait_until(page, RENDERED, timeout=30)
        wait_until(page, f"() => ({PAINTED})() > 0", timeout=10)
        total = page.locator("[data-count=total]")
        everyone = int(total.inner_text())
        assert everyone == 60
        # legend and map colours come from gis/states.py through the page's data-states
        legend = page.evaluate(SWATCHES, "#coverage-legend [data-swatch]")
        assert legend == [[k, _rgb(k)] for k in STATES]
        fills = page.evaluate(FILLS)
        assert fills and all(c[:7] == BY_KEY[k].colour for k, c in fills.items()), fills

        # a village filter narrows the counts (and the tile URL); "All" restores them
        village = page.locator("select[name=village] option").nth(1).get_attribute("value")
        page.select_option("select[name=village]", village)
        expect(total).not_to_have_text(str(everyone), timeout=10000)
        assert 0 < int(total.inner_text()) < everyone
        assert village in page.evaluate(TILE_URL)
        page.select_option("select[name=village]", "")
        expect(total).to_have_text(str(everyone), timeout=10000)

        # the building with households and visits, centred at z17: a click opens its panel
        x, y = _mercator(target["lon"], target["lat"])
        page.evaluate(f"() => window.doorstepCoverageMap.getView().setCenter([{x}, {y}])")
        page.evaluate("() => window.doorstepCoverageMap.getView().setZoom(18)")
        wait_until(
            page,
            """(code) => {
              const m = window.doorstepCoverageMap;
              const layer = m.getLayers().getArray().at(-1);
              return layer.getFeaturesInExtent(m.getView().calculateExtent())
                .some((f) => f.get('code') === code);
            }""",
            arg=target["code"],
            timeout=30,
        )
        box = page.locator("#coverage-map").bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        panel = page.locator("#coverage-detail")
        expect(panel).to_be_visible(timeout=10000)
        expect(panel.locator("h2")).to_contain_text(target["code"])
        [[state, colour]] = page.evaluate(SWATCHES, "#coverage-detail [data-swatch]")
        assert colour == _rgb(state)
        expect(panel.locator("h2")).to_contain_text(BY_KEY[state].zh)
        for label in HOUSEHOLDS:
            expect(panel).to_contain_text(label)
        expect(panel.locator("h3").nth(1)).to_contain_text(f"({target['visits']})")
        assert panel.locator("ul").nth(1).locator("li").count() == target["visits"]
        ARTIFACTS.mkdir(exist_ok=True)
        name = "phone" if viewport is PHONE else "desktop"
        page.screenshot(path=str(ARTIFACTS / f"coverage-map-{name}.png"), full_page=True)
        assert not errors, errors
    finally:
        ctx.close()
