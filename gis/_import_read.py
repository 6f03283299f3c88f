"""Read one vector layer from uploaded bytes: GeoJSON, GeoPackage, zipped Shapefile, CSV.

GDAL formats are written to a private temporary directory under their proper extension and read
with pyogrio from there (GDAL warns about a GeoPackage read from memory without a ``.gpkg`` name,
and a Shapefile is several files anyway). CSV is parsed with pandas and shapely, so a bad WKT or
coordinate is reported with its row instead of silently becoming an empty geometry.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import warnings
import zipfile
from pathlib import PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import shapely
import shapely.errors

from gis._import_result import FORMATS, GisImportError
from gis._import_rings import from_wkb_without_degenerate

_GDAL_SUFFIX = {"GeoJSON": ".geojson", "GeoPackage": ".gpkg"}
_SHP_SIDECARS = (".shx", ".dbf", ".prj", ".cpg")
_WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "wkt_geom", "shape", "几何")
_LON_NAMES = ("lon", "lng", "long", "longitude", "经度")
_LAT_NAMES = ("lat", "latitude", "纬度")
_X_NAMES = ("x",)
_Y_NAMES = ("y",)
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.FeatureError,
    pyogrio.errors.CRSError,
)

# Zip members: at most this many entries, and no member may expand more than this many times
# (deflate tops out near 1,000x; real .dbf files with padded fields reach ~50x).
MAX_ZIP_MEMBERS = 1000
MAX_ZIP_RATIO = 200
_ZIP_RATIO_MIN_BYTES = 1 << 20  # small members may have any ratio
_CHUNK = 1 << 20


def _suffix(name: str) -> str:
    return PurePosixPath(name).suffix.lower()


def format_of(filename: str) -> str:
    fmt = FORMATS.get(_suffix(filename))
    if fmt is None:
        known = ", ".join(sorted(FORMATS))
        raise GisImportError(f"{filename}: unsupported file type; expected one of {known}")
    return fmt


# --- zip --------------------------------------------------------------------------------------


def _members(zf: zipfile.ZipFile, filename: str) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise GisImportError(
            f"{filename}: {len(infos)} entries in the zip (at most {MAX_ZIP_MEMBERS}); refusing it"
        )
    out = []
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir() or "__MACOSX" in path.parts or path.name.startswith("."):
            continue
        if (
            info.compress_size
            and info.file_size > _ZIP_RATIO_MIN_BYTES
            and (info.file_size / info.compress_size > MAX_ZIP_RATIO)
        ):
            raise GisImportError(
                f"{filename}: {info.filename} would expand "
                f"{info.file_size / info.compress_size:.0f} times (more than {MAX_ZIP_RATIO}); "
                "this looks like a zip bomb"
            )
        out.append(info)
    return out


def _extract(zf, info, dest: str, budget: list[int], filename: str) -> None:
    """Copy one member, counting the bytes really written (headers may lie about sizes)."""
    written = 0
    with zf.open(info) as src, open(dest, "wb") as out:
        while chunk := src.read(_CHUNK):
            written += len(chunk)
            budget[0] -= len(chunk)
            if budget[0] < 0:
                raise GisImportError(
                    f"{filename}: the zip expands beyond the size limit; this looks like a zip bomb"
                )
            if (
                info.compress_size
                and written > _ZIP_RATIO_MIN_BYTES
                and (written / info.compress_size > MAX_ZIP_RATIO)
            ):
                raise GisImportError(
                    f"{filename}: {info.filename} expands more than "
                    f"{MAX_ZIP_RATIO} times; this looks like a zip bomb"
                )
            out.write(chunk)


def _unzip(data: bytes, filename: str, tmp: str, layer: str | None, max_unzipped: int):
    """Extract the one layer the zip holds; return (path, format, layer) for the reader."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as err:
        raise GisImportError(f"{filename}: not a readable zip file ({err})") from err
    budget = [max_unzipped]
    with zf:
        infos = _members(zf, filename)
        by_path = {i.filename.replace("\\", "/").lower(): i for i in infos}
        shps = [i for i in infos if _suffix(i.filename) == ".shp"]
        if layer is not None and len(shps) > 1:
            shps = [i for i in shps if PurePosixPath(i.filename).stem == layer]
            layer = None  # the layer of a Shapefile is the file itself
        if len(shps) > 1:
            names = ", ".join(sorted(i.filename for i in shps))
            raise GisImportError(
                f"{filename}: several Shapefiles ({names}); "
                "choose one with layer=<name without .shp>"
            )
        if shps:
            shp = shps[0]
            stem = shp.filename.replace("\\", "/")[: -len(".shp")]
            for ext in (".shx", ".dbf"):
                if stem.lower() + ext not in by_path:
                    raise GisImportError(
                        f"{filename}: {shp.filename} has no {ext} file beside "
                        "it; zip the .shp, .shx, .dbf and .prj together"
                    )
            _extract(zf, shp, os.path.join(tmp, "layer.shp"), budget, filename)
            for ext in _SHP_SIDECARS:
                if (info := by_path.get(stem.lower() + ext)) is not None:
                    _extract(zf, info, os.path.join(tmp, "layer" + ext), budget, filename)
            return os.path.join(tmp, "layer.shp"), "Shapefile", layer
        others = [
            i for i in infos if FORMATS.get(_suffix(i.filename)) in ("GeoJSON", "GeoPackage", "CSV")
        ]
        if len(others) != 1:
            found = ", ".join(i.filename for i in infos[:10]) or "nothing"
            raise GisImportError(
                f"{filename}: expected one .shp (with .shx, .dbf, .prj) or one "
                f".gpkg/.geojson/.csv in the zip, found {found}"
            )
        inner = others[0]
        fmt = FORMATS[_suffix(inner.filename)]
        dest = os.path.join(tmp, "layer" + _suffix(inner.filename))
        _extract(zf, inner, dest, budget, filename)
        return dest, fmt, layer


