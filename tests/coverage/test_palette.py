"""Every page that shows a coverage state takes its colour and name from gis/states.py.

Change detection: the rendered legends, the map's and the phone shell's JSON, the statistics
headers, the walk list and the PNG are read back and compared with the table.
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from gis.states import BY_KEY, STATES, for_client

LOCALES = ("zh_CN", "en")


class Swatches(HTMLParser):
    """Collects every state swatch (data-swatch + the colour the page's <style> gives it) and
    the map's legend items."""

    def __init__(self) -> None:
        super().__init__()
        self.swatches: list[tuple[str, str]] = []
        self.legend: dict[str, dict[str, str]] = {}
        self.attrs: dict[str, dict[str, str]] = {}
        self.colours: dict[str, str] = {}
        self._item: str | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs) -> None:
        a = {k: v or "" for k, v in attrs}
        self._in_style = tag == "style"
        if "id" in a:
            self.attrs[a["id"]] = a
        if "data-swatch" in a:
            self.swatches.append((a["data-swatch"], self.colours.get(a["data-swatch"], "")))
        if tag == "li" and "data-state" in a:
            self._item = a["data-state"]
            self.legend[self._item] = {"title": a.get("title", ""), "text": ""}
        elif tag == "strong":
            self._item = None

    def handle_endtag(self, tag) -> None:
        self._in_style = False

    def handle_data(self, data) -> None:
        if self._in_style:
            self.colours.update(re.findall(
                r'\.swatch\[data-swatch="(\w+)"\]\s*\{\s*background:\s*(#[0-9a-f]{6});', data))
        if self._item:
            self.legend[self._item]["text"] += data.strip()


def _parse(page: str) -> Swatches:
    p = Swatches()
    p.feed(page)
    return p


@pytest.mark.parametrize("locale", LOCALES)
def test_map_legend_and_map_data_come_from_the_table(client, login, scenario, locale) -> None:
    login("supervisor", areas=["T"])
    page = _parse(client.get(f"/coverage/?lang={locale}").get_data(as_text=True))
    assert page.swatches == [(k, BY_KEY[k].colour) for k in STATES]
    assert list(page.legend) == list(STATES)
    for key, item in page.legend.items():
        assert item == {"title": BY_KEY[key].meaning(locale), "text": BY_KEY[key].name(locale)}
    assert json.loads(page.attrs["coverage-map"]["data-states"]) == for_client(locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_stats_headers_and_walk_list_name_states_from_the_table(
    client, login, scenario, locale
) -> None:
    login("supervisor", areas=["T"])
    page = client.get(f"/coverage/stats?lang={locale}").get_data(as_text=True)
    expected = [(k, BY_KEY[k].colour) for k in STATES]
    assert _parse(page).swatches == expected * 2  # by area and by coordinator
    for key in STATES:
        assert page.count(f"{BY_KEY[key].name(locale)}</th>") == 2
    walk = client.get(f"/coverage/walklist?all=1&lang={locale}").get_data(as_text=True)
    cells = re.findall(r"<td>([^<]*)</td>\s*<td class=\"box\">", walk)
    assert cells and set(cells) == {BY_KEY[k].name(locale) for k in STATES}


@pytest.mark.parametrize("locale", LOCALES)
def test_phone_shell_carries_the_table_with_the_phone_state(client, login, locale) -> None:
    login("coordinator")
    page = client.get(f"/app/?lang={locale}").get_data(as_text=True)
    config = json.loads(re.search(r"window\.DOORSTEP = (\{.*?\});</script>", page).group(1))
    assert config["states"] == for_client(locale, phone=True)
    assert config["states"][-1]["key"] == "queued"
    assert not set(STATES) & set(config["i18n"])  # names come with the table, not the catalogue


def test_png_legend_names_follow_the_locale(client, login, scenario, monkeypatch) -> None:
    from server.services.coverage import exports as coverage_exports

    seen: list[dict | None] = []
    real = coverage_exports.render_png

    def spy(shapes, states, title, labels=None, **kw):
        seen.append(labels)
        return real(shapes, states, title, labels, **kw)

    monkeypatch.setattr(coverage_exports, "render_png", spy)
    login("supervisor", areas=["T"])
    r = client.get("/coverage/map.png?area=T01&lang=en")
    assert r.status_code == 200
    assert seen == [{k: BY_KEY[k].en for k in STATES}]
    img = Image.open(io.BytesIO(r.data)).convert("RGB")
    assert {BY_KEY[k].rgb for k in STATES} <= {c for _n, c in img.getcolors(1_000_000)}


def test_a_map_of_many_buildings_is_drawn_from_their_boxes(client, login, scenario,
                                                           monkeypatch) -> None:
    """Past MAP_POLYGONS buildings the PNG is one array of boxes (render_raster_png), no polygon
    drawn per building: the same states in the same colours, the same counts in the legend."""
    from server.services.coverage import exports as coverage_exports

    login("supervisor", areas=["T"])
    drawn = client.get("/coverage/map.png?area=T01&lang=en")
    polygons: list[int] = []
    real = coverage_exports.render_png
    monkeypatch.setattr(coverage_exports, "render_png",
                        lambda *a, **kw: polygons.append(1) or real(*a, **kw))
    monkeypatch.setattr(coverage_exports, "MAP_POLYGONS", 0)
    boxes = client.get("/coverage/map.png?area=T01&lang=en")
    assert boxes.status_code == 200 and not polygons
    colours = [{c for _n, c in Image.open(io.BytesIO(r.data)).convert("RGB").getcolors(1 << 20)}
               for r in (drawn, boxes)]
    assert {BY_KEY[k].rgb for k in STATES} <= colours[1]
    legend = Image.open(io.BytesIO(drawn.data)).convert("RGB").crop((0, 830, 1200, 900))
    assert legend.tobytes() == Image.open(io.BytesIO(boxes.data)).convert("RGB").crop(
        (0, 830, 1200, 900)).tobytes()  # the counts' text drawn the same


def test_a_large_map_is_drawn_again_only_when_a_state_changes(client, login, scenario,
                                                              monkeypatch) -> None:
    """A meeting report draws its area's map on every view: the drawing is kept per process
    under the states it shows, and drawn again once one of them changes."""
    from server.services.coverage import exports as coverage_exports
    from server.services.coverage import source

    draws: list[np.ndarray] = []
    real = coverage_exports.render_raster_png
    monkeypatch.setattr(coverage_exports, "render_raster_png",
                        lambda boxes, codes, *a, **kw: draws.append(codes.copy())
                        or real(boxes, codes, *a, **kw))
    monkeypatch.setattr(coverage_exports, "MAP_POLYGONS", 0)
    login("supervisor", areas=["T"])
    first = client.get("/coverage/map.png?area=T01&lang=en")
    again = client.get("/coverage/map.png?area=T01&lang=en")
    assert first.status_code == again.status_code == 200
    assert len(draws) == 1 and again.data == first.data
    assert client.get("/coverage/map.png?area=T01&lang=zh_CN").status_code == 200
    assert len(draws) == 2  # another legend: another drawing

    real_states = source.states

    def all_moved(round_id):
        codes, key = real_states(round_id)
        codes = codes.copy()
        codes[:] = (codes + 1) % len(STATES)  # every building's state moved
        return codes, key

    monkeypatch.setattr(source, "states", all_moved)
    changed = client.get("/coverage/map.png?area=T01&lang=en")
    assert len(draws) == 3 and changed.data != first.data
    assert not np.array_equal(draws[2], draws[0])
