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
    counts = Counter(states)
    x, y = margin, h - legend_h + 15
    for s, colour in COLOURS.items():
        draw.rectangle((x, y, x + 22, y + 22), fill=colour, outline=(60, 60, 60))
        text = f"{(labels or {}).get(s) or BY_KEY[s].en} {counts.get(s, 0)}"
        draw.text((x + 30, y), text, fill=(0, 0, 0), font=font(18))
        x += 40 + int(draw.textlength(text, font=font(18))) + 20
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()
