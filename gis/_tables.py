"""Columnar inputs of the coverage engine: buildings and visits, from arrays, records or frames.

Columns are numpy arrays so a million rows cost milliseconds, not Python loops.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import shapely

OUTCOMES = ("done", "nobody_home", "refused", "vacant", "not_rented", "demolished")


@dataclass(frozen=True, slots=True)
class Visit:
    """One geotagged visit (a processed submission); lon/lat in WGS 84."""

    id: Hashable
    building_id: Hashable | None
    lon: float | None
    lat: float | None
    accuracy_m: float | None
    outcome: str
    units: int = 0
    coordinator: str | None = None
    time: Any = None
    round: Hashable | None = None


def _check_crs(frame: Any, what: str) -> None:
    crs = getattr(frame, "crs", None)
    if crs is not None and crs.to_epsg() != 4326:
        warnings.warn(
            f"{what}: CRS is {crs.to_string()!r}, not EPSG:4326; reprojecting to EPSG:4326",
            UserWarning,
            stacklevel=3,
        )


def _geometries(values: Any, name: str) -> np.ndarray:
    """Shapely geometries from shapely objects or WKB bytes / hex strings."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if len(arr) and isinstance(arr[0], (bytes, bytearray, memoryview, str)):
        try:
            arr = shapely.from_wkb(arr)
        except Exception as exc:  # GEOSException and friends
            raise ValueError(f"{name}: not valid WKB ({exc})") from None
    if not shapely.is_geometry(arr).all():
        bad = int(np.flatnonzero(~shapely.is_geometry(arr))[0])
        raise ValueError(f"{name}[{bad}] is not a geometry: {arr[bad]!r}")
    return arr


@dataclass(slots=True)
class Buildings:
    """Building table: id, footprint (WGS 84 lon/lat), expected units, street code."""

    ids: np.ndarray
    footprints: np.ndarray
    expected_units: np.ndarray
    streets: np.ndarray

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[Hashable],
        footprints: Sequence[Any],
        expected_units: Sequence[int] | None = None,
        streets: Sequence[str | None] | None = None,
    ) -> Buildings:
        ids_a = np.asarray(ids)
        if ids_a.ndim != 1 or ids_a.dtype.kind not in "iuUO":
            raise ValueError(f"ids must be a 1-d array of ints or strings, got {ids_a.dtype}")
        n = len(ids_a)
        fp = _geometries(footprints, "footprints")
        if len(fp) != n:
            raise ValueError(f"footprints has {len(fp)} rows, ids has {n}")
        if len(np.unique(ids_a)) != n:
            raise ValueError("ids must be unique")
        exp = np.zeros(n, np.int64) if expected_units is None else np.asarray(expected_units)
        if exp.shape != (n,):
            raise ValueError(f"expected_units has shape {exp.shape}, expected ({n},)")
        exp = np.nan_to_num(exp.astype(float), nan=0.0).astype(np.int64)
        if (exp < 0).any():
            raise ValueError("expected_units must be >= 0")
        st = np.full(n, None, object) if streets is None else np.asarray(streets, dtype=object)
        if st.shape != (n,):
            raise ValueError(f"streets has shape {st.shape}, expected ({n},)")
        return cls(ids_a, fp, exp, st)

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        id_col: str = "id",
        geometry_col: str | None = None,
        units_col: str = "expected_units",
        street_col: str = "street",
    ) -> Buildings:
        """From a (Geo)DataFrame; a GeoDataFrame not in EPSG:4326 is reprojected with a warning."""
        _check_crs(frame, "buildings")
        if getattr(frame, "crs", None) is not None and frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        gcol = geometry_col or getattr(frame, "_geometry_column_name", None) or "footprint"
        for col in (id_col, gcol):
            if col not in frame.columns:
                raise ValueError(f"buildings frame has no column {col!r}")
        return cls.from_arrays(
            frame[id_col].to_numpy(),
            np.asarray(frame[gcol].array, dtype=object),
            frame[units_col].to_numpy() if units_col in frame.columns else None,
            frame[street_col].to_numpy(dtype=object) if street_col in frame.columns else None,
        )


def _attrs(obj: Any) -> dict:
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: getattr(obj, f.name) for f in fields(obj)}
    return dict(vars(obj))


