"""The coverage map's vector tiles encoded with numpy: one layer of points or polygons.

``mapbox_vector_tile.encode`` spends tens of microseconds per feature (a shapely object per
point read from WKT, a winding check, protobuf calls per tag): at a million buildings most of a
cold tile's time. Here the geometry commands, the tags, the keys and values tables and the
protobuf framing are built as arrays for the whole layer at once. The bytes are those
``mapbox_vector_tile.encode(..., default_options={"extents": 4096, "y_coord_down": True})``
gives for the same features (tests/gis/test_mvt.py compares them): coordinates rounded half to
even, polygons oriented by GEOS (exterior counter-clockwise in tile coordinates, y down),
repeated points and rings without a line dropped, keys and values numbered in order of first
use, a feature without geometry left out with its tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

EXTENT = 4096
POINT, POLYGON = 1, 3
_STR = np.int64(1) << np.int64(62)  # value tokens at and above: strings (ints stay below)
_POLYGONAL = (3, 6)  # shapely type ids of Polygon and MultiPolygon

#: A column of properties: (key, values, present or None for every feature). Values are ints
#: (an integer array) or strings (a list or object/str array); a feature's tags follow the
#: columns' order, as the properties' order of a dict would.
Column = tuple[str, "np.ndarray | Sequence", "np.ndarray | None"]


def _varints(a: np.ndarray, tag: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of unsigned values (each after one `tag` byte if given): the bytes one
    after another and the length of each."""
    a = np.asarray(a).astype(np.uint64, copy=False)
    n = np.ones(len(a), np.int64)
    for k in range(7, 64, 7):
        n += a >= np.uint64(1 << k)
    lens = n + (tag is not None)
    total = int(lens.sum())
    start = np.cumsum(lens) - lens
    j = np.arange(total, dtype=np.int64) - np.repeat(start, lens)
    v = np.repeat(a, lens)
    if tag is not None:
        j -= 1
    out = ((v >> (7 * np.maximum(j, 0)).astype(np.uint64)) & np.uint64(0x7F)).astype(np.uint8)
    out[j < np.repeat(n - 1, lens)] |= 0x80
    if tag is not None:
        out[j < 0] = tag
    return out, lens


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1  # int64 negatives: ten bytes, as protobuf writes them
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _zigzag(d: np.ndarray) -> np.ndarray:
    return (d << 1) ^ (d >> 31)


