"""Entity lists as the CSV form media ODK clients read (`jr://file-csv/<list>.csv`).

Column order follows ODK Central: name (the entity UUID), label, __version, then the
list's properties. Pure: the server selects rows (e.g. a coordinator's streets).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RESERVED = {"name", "label"}


@dataclass(frozen=True, slots=True)
class EntityRow:
    uuid: str
    label: str
    version: int = 1
    properties: Mapping[str, str | int | float | None] = field(default_factory=dict)


def _check_properties(properties: Sequence[str]) -> None:
    for p in properties:
        if p.lower() in RESERVED or p.startswith("__") or not p:
            raise ValueError(f"invalid entity property name {p!r}")
    if len(set(properties)) != len(properties):
        raise ValueError("duplicate entity property names")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render_entity_csv(
    rows: Iterable[EntityRow | Mapping[str, object]], properties: Sequence[str]
) -> str:
    """Render rows as CSV text; a property missing from a row is an empty cell.

    Rows may be EntityRow or mappings with keys uuid, label, version, properties.
    """
    _check_properties(properties)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "label", "__version", *properties])
    for row in rows:
        if isinstance(row, Mapping):
            row = EntityRow(
                uuid=str(row["uuid"]),
                label=str(row.get("label") or ""),
                version=int(row.get("version") or 1),  # type: ignore[call-overload]
                properties=row.get("properties") or {},  # type: ignore[arg-type]
            )
        values = [_cell(row.properties.get(p)) for p in properties]
        writer.writerow([row.uuid, row.label, str(row.version), *values])
    return buf.getvalue()


def properties_of(declarations: Iterable[Mapping[str, object]], dataset: str) -> list[str]:
    """All save_to property names any form declares for a list, in first-seen order.

    `declarations` are ConvertedForm.entities dicts from one or more forms.
    """
    seen: dict[str, None] = {}
    for decl in declarations:
        if decl.get("dataset") == dataset:
            for prop in decl.get("properties", {}):  # type: ignore[union-attr]
                if prop != "geometry":
                    seen.setdefault(prop, None)
    return list(seen)
