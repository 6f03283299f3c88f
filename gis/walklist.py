"""Walking order for a list of buildings: a short route through their doors (no Flask).

Nearest neighbour from the building nearest the start (default: the westmost), then 2-opt
improvement on planar metres; a few hundred buildings per street take milliseconds.
"""

from __future__ import annotations

import math

import numpy as np

_M_PER_DEG = 111_320.0


def route_order(
    lon: np.ndarray,
    lat: np.ndarray,
    start: tuple[float, float] | None = None,
    max_rounds: int = 50,
) -> np.ndarray:
    """Indices of the points in walking order."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    n = len(lon)
    if n <= 2:
        return np.arange(n)
    k = math.cos(math.radians(float(np.mean(lat))))
    xy = np.column_stack((lon * _M_PER_DEG * k, lat * _M_PER_DEG))
    if start is None:
        first = int(np.lexsort((xy[:, 1], xy[:, 0]))[0])
    else:
        s = np.array([start[0] * _M_PER_DEG * k, start[1] * _M_PER_DEG])
        first = int(np.argmin(np.hypot(*(xy - s).T)))
    order = [first]
    left = np.ones(n, bool)
    left[first] = False
    for _ in range(n - 1):
        d = np.hypot(*(xy - xy[order[-1]]).T)
        d[~left] = np.inf
        nxt = int(np.argmin(d))
        order.append(nxt)
        left[nxt] = False
    route = np.array(order)
    return _two_opt(xy, route, max_rounds)


def _two_opt(xy: np.ndarray, route: np.ndarray, max_rounds: int) -> np.ndarray:
    """Reverse segments while that shortens the open path (first point fixed)."""
    n = len(route)
    for _ in range(max_rounds):
        improved = False
        p = xy[route]
        for i in range(1, n - 1):
            a, b = p[i - 1], p[i]
            c, d = p[i + 1 :], np.vstack((p[i + 2 :], [[np.nan, np.nan]]))
            before = np.hypot(*(a - b)) + np.nan_to_num(np.hypot(*(c - d).T), nan=0.0)
            after = np.hypot(*(a - c).T) + np.nan_to_num(np.hypot(*(b - d).T), nan=0.0)
            gain = before - after
            j = int(np.argmax(gain))
            if gain[j] > 1e-6:
                route[i : i + j + 2] = route[i : i + j + 2][::-1]
                improved = True
                p = xy[route]
        if not improved:
            break
    return route