def _sums(lens: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Sums of `lens` over the runs [off[i], off[i+1])."""
    run = np.concatenate([[0], np.cumsum(lens, dtype=np.int64)])
    return run[off[1:]] - run[off[:-1]]


def point_commands(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(commands, offsets per feature) of one point per feature at integer tile coordinates."""
    n = len(x)
    cmds = np.empty((n, 3), np.int64)
    cmds[:, 0] = 9  # MoveTo, 1
    cmds[:, 1] = _zigzag(np.asarray(x, np.int64))
    cmds[:, 2] = _zigzag(np.asarray(y, np.int64))
    return cmds.ravel(), np.arange(0, 3 * n + 1, 3, dtype=np.int64)


def polygon_commands(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(commands, offsets per feature) of polygons and multipolygons in tile coordinates;
    None if any geometry is of another kind (the caller falls back to mapbox_vector_tile)."""
    n = len(geoms)
    if not n:
        return np.zeros(0, np.int64), np.zeros(1, np.int64)
    if not np.isin(shapely.get_type_id(geoms), _POLYGONAL).all():
        return None
    geoms = shapely.orient_polygons(shapely.transform(geoms, np.rint), exterior_cw=False)
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    if kind == shapely.GeometryType.POLYGON:
        ring_off, poly_rings = offsets
        geom_polys = np.arange(n + 1, dtype=np.int64)
    else:
        ring_off, poly_rings, geom_polys = offsets
    ring_off, poly_rings, geom_polys = (np.asarray(o, np.int64)
                                        for o in (ring_off, poly_rings, geom_polys))
    xy = coords.astype(np.int64)
    rings = len(ring_off) - 1
    ring_of = np.repeat(np.arange(rings), np.diff(ring_off))  # ring of every coordinate
    first = np.zeros(len(xy), bool)
    first[ring_off[:-1]] = True
    last = np.zeros(len(xy), bool)
    last[ring_off[1:] - 1] = True  # the closing point: omitted
    same = np.zeros(len(xy), bool)
    same[1:] = (xy[1:] == xy[:-1]).all(axis=1)
    kept = ~first & ~last & ~same  # LineTo points: not a repeat of the one before
    pairs = np.bincount(ring_of[kept], minlength=rings)
    poly_of_ring = np.repeat(np.arange(len(poly_rings) - 1), np.diff(poly_rings))
    exterior_ok = pairs[poly_rings[:-1]] > 0  # a polygon whose exterior has no line: dropped
    alive = (pairs > 0) & exterior_ok[poly_of_ring]
    geom_of_ring = np.repeat(np.arange(n), np.diff(geom_polys))[poly_of_ring]
    emit = (first | kept) & alive[ring_of]
    pts, ring_pt = xy[emit], ring_of[emit]
    geom_pt = geom_of_ring[ring_pt]
    prev = np.zeros_like(pts)
    prev[1:] = pts[:-1]
    prev[np.flatnonzero(np.diff(geom_pt, prepend=-1))] = 0  # each feature starts at (0, 0)
    delta = _zigzag(pts - prev)
    ring_len = np.where(alive, 2 * pairs + 5, 0)  # MoveTo, x, y, LineTo, pairs…, ClosePath
    ring_start = np.cumsum(ring_len) - ring_len
    cmds = np.empty(int(ring_len.sum()), np.int64)
    live = np.flatnonzero(alive)
    cmds[ring_start[live]] = 9
    cmds[ring_start[live] + 3] = (pairs[live] << 3) | 2
    cmds[ring_start[live] + ring_len[live] - 1] = 15
    is_first = first[emit]
    k = np.arange(len(pts)) - np.flatnonzero(is_first)[np.cumsum(is_first) - 1]
    at = ring_start[ring_pt] + np.where(k == 0, 1, 2 * k + 2)
    cmds[at] = delta[:, 0]
    cmds[at + 1] = delta[:, 1]
    per_geom = np.bincount(geom_of_ring, weights=ring_len, minlength=n).astype(np.int64)
    return cmds, np.concatenate([[0], np.cumsum(per_geom)])


def _numbered(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each element's number in the order its value is first used, and the distinct values in
    that order (a stable sort; np.unique would load numpy.ma on a process's first tile)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    new = np.ones(len(a), bool)
    new[1:] = s[1:] != s[:-1]
    by_use = np.argsort(order[new], kind="stable")  # first use of each distinct value
    rank = np.empty(len(by_use), np.int64)
    rank[by_use] = np.arange(len(by_use))
    number = np.empty(len(a), np.int64)
    number[order] = rank[np.cumsum(new) - 1]
    return number, s[new][by_use]


def _tags(columns: Sequence[Column], n: int) -> tuple[np.ndarray, np.ndarray, bytes, bytes]:
    """(tags of every feature, offsets per feature, keys table, values table)."""
    if not columns or not n:
        return np.zeros(0, np.int64), np.zeros(n + 1, np.int64), b"", b""
    c = len(columns)
    tokens = np.empty((n, c), np.int64)
    present = np.ones((n, c), bool)
    text = [j for j, (_, v, _) in enumerate(columns) if not _is_int(v)]
    table = np.zeros(0, str)
    if text:  # strings become tokens from _STR up, one per distinct string
        words = np.concatenate([np.asarray(columns[j][1], object).astype(str) for j in text])
        number, table = _numbered(words)
        tokens[:, text] = _STR + number.reshape(len(text), n).T
    for j, (_, values, mask) in enumerate(columns):
        if _is_int(values):
            v = np.asarray(values, np.int64)
            if len(v) and (v.min() < -_STR or v.max() >= _STR):
                raise OverflowError("property value out of range")
            tokens[:, j] = v
        if mask is not None:
            present[:, j] = mask
    key_of = np.broadcast_to(np.arange(c), (n, c))[present]
    flat = tokens[present]
    key_number, key_order = _numbered(key_of)
    value_number, distinct = _numbered(flat)
    tags = np.empty(2 * len(flat), np.int64)
    tags[0::2] = key_number
    tags[1::2] = value_number
    off = np.concatenate([[0], np.cumsum(2 * present.sum(axis=1))])
    keys = b"".join(b"\x1a" + _varint(len(k)) + k
                    for k in (columns[j][0].encode() for j in key_order.tolist()))
    return tags, off, keys, _values(distinct, table)


def _values(tokens: np.ndarray, table: np.ndarray) -> bytes:
    """The layer's values table: each token a value message (int_value, or string_value of
    table[token - _STR]), built for all of them at once."""
    is_str = tokens >= _STR
    raw = [s.encode() for s in table[tokens[is_str] - _STR].tolist()]
    slen = np.zeros(len(tokens), np.int64)
    slen[is_str] = np.fromiter(map(len, raw), np.int64, len(raw))
    ints, int_len = _varints(np.where(is_str, 0, tokens), tag=0x20)
    heads, head_len = _varints(slen, tag=0x0A)
    body = np.where(is_str, head_len + slen, int_len)
    outer, outer_len = _varints(body, tag=0x22)
    text = np.frombuffer(b"".join(raw), np.uint8)
    return _gather([(outer, _runs(outer_len), outer_len),
                    (ints, _runs(int_len), np.where(is_str, 0, int_len)),
                    (heads, _runs(head_len), np.where(is_str, head_len, 0)),
                    (text, _runs(slen), slen)]).tobytes()


def _is_int(values) -> bool:
    return isinstance(values, np.ndarray) and values.dtype.kind in "iu"


def _gather(pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Concatenate per feature: pieces are (bytes, start of each feature's part, its length),
    taken in this order for every feature in turn."""
    buf = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.uint8)
    base = np.cumsum([0] + [len(p[0]) for p in pieces[:-1]])
    starts = np.column_stack([b + p[1] for b, p in zip(base, pieces, strict=True)]).ravel()
    lens = np.column_stack([p[2] for p in pieces]).ravel()
    out_start = np.cumsum(lens) - lens
    idx = np.repeat(starts - out_start, lens) + np.arange(int(lens.sum()), dtype=np.int64)
    return buf[idx]