def _floats(values: Any, n: int, name: str) -> np.ndarray:
    if values is None:
        return np.full(n, np.nan)
    arr = np.asarray(values, dtype=object if not isinstance(values, np.ndarray) else None)
    if arr.dtype == object:
        arr = np.array([np.nan if v is None else v for v in arr], dtype=float)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
    return arr


@dataclass(slots=True)
class Visits:
    """Visit table; ``building_ids`` is typed, meaningful only where ``has_building``."""

    ids: np.ndarray
    building_ids: np.ndarray
    has_building: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    accuracy_m: np.ndarray
    outcome: np.ndarray  # int codes into OUTCOMES
    units: np.ndarray
    coordinator: np.ndarray
    time: np.ndarray
    round: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[Hashable],
        building_ids: Sequence[Hashable | None],
        lon: Sequence[float | None],
        lat: Sequence[float | None],
        accuracy_m: Sequence[float | None] | None,
        outcome: Sequence[str],
        units: Sequence[int | None] | None = None,
        coordinator: Sequence[str | None] | None = None,
        time: Sequence[Any] | None = None,
        round: Sequence[Hashable | None] | None = None,
    ) -> Visits:
        ids_a = np.asarray(ids)
        n = len(ids_a)
        bids, has = _building_ids(building_ids, n)
        out = np.asarray(outcome)
        codes = np.full(n, -1, np.int8)
        for k, name in enumerate(OUTCOMES):
            codes[out == name] = k
        if (codes < 0).any():
            bad = int(np.flatnonzero(codes < 0)[0])
            raise ValueError(
                f"outcome of visit {py(ids_a[bad])!r} is {py(out[bad])!r}; "
                f"expected one of {OUTCOMES}"
            )
        u = np.nan_to_num(_floats(units, n, "units"), nan=0.0).astype(np.int64)
        if (u < 0).any():
            raise ValueError(f"units of visit {py(ids_a[int(np.flatnonzero(u < 0)[0])])!r} is < 0")

        def col(values: Any, name: str) -> np.ndarray:
            arr = np.full(n, None, object) if values is None else np.asarray(values, object)
            if arr.shape != (n,):
                raise ValueError(f"{name} has shape {arr.shape}, expected ({n},)")
            return arr

        return cls(
            ids_a, bids, has, _floats(lon, n, "lon"), _floats(lat, n, "lat"),
            _floats(accuracy_m, n, "accuracy_m"), codes, u,
            col(coordinator, "coordinator"), col(time, "time"), col(round, "round"),
        )  # fmt: skip

    @classmethod
    def from_records(cls, records: Iterable[Visit | dict]) -> Visits:
        rows = [r if isinstance(r, dict) else _attrs(r) for r in records]
        names = [f.name for f in fields(Visit)]
        cols = {k: [r.get(k) for r in rows] for k in names}
        cols["units"] = [r.get("units") or 0 for r in rows]
        return cls.from_arrays(
            cols["id"], cols["building_id"], cols["lon"], cols["lat"], cols["accuracy_m"],
            cols["outcome"], cols["units"], cols["coordinator"], cols["time"], cols["round"],
        )  # fmt: skip


def _building_ids(values: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Typed chosen building ids and a mask; None (object arrays) or NaN (floats) mean none."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if arr.shape != (n,):
        raise ValueError(f"building_ids has shape {arr.shape}, expected ({n},)")
    if arr.dtype.kind == "f":
        has = ~np.isnan(arr)
        return np.where(has, arr, 0).astype(np.int64), has
    if arr.dtype.kind != "O":
        return arr, np.ones(n, bool)
    has = np.array([not _isna(v) for v in arr.tolist()], dtype=bool)
    chosen = arr[has]
    kinds = {type(v) for v in chosen.tolist()}
    if kinds and all(issubclass(k, (int, np.integer)) for k in kinds):
        typed = np.zeros(n, np.int64)
        typed[has] = chosen.astype(np.int64)
    elif kinds and all(issubclass(k, str) for k in kinds):
        typed = np.full(n, "", dtype=np.asarray(chosen.tolist()).dtype)
        typed[has] = chosen.astype(typed.dtype)
    elif kinds:
        raise ValueError(
            f"building_ids must be all ints or all strings, got {sorted(map(str, kinds))}"
        )
    else:
        typed = np.zeros(n, np.int64)
    return typed, has


def py(v: Any) -> Any:
    """A numpy scalar as the plain Python value (for messages and public results)."""
    return v.item() if isinstance(v, np.generic) else v


def _isna(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))
