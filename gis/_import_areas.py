"""The area half of an import: duplicates, the parent tree and materialised paths."""

from __future__ import annotations

import numpy as np
import shapely

from gis import _import_geom as geom
from gis._import_result import AREA_LEVELS, GisImportError, ImportResult, rows_to_keep

_OVERLAP_NOTE = 0.01  # siblings sharing more than 1% of the smaller one's area are reported


def prepare(
    frame,
    codes,
    shapes,
    label,
    repaired,
    notes,
    *,
    names,
    names_en,
    levels,
    parents,
    known_paths,
    skip_duplicates,
    iou_threshold,
):
    n = len(codes)
    duplicates = _duplicates(codes, shapes, levels, known_paths, iou_threshold)
    keep = rows_to_keep(duplicates, n, skip_duplicates, label)
    row_of = {codes[i]: i for i in range(n) if keep[i]}

    for i in np.flatnonzero(keep):
        depth = AREA_LEVELS.index(levels[i])
        parent = parents[i] or None
        if depth == 0:
            if parent:
                raise GisImportError(f"{label(i)}: a township has no parent, got {parent!r}")
            continue
        if parent is None:
            raise GisImportError(
                f"{label(i)}: a {levels[i]} needs a parent {AREA_LEVELS[depth - 1]}"
            )
        if parent in row_of:
            parent_level = levels[row_of[parent]]
        elif parent in known_paths:
            parent_level = AREA_LEVELS[min(known_paths[parent].count("/"), 2)]
        else:
            raise GisImportError(
                f"{label(i)}: parent {parent!r} is neither in the layer nor an existing area"
            )
        if parent_level != AREA_LEVELS[depth - 1]:
            raise GisImportError(
                f"{label(i)}: the parent of a {levels[i]} must be a "
                f"{AREA_LEVELS[depth - 1]}; {parent!r} is a {parent_level}"
            )

    order = sorted(np.flatnonzero(keep), key=lambda i: (AREA_LEVELS.index(levels[i]), i))
    paths = dict(known_paths)
    outside: list[dict] = []
    for i in order:
        parent = parents[i] or None
        paths[codes[i]] = f"{paths[parent]}/{codes[i]}" if parent else codes[i]
        if parent in row_of:
            p = shapes[row_of[parent]]
            if not shapely.covers(p, shapely.point_on_surface(shapes[i])):
                outside.append({"row": int(i) + 1, "code": codes[i], "parent": parent})
    unnamed = [codes[i] for i in order if not names[i]]
    if unnamed:
        notes.append(
            f"{len(unnamed)} area(s) without a name use their code: {', '.join(unnamed[:10])}"
        )
    if outside:
        notes.append(f"{len(outside)} area(s) lie outside their parent's boundary")
    notes += _overlaps(codes, shapes, levels, parents, keep)
    wkb = shapely.to_wkb(shapes)
    records = [
        {
            "code": codes[i],
            "name_zh": names[i] or codes[i],
            "name_en": names_en[i],
            "level": levels[i],
            "parent_code": parents[i] or None,
            "path": paths[codes[i]],
            "boundary": wkb[i],
        }
        for i in order
    ]
    return ImportResult(records, repaired, duplicates, outside, notes)


def _duplicates(codes, shapes, levels, known_paths, threshold) -> list[dict]:
    found: dict[int, dict] = {}
    first: dict[str, int] = {}
    for i, c in enumerate(codes):
        if c in known_paths:
            found[i] = {
                "row": i + 1,
                "code": c,
                "kind": "existing",
                "reason": f"code {c!r} is already in use",
            }
        elif c in first:
            found[i] = {
                "row": i + 1,
                "code": c,
                "kind": "code",
                "of_row": first[c] + 1,
                "reason": f"same code as row {first[c] + 1}",
            }
        else:
            first[c] = i
    for j, i, _kind, iou in geom.footprint_duplicates(shapes, threshold):
        if levels[i] == levels[j]:
            found.setdefault(
                i,
                {
                    "row": i + 1,
                    "code": codes[i],
                    "kind": "footprint",
                    "of_row": j + 1,
                    "iou": iou,
                    "reason": f"boundary overlaps row {j + 1}'s by IoU {iou:.2f}",
                },
            )
    return [found[i] for i in sorted(found)]


def _overlaps(codes, shapes, levels, parents, keep) -> list[str]:
    """Siblings that overlap: a building there would be claimed by two streets."""
    idx = np.flatnonzero(keep)
    tree = shapely.STRtree(shapes[idx])
    a, b = tree.query(shapes[idx], predicate="overlaps")
    out = []
    for i, j in zip(idx[a], idx[b], strict=True):
        if i < j and levels[i] == levels[j] and parents[i] == parents[j]:
            inter = shapely.intersection(shapes[i], shapes[j]).area
            if inter > _OVERLAP_NOTE * min(shapes[i].area, shapes[j].area):
                out.append(f"{levels[i]}s {codes[i]!r} and {codes[j]!r} overlap")
    return out