def _runs(lens: np.ndarray) -> np.ndarray:
    return np.cumsum(lens) - lens


def encode(
    name: str, kind: int, cmds: np.ndarray, offsets: np.ndarray,
    columns: Sequence[Column] = (), ids: np.ndarray | None = None, extent: int = EXTENT,
) -> bytes:
    """One tile of one layer: features of `kind` (POINT, POLYGON) whose commands are
    cmds[offsets[i]:offsets[i + 1]], with properties `columns` and feature `ids` (optional).
    Features without commands are left out (none left: a layer without features); no
    features at all: b""."""
    n = len(offsets) - 1
    if not n:
        return b""
    glen = np.diff(offsets)
    keep = glen > 0
    if not keep.all():
        columns = [(k, _take(v, keep), None if m is None else np.asarray(m)[keep])
                   for k, v, m in columns]
        ids = None if ids is None else np.asarray(ids)[keep]
        cmds = cmds[np.repeat(keep, glen)]
        glen = glen[keep]
        n = int(keep.sum())
    gbytes, gl = _varints(cmds)
    g_off = np.concatenate([[0], np.cumsum(glen)])
    g_len = _sums(gl, g_off)
    tags, t_off, keys, values = _tags(columns, n)
    tbytes, tl = _varints(tags)
    t_len = _sums(tl, t_off)
    pieces = []
    if ids is not None:
        b, ln = _varints(np.asarray(ids, np.int64), tag=0x08)
        pieces.append((b, _runs(ln), ln))
    has_tags = t_len > 0
    b, ln = _varints(t_len, tag=0x12)
    pieces.append((b, _runs(ln), np.where(has_tags, ln, 0)))  # no tags: no field
    pieces.append((tbytes, _runs(t_len), t_len))
    tb = np.tile(np.array([0x18, kind], np.uint8), n)
    pieces.append((tb, np.arange(0, 2 * n, 2), np.full(n, 2)))
    b, ln = _varints(g_len, tag=0x22)
    pieces.append((b, _runs(ln), ln))
    pieces.append((gbytes, _runs(g_len), g_len))
    f_len = sum(p[2] for p in pieces)
    b, ln = _varints(f_len, tag=0x12)
    pieces.insert(0, (b, _runs(ln), ln))
    features = _gather(pieces).tobytes()
    label = name.encode()
    layer = (b"\x0a" + _varint(len(label)) + label + features + keys + values
             + b"\x28" + _varint(extent) + b"\x78\x02")
    return b"\x1a" + _varint(len(layer)) + layer


def _take(values, keep: np.ndarray):
    if isinstance(values, np.ndarray):
        return values[keep]
    return [v for v, k in zip(values, keep.tolist(), strict=True) if k]
