"""Deterministic demo township: areas, roads, building footprints and users.

Used for demo data, tests and benchmarks (up to city size: 1,000,000 buildings). Geometry is
built in metres in UTM zone 48N (EPSG:32648) and transformed to WGS 84 lon/lat in bulk.

Layout, chosen so that footprints never overlap *by construction* (no pairwise checks):

* each street is a gently curving polyline ``y = A sin(2 pi x / W + phi)`` (A <= 15 m,
  W >= 500 m, so the radius of curvature stays above ~400 m) inside its own 110 m wide strip;
* buildings stand in slots along each side of the street, set back 5-10 m, rotated to the local
  tangent; consecutive slots are spaced by the building widths plus a gap of >= 5 m measured
  along x (arc length is never shorter), which exceeds the convergence of corners on the inside
  of a curve (< 3.5 m for 35 m deep rows at R >= 250 m);
* a village stacks its street strips side by side with a spine road across their starts; villages
  sit in disjoint cells of a square grid, each rotated by its own angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import shapely
from pyproj import Transformer
from shapely import LineString, Polygon

from gis import _names

UTM_EPSG = 32648
CENTRE_LONLAT = (102.6, 24.6)  # Jinning, Kunming

_STRIP = 110.0  # metres between street centrelines within a village
_X0 = 15.0  # first slot starts this far along the street (spine road at x = 0)
_BUILDINGS_PER_STREET = 100
_STREETS_PER_VILLAGE = 7

AreaLevel = Literal["township", "village", "street"]


@dataclass(slots=True)
class DemoArea:
    code: str
    name_zh: str
    name_en: str
    level: AreaLevel
    parent_code: str | None
    boundary: Polygon | None


@dataclass(slots=True)
class DemoBuilding:
    code: str
    street_code: str
    footprint: Polygon  # WGS 84 lon/lat
    address_zh: str
    expected_units: int
    floors: int


@dataclass(slots=True)
class DemoUser:
    """A demo account; ``area_codes`` are street codes (coordinator) or the township code."""

    username: str
    display_name: str
    role: Literal["coordinator", "supervisor"]
    area_codes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DemoTownship:
    areas: list[DemoArea]
    roads: list[LineString]
    buildings: list[DemoBuilding]
    coordinators: list[DemoUser]
    supervisors: list[DemoUser]

    @property
    def streets(self) -> list[DemoArea]:
        return [a for a in self.areas if a.level == "street"]

    @property
    def villages(self) -> list[DemoArea]:
        return [a for a in self.areas if a.level == "village"]


def generate_township(seed: int = 2016, buildings: int = 2000, villages: int = 3) -> DemoTownship:
    """Generate a township; the same arguments always give identical output."""
    if not isinstance(buildings, int) or buildings < 1:
        raise ValueError(f"buildings must be a positive int, got {buildings!r}")
    if not isinstance(villages, int) or villages < 1:
        raise ValueError(f"villages must be a positive int, got {villages!r}")
    rng = np.random.default_rng(seed)
    n_streets = max(villages, round(buildings / _BUILDINGS_PER_STREET), 1)
    n_villages = max(villages, math.ceil(n_streets / _STREETS_PER_VILLAGE))
    n_streets = min(max(n_streets, n_villages), max(buildings, n_villages))
    plan = _plan(rng, buildings, n_streets, n_villages)
    to_lonlat = Transformer.from_crs(UTM_EPSG, 4326, always_xy=True)
    areas, roads = _areas_and_roads(plan, to_lonlat)
    blds = _buildings(rng, plan, to_lonlat)
    coordinators, supervisors = _users(rng, plan)
    return DemoTownship(areas, roads, blds, coordinators, supervisors)


@dataclass(slots=True)
class _Plan:
    """Street and village layout in metres (UTM 48N)."""

    street_village: np.ndarray  # village index per street
    street_counts: np.ndarray  # buildings per street
    amp: np.ndarray  # per street sine amplitude, m
    wavelength: np.ndarray
    phase: np.ndarray
    length: np.ndarray  # street length along x, m (filled by _buildings_layout)
    street_y: np.ndarray  # street centreline offset in its village frame
    village_angle: np.ndarray
    village_centre: np.ndarray  # (n_villages, 2) UTM
    village_half: np.ndarray  # (n_villages, 2) half extents (x, y) in village frame
    street_codes: list[str]
    street_names: list[tuple[str, str]]
    village_codes: list[str]
    village_names: list[tuple[str, str]]
    layout: dict  # per-building arrays in street frame


def _plan(rng: np.random.Generator, n_buildings: int, n_streets: int, n_villages: int) -> _Plan:
    street_village = (np.arange(n_streets) * n_villages) // n_streets
    weights = rng.uniform(0.6, 1.4, n_streets)
    counts = np.floor(weights / weights.sum() * (n_buildings - n_streets)).astype(np.int64) + 1
    counts[: n_buildings - int(counts.sum())] += 1
    amp = rng.uniform(3.0, 15.0, n_streets)
    wavelength = rng.uniform(500.0, 900.0, n_streets)
    phase = rng.uniform(0.0, 2 * math.pi, n_streets)
    layout = _buildings_layout(rng, counts)
    # street length = furthest slot end on either side, plus a little road beyond
    length = np.zeros(n_streets)
    np.maximum.at(length, layout["street"], layout["x"] + layout["w"] / 2 + 10.0)
    # position of each street's strip within its village
    first = np.searchsorted(street_village, np.arange(n_villages))
    rank = np.arange(n_streets) - first[street_village]
    per_village = np.bincount(street_village, minlength=n_villages)
    street_y = (rank - (per_village[street_village] - 1) / 2) * _STRIP
    half_x = np.zeros(n_villages)
    np.maximum.at(half_x, street_village, length / 2 + 10.0)
    half = np.column_stack([half_x, per_village * _STRIP / 2 + 5.0])
    # villages in a square grid of equal cells, each cell fits any rotation of any village
    cell = 2 * float(np.hypot(half[:, 0], half[:, 1]).max()) + 150.0
    cols = math.ceil(math.sqrt(n_villages))
    gx, gy = np.arange(n_villages) % cols, np.arange(n_villages) // cols
    rows = math.ceil(n_villages / cols)
    cx, cy = Transformer.from_crs(4326, UTM_EPSG, always_xy=True).transform(*CENTRE_LONLAT)
    centre = np.column_stack([cx + (gx - (cols - 1) / 2) * cell, cy + ((rows - 1) / 2 - gy) * cell])
    angle = rng.uniform(-math.pi / 4, math.pi / 4, n_villages)
    v_codes, v_names, s_codes, s_names = [], [], [], []
    vw = max(2, len(str(n_villages)))
    sw = max(2, len(str(int(per_village.max()))))
    for v in range(n_villages):
        v_codes.append(f"{_names.TOWNSHIP_CODE}{v + 1:0{vw}d}")
        v_names.append(_names.village_name(v))
    for s in range(n_streets):
        v = int(street_village[s])
        j = int(rank[s]) + 1
        s_codes.append(f"{v_codes[v]}-{j:0{sw}d}")
        s_names.append(_names.street_name(*v_names[v], j, seat=(v == 0)))
    return _Plan(
        street_village,
        counts,
        amp,
        wavelength,
        phase,
        length,
        street_y,
        angle,
        centre,
        half,
        s_codes,
        s_names,
        v_codes,
        v_names,
        layout,
    )


def _buildings_layout(rng: np.random.Generator, counts: np.ndarray) -> dict:
    """Per-building sizes and slot positions along their street, in the street frame."""
    n = int(counts.sum())
    street = np.repeat(np.arange(len(counts)), counts)
    idx = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    side = np.where(idx % 2 == 0, 1, -1)  # odd door numbers left (+y), even right
    slot = idx // 2
    w = rng.uniform(6.0, 20.0, n)  # along the street
    d = rng.uniform(6.0, 20.0, n)  # depth
    gap = rng.uniform(5.0, 14.0, n)
    setback = rng.uniform(5.0, 10.0, n)
    # order by (street, side, slot) to cumulate widths per row
    order = np.lexsort((slot, side, street))
    step = (w + gap)[order]
    cum = np.cumsum(step)
    group = street[order] * 2 + (side[order] > 0)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    first_of = np.repeat(starts, np.diff(np.r_[starts, n]))
    before = cum[first_of] - step[first_of]
    x = np.empty(n)
    x[order] = _X0 + (cum - before) - gap[order] - w[order] / 2
    return {
        "street": street,
        "side": side,
        "number": idx + 1,
        "w": w,
        "d": d,
        "setback": setback,
        "x": x,
    }


def _street_to_utm(plan: _Plan, street: np.ndarray, x: np.ndarray, y: np.ndarray):
    """Street frame (x along, y across the straight axis) -> UTM metres."""
    v = plan.street_village[street]
    vx = x - plan.village_half[v, 0] + 10.0
    vy = y + plan.street_y[street]
    c, s = np.cos(plan.village_angle[v]), np.sin(plan.village_angle[v])
    return (
        plan.village_centre[v, 0] + vx * c - vy * s,
        plan.village_centre[v, 1] + vx * s + vy * c,
    )


def _curve(plan: _Plan, street: np.ndarray, x: np.ndarray):
    """Centreline offset and slope of each street at x."""
    k = 2 * math.pi / plan.wavelength[street]
    arg = k * x + plan.phase[street]
    return plan.amp[street] * np.sin(arg), plan.amp[street] * k * np.cos(arg)


def _buildings(rng: np.random.Generator, plan: _Plan, to_lonlat: Transformer) -> list[DemoBuilding]:
    lay = plan.layout
    street, side, x, w, d = lay["street"], lay["side"], lay["x"], lay["w"], lay["d"]
    yc, slope = _curve(plan, street, x)
    norm = np.hypot(1.0, slope)
    tx, ty = 1.0 / norm, slope / norm  # unit tangent
    nx, ny = -ty, tx  # unit normal, to the left
    off = side * (lay["setback"] + d / 2)
    cx, cy = x + nx * off, yc + ny * off
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    hw, hd = (w / 2)[:, None], (d / 2)[:, None]
    px = cx[:, None] + corners[:, 0] * hw * tx[:, None] + corners[:, 1] * hd * nx[:, None]
    py = cy[:, None] + corners[:, 0] * hw * ty[:, None] + corners[:, 1] * hd * ny[:, None]
    ux, uy = _street_to_utm(plan, np.repeat(street, 5), px.ravel(), py.ravel())
    lon, lat = to_lonlat.transform(ux, uy)
    rings = np.stack([lon, lat], axis=1).reshape(-1, 5, 2)
    footprints = shapely.polygons(rings)
    area = w * d
    floors = np.where(
        area < 120,
        rng.integers(1, 4, len(w)),
        np.where(area < 250, rng.integers(2, 5, len(w)), rng.integers(3, 8, len(w))),
    )
    units = np.maximum(1, (floors * area / rng.uniform(60.0, 140.0, len(w))).astype(int))
    units = np.where(area < 120, np.minimum(units, floors), units)
    s_codes = plan.street_codes
    prefix = [_names.TOWNSHIP_ZH + nm[0] for nm in plan.street_names]
    nums = lay["number"].tolist()
    sts = street.tolist()
    return [
        DemoBuilding(f"{s_codes[s]}-{n:03d}", s_codes[s], fp, f"{prefix[s]}{n}号", u, f)
        for s, n, fp, u, f in zip(
            sts, nums, footprints.tolist(), units.tolist(), floors.tolist(), strict=True
        )
    ]


def _to_lonlat(geoms: np.ndarray, to_lonlat: Transformer) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(geoms, fn)


def _areas_and_roads(
    plan: _Plan, to_lonlat: Transformer
) -> tuple[list[DemoArea], list[LineString]]:
    n_streets = len(plan.street_codes)
    # street strips: rectangles in the street frame
    sx0 = np.full(n_streets, -5.0)
    sx1 = plan.length + 5.0
    y0, y1 = np.full(n_streets, -_STRIP / 2), np.full(n_streets, _STRIP / 2)
    rx = np.column_stack([sx0, sx1, sx1, sx0, sx0])
    ry = np.column_stack([y0, y0, y1, y1, y0])
    ux, uy = _street_to_utm(plan, np.repeat(np.arange(n_streets), 5), rx.ravel(), ry.ravel())
    street_polys = shapely.polygons(np.stack([ux, uy], 1).reshape(-1, 5, 2))
    # villages: rotated rectangles around all their strips
    hx, hy = plan.village_half[:, 0] + 5.0, plan.village_half[:, 1] + 5.0
    c, s = np.cos(plan.village_angle)[:, None], np.sin(plan.village_angle)[:, None]
    kx = np.array([-1, 1, 1, -1, -1.0]) * hx[:, None]
    ky = np.array([-1, -1, 1, 1, -1.0]) * hy[:, None]
    vx = plan.village_centre[:, :1] + kx * c - ky * s
    vy = plan.village_centre[:, 1:] + kx * s + ky * c
    village_polys = shapely.polygons(np.stack([vx, vy], -1))
    township = shapely.convex_hull(shapely.union_all(village_polys)).buffer(300.0, quad_segs=4)
    # roads: street centrelines sampled every ~25 m, and each village's spine across starts
    lines = []
    for i in range(n_streets):
        xs = np.linspace(0.0, plan.length[i], max(2, int(plan.length[i] // 25) + 1))
        st = np.full(len(xs), i)
        ys, _ = _curve(plan, st, xs)
        lines.append(np.column_stack(_street_to_utm(plan, st, xs, ys)))
    roads = shapely.linestrings(
        np.concatenate(lines), indices=np.repeat(np.arange(n_streets), [len(a) for a in lines])
    )
    first = np.searchsorted(plan.street_village, np.arange(len(plan.village_codes)))
    last = np.r_[first[1:], n_streets] - 1
    spine_st = np.stack([first, last], 1).ravel()
    sp_y = np.stack([plan.street_y[first] - 20.0, plan.street_y[last] + 20.0], 1).ravel()
    sp_y = sp_y - plan.street_y[spine_st]
    spx, spy = _street_to_utm(plan, spine_st, np.zeros(len(spine_st)), sp_y)
    spines = shapely.linestrings(np.stack([spx, spy], 1).reshape(-1, 2, 2))
    geoms = _to_lonlat(
        np.concatenate([street_polys, village_polys, [township], roads, spines]), to_lonlat
    )
    st_g, vi_g = geoms[:n_streets], geoms[n_streets : n_streets + len(village_polys)]
    tw_g = geoms[n_streets + len(village_polys)]
    road_g = geoms[n_streets + len(village_polys) + 1 :]
    areas = [
        DemoArea(
            _names.TOWNSHIP_CODE, _names.TOWNSHIP_ZH, _names.TOWNSHIP_EN, "township", None, tw_g
        )
    ]
    for code, (zh, en), g in zip(plan.village_codes, plan.village_names, vi_g, strict=True):
        areas.append(DemoArea(code, zh, en, "village", _names.TOWNSHIP_CODE, g))
    parents = [plan.village_codes[v] for v in plan.street_village]
    for code, (zh, en), parent, g in zip(
        plan.street_codes, plan.street_names, parents, st_g, strict=True
    ):
        areas.append(DemoArea(code, zh, en, "street", parent, g))
    return areas, road_g.tolist()


def _users(rng: np.random.Generator, plan: _Plan) -> tuple[list[DemoUser], list[DemoUser]]:
    """Coordinators walk 4-6 consecutive streets each; one supervisor (zhuren) for the township."""
    codes = plan.street_codes
    chunks, i = [], 0
    while i < len(codes):
        k = int(rng.integers(4, 7))
        chunks.append(codes[i : i + k])
        i += k
    if len(chunks) > 1 and len(chunks[-1]) < 3:  # fold a short tail into the previous one
        chunks[-2].extend(chunks.pop())
    width = max(2, len(str(len(chunks))))
    coordinators = [
        DemoUser(f"xieguan{j + 1:0{width}d}", _names.person_name(j + 1), "coordinator", chunk)
        for j, chunk in enumerate(chunks)
    ]
    supervisors = [DemoUser("zhuren", _names.person_name(0), "supervisor", [_names.TOWNSHIP_CODE])]
    return coordinators, supervisors
