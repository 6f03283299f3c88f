"""A static PNG coverage map (for reports): footprints coloured by state, title, legend.

Pure Pillow on planar metres around the area's centre; no basemap, no network. Colours and
default names come from ``gis.states``, like the interactive maps, so a printout matches them.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely

from gis.states import BY_KEY, STATES

if TYPE_CHECKING:
    from PIL import ImageFont

COLOURS = {k: BY_KEY[k].rgb for k in STATES}
UNKNOWN = (128, 128, 128)
_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)


@lru_cache(maxsize=4)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    from PIL import ImageFont

    for p in _FONT_PATHS:
        if Path(p).exists():
            return ImageFont.truetype(p, size)
    return ImageFont.load_default(size)


def render_png(
    footprints: Sequence[shapely.Geometry] | np.ndarray,
    states: Sequence[str],
    title: str,
    labels: dict[str, str] | None = None,
    size: tuple[int, int] = (1200, 900),
) -> bytes:
    """PNG bytes: every footprint filled with its state's colour; legend with counts.

    ``labels`` maps state keys to the legend's names (default: the table's English names).
    """
    # Pillow loads with the first map, not when the server starts (see tests/test_cli.py)
    from PIL import Image, ImageDraw

    w, h = size
    legend_h, margin = 70, 20
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.text((margin, 10), title, fill=(0, 0, 0), font=font(26))
    geoms = np.asarray(list(footprints), dtype=object)
    if len(geoms):
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        k = math.cos(math.radians((miny + maxy) / 2))
        span_x = max((maxx - minx) * k, 1e-9)
        span_y = max(maxy - miny, 1e-9)
        top = 50
        avail_w, avail_h = w - 2 * margin, h - top - legend_h - margin
        scale = min(avail_w / span_x, avail_h / span_y)
        ox = margin + (avail_w - span_x * scale) / 2
        oy = top + (avail_h - span_y * scale) / 2
        for g, s in zip(geoms.tolist(), states, strict=True):
            for poly in getattr(g, "geoms", [g]):
                if poly.geom_type != "Polygon":
                    continue
                c = np.asarray(poly.exterior.coords)
                pts = [(ox + (x - minx) * k * scale, oy + (maxy - y) * scale) for x, y in c]
                draw.polygon(pts, fill=COLOURS.get(s, UNKNOWN), outline=(60, 60, 60))
    return _finish(img, draw, Counter(states), labels)


def render_raster_png(
    box: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    codes: np.ndarray,
    title: str,
    labels: dict[str, str] | None = None,
    size: tuple[int, int] = (1200, 900),
) -> bytes:
    """PNG bytes of many buildings at once: each one's bounding box (minx, miny, maxx, maxy in
    Web Mercator metres: conformal, so no aspect correction) filled with its state's colour
    (``codes``: index into STATES) in one array, drawn without a polygon per building; the same
    frame, title and legend with counts as `render_png`. A building under a pixel still gets
    its pixel, so visited and missed ones both show at a city's scale."""
    from PIL import Image, ImageDraw

    w, h = size
    legend_h, margin, top = 70, 20, 50
    pixels = np.full((h, w, 3), 255, np.uint8)
    minx, miny, maxx, maxy = (np.asarray(a, float) for a in box)
    codes = np.asarray(codes, np.int64)
    if len(codes):
        x0, y0, x1, y1 = minx.min(), miny.min(), maxx.max(), maxy.max()
        span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
        avail_w, avail_h = w - 2 * margin, h - top - legend_h - margin
        scale = min(avail_w / span_x, avail_h / span_y)
        ox = margin + (avail_w - span_x * scale) / 2
        oy = top + (avail_h - span_y * scale) / 2
        left = np.floor(ox + (minx - x0) * scale).astype(np.int64)
        right = np.maximum(np.floor(ox + (maxx - x0) * scale).astype(np.int64), left)
        upper = np.floor(oy + (y1 - maxy) * scale).astype(np.int64)
        lower = np.maximum(np.floor(oy + (y1 - miny) * scale).astype(np.int64), upper)
        palette = np.array([COLOURS[k] for k in STATES] + [UNKNOWN], np.uint8)
        colour = palette[np.where((codes >= 0) & (codes < len(STATES)), codes, len(STATES))]
        big = ((right - left) > _RASTER_SIDE) | ((lower - upper) > _RASTER_SIDE)
        for dy in range(_RASTER_SIDE + 1):  # small boxes: a few vectorised passes
            for dx in range(_RASTER_SIDE + 1):
                on = ~big & (left + dx <= right) & (upper + dy <= lower)
                pixels[np.clip(upper[on] + dy, 0, h - 1), np.clip(left[on] + dx, 0, w - 1)] = \
                    colour[on]
        for k in np.flatnonzero(big).tolist():  # large ones (a zoomed-in map): one slice each
            pixels[max(upper[k], 0):lower[k] + 1, max(left[k], 0):right[k] + 1] = colour[k]
    img = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(img)
    draw.text((margin, 10), title, fill=(0, 0, 0), font=font(26))
    found = np.bincount(codes[(codes >= 0) & (codes < len(STATES))], minlength=len(STATES))
    return _finish(img, draw, Counter({k: int(found[i]) for i, k in enumerate(STATES)}), labels)


_RASTER_SIDE = 3  # boxes up to 4 x 4 pixels are filled pixel by pixel, larger ones by slices


def _finish(img, draw, counts: Counter, labels: dict[str, str] | None) -> bytes:
    """The legend (each state's colour, name and count) and the PNG's bytes."""
    h = img.size[1]
    legend_h, margin = 70, 20
    x, y = margin, h - legend_h + 15
    for s, colour in COLOURS.items():
        draw.rectangle((x, y, x + 22, y + 22), fill=colour, outline=(60, 60, 60))
        text = f"{(labels or {}).get(s) or BY_KEY[s].en} {counts.get(s, 0)}"
        draw.text((x + 30, y), text, fill=(0, 0, 0), font=font(18))
        x += 40 + int(draw.textlength(text, font=font(18))) + 20
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)  # optimize=True: 5x the CPU for 4 % fewer bytes
    return buf.getvalue()
