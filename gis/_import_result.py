"""What an import gives back: the rows to insert and a report, or one error naming the feature.

Also the formats and levels an import knows. This module needs numpy only, so ``gis.importing``
can be imported (by the server at start-up) without geopandas and GDAL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

AREA_LEVELS = ("township", "village", "street")
FORMATS = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
    ".zip": "zip",
    ".csv": "CSV",
}


class GisImportError(ValueError):
    """A file or layer that cannot be imported; the message names the feature and the reason.

    ``problems`` lists every problem found (dicts with at least ``row`` and ``reason``) when
    there are several, so an upload page can show them all, not only the first.
    """

    def __init__(self, message: str, problems: list[dict] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


@dataclass(slots=True)
class ImportResult:
    """Rows ready to insert and the report of what was done to get them.

    ``records``: buildings as dicts with the columns of ``server.models.Building`` (code,
    footprint WKB, minx/miny/maxx/maxy, lon/lat of the representative point, address,
    expected_units, floors, source) plus ``street_code`` (None outside every street) in place of
    ``street_id``; areas with code, name_zh, name_en, level, parent_code, path, boundary WKB,
    parents before children. ``repaired``, ``duplicates`` (kind code/existing/footprint/point/
    point_in_footprint, ``of_row``) and ``outside`` hold dicts with ``row`` (1-based) and
    ``code``; ``warnings`` are sentences for the person importing; ``skipped`` lists the
    features left out because their geometry could not be repaired (``skip_invalid``).
    """

    records: list[dict]
    repaired: list[dict] = field(default_factory=list)
    duplicates: list[dict] = field(default_factory=list)
    outside: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def rows_to_keep(
    duplicates: list[dict], n: int, skip_duplicates: bool, label: Callable[[int], str]
) -> np.ndarray:
    """Refuse the import on the first duplicate, or (skip_duplicates) drop every duplicate row.

    ``label(i)`` names feature i for the message; returns a boolean mask over the n features.
    """
    if duplicates and not skip_duplicates:
        d = duplicates[0]
        raise GisImportError(
            f"{label(d['row'] - 1)}: {d['reason']} ({len(duplicates)} duplicate(s) in all; "
            "import with skip_duplicates to keep only the first of each)",
            duplicates,
        )
    keep = np.ones(n, dtype=bool)
    keep[[d["row"] - 1 for d in duplicates]] = False
    return keep