# --- GDAL formats -----------------------------------------------------------------------------


def _clean_message(err: Exception, tmp: str, filename: str) -> str:
    return str(err).replace(tmp + os.sep, "").replace(tmp, "").replace("layer.", "")


def _choose_layer(path: str, filename: str, layer: str | None) -> str | None:
    layers = pyogrio.list_layers(path)
    names = [str(n) for n, _ in layers]
    spatial = [str(n) for n, g in layers if g is not None]
    if layer is not None:
        if layer not in names:
            raise GisImportError(f"{filename}: no layer {layer!r}; layers: {', '.join(names)}")
        return layer
    if len(spatial) > 1:
        raise GisImportError(
            f"{filename}: {len(spatial)} layers with geometry "
            f"({', '.join(spatial)}); choose one with layer="
        )
    return spatial[0] if spatial else (names[0] if names else None)


def _read_raw(path, filename, layer, encoding, notes, max_features=None) -> gpd.GeoDataFrame:
    """Slow path for WKB that shapely refuses: close an unclosed ring, leave out rings of fewer
    than four points; a geometry still unreadable is left empty, its reason in
    ``frame.attrs["unreadable"]`` (row index -> reason) for the import to refuse or skip."""
    meta, _, wkb, values = pyogrio.raw.read(path, layer=layer, encoding=encoding,
                                            max_features=max_features)
    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
    unreadable: dict[int, str] = {}
    for i in np.flatnonzero(shapely.is_missing(geoms) & (wkb != None)):  # noqa: E711
        i = int(i)
        try:
            geoms[i] = shapely.from_wkb(wkb[i], on_invalid="fix")
            reason = "unreadable geometry"
        except shapely.errors.GEOSException as err:
            geoms[i], reason = None, f"unreadable geometry ({err})"
        if geoms[i] is not None:
            notes.append(f"{filename}: row {i + 1}: ring closed")
            continue
        geoms[i], dropped = from_wkb_without_degenerate(wkb[i])
        if geoms[i] is None:
            unreadable[i] = reason
        else:
            notes.append(f"{filename}: row {i + 1}: left out {dropped} degenerate ring(s) "
                         "(fewer than four points)")
    table = pd.DataFrame(dict(zip(meta["fields"], values, strict=True)))
    frame = gpd.GeoDataFrame(table, geometry=geoms, crs=meta["crs"])
    frame.attrs["unreadable"] = unreadable
    return frame


def _read_once(path: str, filename: str, encoding: str | None, max_features: int,
               notes: list[str]) -> gpd.GeoDataFrame:
    try:
        frame = pyogrio.read_dataframe(path, encoding=encoding, max_features=max_features + 1)
    except shapely.errors.GEOSException:
        frame = _read_raw(path, filename, None, encoding, notes, max_features + 1)
    if len(frame) > max_features:
        raise GisImportError(
            f"{filename}: more than {max_features} features (at most {max_features})")
    return frame


