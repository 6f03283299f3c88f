"""The coverage states table is the only source of the states' colours and names.

The PNG renderer, the tiles and the engine read it; no other file may spell one of its colours
(a second copy is how the phone map and the supervisors' map drifted apart); and the colours
stay apart for colour-blind eyes.
"""

from __future__ import annotations

import io
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

import gis.coverage
import gis.tiles
from gis import states
from gis.render import render_png
from gis.states import BY_KEY, STATES, TABLE
from server.i18n_tools import read_catalogue

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("gis", "server", "forms")
SKIPPED_DIRS = {"node_modules", "__pycache__", "static/app"}
SUFFIXES = {".py", ".js", ".vue", ".html", ".json", ".css", ".ts", ".svg"}
# Machado et al. (2009), severity 1: linear-RGB matrices simulating each colour blindness.
CVD = {
    "normal": np.eye(3),
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


def test_table_is_well_formed() -> None:
    keys = [s.key for s in TABLE]
    assert len(set(keys)) == len(keys)
    colours = [s.colour.lower() for s in TABLE]
    assert len(set(colours)) == len(colours)
    for s in TABLE:
        assert re.fullmatch(r"#[0-9a-f]{6}", s.colour), s
        assert s.en and s.zh and s.meaning_en and s.meaning_zh, s
        assert s.name("zh_CN") == s.zh and s.name("en") == s.en
    assert STATES == ("unvisited", "visited", "complete", "revisit", "suspect")
    assert [s.key for s in TABLE if s.phone_only] == ["queued"]
    assert list(states.names("zh_CN").values()) == [BY_KEY[k].zh for k in STATES]
    assert [s["key"] for s in states.for_client("en")] == list(STATES)
    assert [s["key"] for s in states.for_client("en", phone=True)] == keys


def test_engine_and_tiles_code_states_by_the_table() -> None:
    assert gis.coverage.STATES is STATES
    assert gis.tiles.STATES is STATES


def _lab(rgb: np.ndarray) -> np.ndarray:
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                       [0.0193, 0.1192, 0.9505]])  # fmt: skip
    xyz = to_xyz @ rgb / np.array([0.95047, 1.0, 1.08883])  # relative to D65 white
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(CVD))
def test_colours_stay_apart_for_colour_blind_eyes(vision: str) -> None:
    def seen(s: states.CoverageState) -> np.ndarray:
        c = np.array(s.rgb) / 255
        linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
        return _lab(np.clip(np.asarray(CVD[vision]) @ linear, 0, 1))

    lab = {s.key: seen(s) for s in TABLE}
    closest = min(
        (float(np.linalg.norm(lab[a] - lab[b])), a, b) for a, b in itertools.combinations(lab, 2)
    )
    assert closest[0] > 20, closest  # CIELAB ΔE76; 20+ reads as clearly different


@pytest.mark.parametrize("state", STATES)
def test_png_fills_a_footprint_with_its_state_colour(state: str) -> None:
    square = shapely.box(102.6, 24.6, 102.601, 24.601)
    png = render_png([square], [state], "t", size=(400, 300))
    img = Image.open(io.BytesIO(png)).convert("RGB")
    assert img.getpixel((200, 140)) == BY_KEY[state].rgb  # the footprint's middle


def test_png_legend_shows_every_state_in_the_table_colour() -> None:
    png = render_png(np.array([], dtype=object), [], "t", size=(1200, 300))
    img = Image.open(io.BytesIO(png)).convert("RGB")
    colours = {c for _n, c in img.getcolors(1_000_000)}
    assert {BY_KEY[s].rgb for s in STATES} <= colours
    assert BY_KEY["queued"].rgb not in colours  # the phone's own state is not a report's


def _source_files():
    for top in SCANNED:
        for path in (REPO / top).rglob("*"):
            rel = path.relative_to(REPO).as_posix()
            if path.suffix in SUFFIXES and not any(f"/{d}/" in f"/{rel}" for d in SKIPPED_DIRS):
                yield path


def test_no_other_file_spells_a_state_colour() -> None:
    own = REPO / "gis" / "states.py"
    spelt = []
    for s in TABLE:
        r, g, b = s.rgb
        spelt.append(re.compile(rf"{s.colour}\b", re.IGNORECASE))
        spelt.append(re.compile(rf"\(\s*{r}\s*,\s*{g}\s*,\s*{b}\s*\)"))  # an RGB tuple
    files = [p for p in _source_files() if p != own]
    assert any(p.name == "mapview.js" for p in files)  # the scan reaches the client source
    offenders = [
        f"{p.relative_to(REPO)}: {rx.pattern}"
        for p in files
        for rx in spelt
        if rx.search(p.read_text("utf-8", errors="replace"))
    ]
    assert offenders == []


def test_no_translation_file_names_a_state() -> None:
    """The states' names live in the table, not in the catalogues (where they drifted)."""
    names = {s.key for s in TABLE} | {s.en for s in TABLE}
    paths = list((REPO / "server" / "translations").rglob("*.po"))
    assert paths
    for path in paths:
        assert not names & {m.id for m in read_catalogue(path) if m.id}, path
