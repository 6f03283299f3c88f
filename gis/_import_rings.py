"""Degenerate rings: rings of fewer than four points in a polygon or multipolygon.

Real extracts (OpenStreetMap, a surveying office's export clipped at a sheet's edge) carry them
as slivers beside a good footprint; one such part must not cost the whole building. They come
at two levels: geometries GEOS builds but finds invalid (a ring a-b-a), handled by
``drop_degenerate``, and WKB GEOS refuses to build at all (a ring of one point), handled by
``from_wkb_without_degenerate``.
"""

from __future__ import annotations

import struct

import shapely
import shapely.errors

MIN_RING_POINTS = 4  # a closed ring needs three corners and the closing point


def _polygon(rings: list[list[tuple[float, float]]]) -> tuple[shapely.Polygon | None, int]:
    """A polygon from (exterior, *holes) without the short rings; None if the exterior is."""
    good = [r for r in rings if len(r) >= MIN_RING_POINTS]
    dropped = len(rings) - len(good)
    if not rings or len(rings[0]) < MIN_RING_POINTS:
        return None, len(rings)
    return shapely.Polygon(good[0], good[1:]), dropped


def _assemble(polygons: list[shapely.Polygon], multi: bool) -> shapely.Geometry | None:
    if not polygons:
        return None
    if not multi and len(polygons) == 1:
        return polygons[0]
    return shapely.MultiPolygon(polygons)


def drop_degenerate(geom: shapely.Geometry) -> tuple[shapely.Geometry | None, int]:
    """The (multi)polygon without its rings of fewer than four points, and how many rings went
    (a short exterior takes its polygon with it); None when nothing is left."""
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return geom, 0
    kept: list[shapely.Polygon] = []
    dropped = 0
    for part in shapely.get_parts(geom):
        rings = [list(part.exterior.coords), *(list(r.coords) for r in part.interiors)]
        polygon, n = _polygon([[c[:2] for c in r] for r in rings])
        dropped += n
        if polygon is not None:
            kept.append(polygon)
    return _assemble(kept, geom.geom_type == "MultiPolygon"), dropped


class _Reader:
    """Just enough of WKB (ISO and EWKB flags) to read polygons whose rings GEOS refuses."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos, self.order = data, 0, "<"

    def take(self, fmt: str) -> tuple:
        size = struct.calcsize(self.order + fmt)
        out = struct.unpack_from(self.order + fmt, self.data, self.pos)
        self.pos += size
        return out

    def header(self) -> tuple[int, int]:
        (byte_order,) = struct.unpack_from("B", self.data, self.pos)
        self.pos += 1
        self.order = "<" if byte_order == 1 else ">"
        (kind,) = self.take("I")
        dims = 2 + bool(kind & 0x80000000) + bool(kind & 0x40000000)
        if kind & 0x20000000:
            self.take("I")  # EWKB SRID
        kind &= 0x0FFFFFFF
        dims += {1: 1, 2: 1, 3: 2}.get(kind // 1000, 0)  # ISO Z, M, ZM
        return kind % 1000, dims

    def rings(self, dims: int) -> list[list[tuple[float, float]]]:
        (count,) = self.take("I")
        out = []
        for _ in range(count):
            (n,) = self.take("I")
            points = [self.take("d" * dims)[:2] for _ in range(n)]
            if points and points[0] != points[-1]:
                points.append(points[0])  # as GDAL and GEOS close an open ring
            out.append(points)
        return out


def from_wkb_without_degenerate(data: bytes) -> tuple[shapely.Geometry | None, int]:
    """A (multi)polygon from WKB, leaving out rings of fewer than four points, and how many
    rings were left out; (None, 0) for anything else or unreadable bytes."""
    try:
        reader = _Reader(bytes(data))
        kind, dims = reader.header()
        if kind == 3:
            polygon, dropped = _polygon(reader.rings(dims))
            return polygon, dropped
        if kind != 6:
            return None, 0
        (count,) = reader.take("I")
        kept, dropped = [], 0
        for _ in range(count):
            part_kind, part_dims = reader.header()
            if part_kind != 3:
                return None, 0
            polygon, n = _polygon(reader.rings(part_dims))
            dropped += n
            if polygon is not None:
                kept.append(polygon)
        return _assemble(kept, multi=True), dropped
    except (struct.error, ValueError, shapely.errors.GEOSException):
        return None, 0