def _read_gdal(
    path: str,
    fmt: str,
    filename: str,
    layer: str | None,
    encoding: str | None,
    max_features: int,
    tmp: str,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        try:
            if fmt == "GeoJSON" and layer is None:
                # One layer, and every open parses the whole text (a second per 10 MB and
                # ~20 times its size in memory): read once, at most one feature too many.
                frame = _read_once(path, filename, encoding, max_features, notes)
            else:
                layer = _choose_layer(path, filename, layer)
                info = pyogrio.read_info(path, layer=layer, encoding=encoding)
                if info["features"] > max_features:
                    raise GisImportError(
                        f"{filename}: {info['features']} features (at most {max_features})"
                    )
                try:
                    frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
                except shapely.errors.GEOSException:
                    frame = _read_raw(path, filename, layer, encoding, notes)
        except _PYOGRIO_ERRORS as err:
            msg = _clean_message(err, tmp, filename)
            raise GisImportError(f"{filename}: cannot be read as {fmt}: {msg}") from err
    for w in caught:
        if issubclass(w.category, RuntimeWarning):  # GDAL's own complaints: keep for the report
            note = f"{filename}: {_clean_message(w.message, tmp, filename)}"
            if note not in notes:
                notes.append(note)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise GisImportError(f"{filename}: the layer has no geometry column")
    return frame, notes


# --- CSV --------------------------------------------------------------------------------------


def _decode(data: bytes, filename: str, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as err:
            raise GisImportError(f"{filename}: cannot decode as {encoding}: {err}") from err
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:  # spreadsheets saved on Chinese Windows
            return data.decode("gb18030")
        except UnicodeDecodeError as err:
            raise GisImportError(f"{filename}: not UTF-8 or GB18030 text; give encoding=") from err


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.strip().lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read_csv(data: bytes, filename: str, encoding: str | None, max_features: int):
    """Return (frame, crs implied by the column names or None)."""
    text = _decode(data, filename, encoding)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        raise GisImportError(f"{filename}: cannot be read as CSV: {err}") from err
    if len(table) > max_features:
        raise GisImportError(f"{filename}: {len(table)} rows (at most {max_features})")
    columns = [str(c) for c in table.columns]
    if wkt := _pick(columns, _WKT_NAMES):
        values = table[wkt].str.strip().to_numpy(dtype=object)
        geoms = shapely.from_wkt(np.where(values == "", None, values), on_invalid="ignore")
        bad = np.flatnonzero((values != "") & shapely.is_missing(geoms))
        if len(bad):
            i = int(bad[0])
            raise GisImportError(
                f"{filename}: row {i + 1} (line {i + 2}): column {wkt!r} is not valid WKT: "
                f"{values[i][:60]!r}",
                [{"row": int(j) + 1, "reason": f"not valid WKT in column {wkt!r}"} for j in bad],
            )
        return gpd.GeoDataFrame(table.drop(columns=[wkt]), geometry=geoms), None
    lon, lat, crs = _pick(columns, _LON_NAMES), _pick(columns, _LAT_NAMES), 4326
    if lon is None or lat is None:
        lon, lat, crs = _pick(columns, _X_NAMES), _pick(columns, _Y_NAMES), None
    if lon is None or lat is None:
        raise GisImportError(
            f"{filename}: no geometry column: expected a WKT column ({', '.join(_WKT_NAMES)}) "
            f"or lon/lat columns ({'/'.join(_LON_NAMES)} and {'/'.join(_LAT_NAMES)}, or x and "
            f"y); columns are {', '.join(columns)}"
        )
    xy = []
    for col in (lon, lat):
        raw = table[col].str.strip()
        num = pd.to_numeric(raw.where(raw != ""), errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero((raw != "").to_numpy() & ~np.isfinite(num))
        if len(bad):
            i = int(bad[0])
            raise GisImportError(
                f"{filename}: row {i + 1} (line {i + 2}): column {col!r} is "
                f"not a number: {raw.iloc[i][:30]!r}"
            )
        xy.append(num)
    geoms = shapely.points(xy[0], xy[1])
    geoms[np.isnan(xy[0]) | np.isnan(xy[1])] = None
    return gpd.GeoDataFrame(table.drop(columns=[lon, lat]), geometry=geoms), crs


# --- entry point ------------------------------------------------------------------------------


def read_bytes(
    data: bytes, filename: str, *, layer, encoding, max_bytes, max_unzipped_bytes, max_features
):
    """Return (frame possibly without CRS, CRS implied by the format or None, notes)."""
    fmt = format_of(filename)
    if len(data) > max_bytes:
        raise GisImportError(
            f"{filename}: {len(data)} bytes is more than the limit of {max_bytes} bytes"
        )
    if not data:
        raise GisImportError(f"{filename}: the file is empty")
    if fmt == "CSV":
        frame, crs = _read_csv(data, filename, encoding, max_features)
        return frame, crs, []
    tmp = tempfile.mkdtemp(prefix="doorstep-import-")
    try:
        if fmt == "zip":
            path, fmt, layer = _unzip(data, filename, tmp, layer, max_unzipped_bytes)
            if fmt == "CSV":
                with open(path, "rb") as fh:
                    frame, crs = _read_csv(fh.read(), filename, encoding, max_features)
                return frame, crs, []
        else:
            path = os.path.join(tmp, "layer" + _GDAL_SUFFIX[fmt])
            with open(path, "wb") as fh:
                fh.write(data)
        frame, notes = _read_gdal(path, fmt, filename, layer, encoding, max_features, tmp)
        return frame, None, notes
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
