"""Attribute columns of an import: codes, whole numbers and texts, checked per row.

Columns are converted with pandas in one pass (a city has a million rows); only a bad value
costs a look at its row, to name it in the error.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis import _import_geom as geom
from gis._import_result import AREA_LEVELS, GisImportError

MAX_INT = 100_000  # units or floors beyond this are a wrong column, not a building


def frame_in_wgs84(frame, what: str) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The frame with a 0..n-1 index in EPSG:4326, and the reader's notes."""
    if not isinstance(frame, gpd.GeoDataFrame):
        raise ValueError(f"frame must be a GeoDataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise GisImportError(f"{what}: the layer has no features")
    notes = list(frame.attrs.get("import_warnings", []))
    frame = geom.to_wgs84(frame.reset_index(drop=True), what, warn_reproject=True)
    return frame, notes


def check_column(frame, name: str | None, arg: str) -> None:
    if name is not None and name not in frame.columns:
        cols = ", ".join(str(c) for c in frame.columns if c != frame.geometry.name)
        raise GisImportError(f"{arg}={name!r} is not a column of the layer; columns: {cols}")


def geometries(frame) -> np.ndarray:
    return np.asarray(frame.geometry.values, dtype=object)


def _strings(column: pd.Series) -> pd.Series:
    """Stripped strings, "" for missing; integral floats (a numeric column) without ".0"."""
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float)
        finite = np.isfinite(values)
        if (values[finite] == np.floor(values[finite])).all():
            column = column.astype("Int64")
    return column.astype("string").str.strip().fillna("")


def labeller(codes: list[str] | None):
    if codes is None:
        return lambda i: f"row {i + 1}"
    return lambda i: f"row {i + 1} (code {codes[i]!r})"


def layer_labeller(frame, filename: str):
    """Names rows as read, before the code column is chosen: with the value of a column named
    "code" when the layer has one (the usual name)."""
    column = next((c for c in frame.columns if str(c).lower() == "code"), None)
    if column is None:
        return lambda i: f"{filename}: row {i + 1}"
    values = _strings(frame[column])
    return lambda i: f"{filename}: row {i + 1} (code {values.iloc[i]!r})"


def codes(frame, code_field: str | None, max_len: int, *, slash: bool = True) -> list[str] | None:
    """Stripped codes, all present; area codes (``slash=False``) build paths, so no '/'."""
    if code_field is None:
        return None
    check_column(frame, code_field, "code_field")
    out = _strings(frame[code_field])
    empty = np.flatnonzero((out == "").to_numpy())
    if len(empty):
        raise GisImportError(f"row {empty[0] + 1}: empty code in column {code_field!r}")
    too_long = out.str.len() > max_len
    bad = np.flatnonzero((too_long if slash else too_long | out.str.contains("/")).to_numpy())
    if len(bad):
        i = int(bad[0])
        rule = f"at most {max_len} characters" + ("" if slash else " without '/'")
        raise GisImportError(f"row {i + 1} (code {out.iloc[i]!r}): a code must be {rule}")
    return out.tolist()


def ints(frame, name: str | None, label) -> list[int | None]:
    """Whole numbers >= 0 (units, floors); blank -> None."""
    if name is None:
        return [None] * len(frame)
    raw = _strings(frame[name])
    blank = (raw == "").to_numpy()
    num = pd.to_numeric(raw.where(~blank), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(num) & (num == np.floor(num)) & (num >= 0) & (num < MAX_INT)
    bad = np.flatnonzero(~blank & ~good)
    if len(bad):
        i = int(bad[0])
        raise GisImportError(
            f"{label(i)}: {name!r} must be a whole number >= 0, got {frame[name].iloc[i]!r}"
        )
    return [None if b else int(v) for b, v in zip(blank.tolist(), num.tolist(), strict=True)]


def texts(frame, name: str | None, label, max_len: int) -> list[str]:
    if name is None:
        return [""] * len(frame)
    out = _strings(frame[name])
    bad = np.flatnonzero((out.str.len() > max_len).to_numpy())
    if len(bad):
        raise GisImportError(f"{label(int(bad[0]))}: {name!r} is longer than {max_len} characters")
    return out.tolist()


def levels(frame, level_field: str | None, level: str | None, label) -> list[str]:
    if level is not None:
        return [level] * len(frame)
    if level_field is None or level_field not in frame.columns:
        raise GisImportError(
            f"no level: the layer has no column {level_field!r}; give level_field, or "
            "level='street' (or 'village', 'township') for the whole layer"
        )
    out = [v.lower() for v in texts(frame, level_field, label, 16)]
    for i, v in enumerate(out):
        if v not in AREA_LEVELS:
            value = frame[level_field].iloc[i]
            raise GisImportError(
                f"{label(i)}: level {value!r} is not one of {', '.join(AREA_LEVELS)}"
            )
    return out
