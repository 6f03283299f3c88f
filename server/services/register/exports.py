"""The register as tables: persons, households, buildings and rented units, for exports (CSV,
XLSX) and the OData feed (server.services.odata).

Each row is an entity as its reader may see it: in their areas (server.services.scope), ID and
phone numbers masked unless server.services.privacy lets them see them. Every export is
audited, masked or not, with what it held.

Rented units (`rentals`) are the rental-housing register's units
(server.services.rentals.exports): one row per unit with its landlord, occupancy, contract and
the rules it breaks.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.models import Area, Entity, User
from server.services import audit, privacy, scope, spreadsheets
from server.services.errors import ServiceError
from server.services.forms.entity_lists import declared_properties
from server.services.rentals import exports as rental_exports

#: What may be exported, and the entity list each reads.
DATASETS = {"persons": "persons", "households": "households", "buildings": "buildings",
            "rentals": "households"}
#: Columns every row starts with (the record's own facts, not a form's properties).
SYSTEM_COLUMNS = ["__id", "label", "__street", "__version", "__updated_at", "__conflict"]
REGISTER_TYPES = {"__version": "Edm.Int64", "__updated_at": "Edm.DateTimeOffset"}
#: The rental-housing register's units (not an entity list's records).
RENTALS = "rentals"
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class RegisterExportError(ServiceError):
    """An export of a list or format that does not exist."""

    code = "register_export"
    status = 404


def _check(dataset: str) -> str:
    if dataset not in DATASETS:
        raise RegisterExportError("no register list {name!r}: choose one of {choices}",
                                  name=dataset, choices=", ".join(DATASETS))
    return DATASETS[dataset]


def property_columns(dataset: str) -> list[str]:
    """The form properties of a list, in the order forms declare them."""
    return declared_properties(_check(dataset))


def columns(dataset: str) -> list[str]:
    """Every column of a list's rows, in order."""
    _check(dataset)
    if dataset == RENTALS:
        return list(rental_exports.COLUMNS)
    return SYSTEM_COLUMNS + property_columns(dataset)


def column_type(dataset: str, name: str) -> str | None:
    """A column's OData type when it is not text (None: Edm.String)."""
    types = rental_exports.TYPES if dataset == RENTALS else REGISTER_TYPES
    return types.get(name)


def query(dataset: str, user: User | None) -> sa.Select:
    """(record, street code) rows of a list that the user may see, oldest first."""
    source = _check(dataset)
    if dataset == RENTALS:
        return rental_exports.query(user)
    q = (sa.select(Entity, Area.code).outerjoin(Area, Area.id == Entity.area_id)
         .where(Entity.dataset == source, Entity.deleted.is_(False)))
    return scope.where_street(q, Entity.area_id, user).order_by(Entity.id)


def row(entity: Entity, street: str | None, columns: list[str], unmasked: bool
        ) -> tuple[dict[str, Any], bool]:
    """One entity as a flat row (empty values as None), and whether personal data shows."""
    props = entity.properties or {}
    shown, personal = privacy.shown_fields({c: props.get(c) for c in columns}, unmasked)
    out: dict[str, Any] = {
        "__id": entity.uuid, "label": entity.label, "__street": street,
        "__version": entity.version,
        "__updated_at": localtime.local(entity.updated_at).isoformat(timespec="seconds")
        if entity.updated_at else None,
        "__conflict": entity.conflict,
    }
    out.update({c: None if v in (None, "") else v for c, v in shown.items()})
    return out, personal


def rows(dataset: str, user: User | None, select: sa.Select | None = None
         ) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every row the user may see (or those of `select`, a narrowed `query`)."""
    if dataset == RENTALS:
        yield from rental_exports.rows(user, select)
        return
    columns = property_columns(dataset)
    unmasked = privacy.can_see_personal_data(user)
    for entity, street in db.session.execute(select if select is not None
                                             else query(dataset, user)):
        yield row(entity, street, columns, unmasked)


def export(user: User, dataset: str, fmt: str) -> tuple[bytes, str]:
    """A list as CSV or XLSX for `user`; audited with its row count and masking."""
    if fmt not in FORMATS:
        raise RegisterExportError("unknown export format {fmt!r}: use csv or xlsx", fmt=fmt)
    header = columns(dataset)
    table = [r for r, _shown in rows(dataset, user)]
    cells = ([r.get(c) for c in header] for r in table)
    data = (spreadsheets.csv_bytes(header, cells) if fmt == "csv"
            else _xlsx(dataset, header, cells))
    audit.record("register.export", user=user, object_type="register", object_id=dataset,
                 format=fmt, count=len(table), unmasked=privacy.can_see_personal_data(user))
    db.session.commit()
    return data, FORMATS[fmt]


def _xlsx(title: str, columns: list[str], cells: Iterator[list[Any]]) -> bytes:
    import xlsxwriter  # only spreadsheet exports pay for it, not every server start

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    sheet = book.add_worksheet(title)
    spreadsheets.write_xlsx_row(sheet, 0, columns, book.add_format({"bold": True}))
    for i, values in enumerate(cells, 1):
        spreadsheets.write_xlsx_row(sheet, i, values)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
