"""The rental register out: one row per unit for the register exports' "rentals" list and the
feed's RentedUnits (raw values, as data), and a workbook for people (units, violations by
village, landlords; words in the reader's language). Landlords' ID and phone numbers are masked
unless server.services.privacy lets the reader see them; every workbook is audited. Cells are
written by server.services.spreadsheets, so a value from the field is never a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import Any

import sqlalchemy as sa

from server import localtime
from server.extensions import db
from server.i18n import N_, translate
from server.models import Area, RentalUnit, User
from server.services import audit, choice_labels, privacy, scope, spreadsheets
from server.services.area_tree import AreaView
from server.services.rentals import ledger, rules

#: The columns of a unit as data, and their OData types (the rest are Edm.String).
COLUMNS = ["__id", "label", "__street", "__updated_at", "tenure", "landlord_name",
           "landlord_phone", "landlord_id_number", "floor_area", "tenants", "area_per_tenant",
           "rooms", "contract_filed", "contract_number", "contract_lessee", "contract_start",
           "contract_end", "last_inspection", "violations", "violation_count"]
TYPES = {"floor_area": "Edm.Double", "tenants": "Edm.Int64", "area_per_tenant": "Edm.Double",
         "violation_count": "Edm.Int64", "__updated_at": "Edm.DateTimeOffset"}


def query(user: User | None) -> sa.Select:
    """(RentalUnit, street code) rows the user may see, oldest first."""
    q = (sa.select(RentalUnit, Area.code).outerjoin(Area, Area.id == RentalUnit.area_id)
         .order_by(RentalUnit.id))
    return scope.where_street(q, RentalUnit.area_id, user)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def row(unit: RentalUnit, street: str | None, unmasked: bool) -> tuple[dict[str, Any], bool]:
    """A unit as a flat row of raw values, and whether personal data shows unmasked."""
    landlord = unit.landlord
    identity, shown = privacy.shown_fields({
        "landlord_phone": landlord.phone if landlord else None,
        "landlord_id_number": landlord.id_number if landlord else None}, unmasked)
    out: dict[str, Any] = {
        "__id": unit.household_uuid, "label": unit.label, "__street": street,
        "__updated_at": localtime.local(unit.updated_at).isoformat(timespec="seconds")
        if unit.updated_at else None,
        "tenure": unit.tenure, "landlord_name": landlord.name if landlord else None,
        **identity,
        "floor_area": unit.floor_area, "tenants": unit.occupants,
        "area_per_tenant": unit.area_per_tenant, "rooms": unit.rooms,
        "contract_filed": unit.contract_filed, "contract_number": unit.contract_number,
        "contract_lessee": unit.contract_lessee, "contract_start": _day(unit.contract_start),
        "contract_end": _day(unit.contract_end), "last_inspection": _day(unit.last_inspection),
        "violations": " ".join(unit.violations or {}) or None,
        "violation_count": unit.violation_count,
    }
    return {k: None if v == "" else v for k, v in out.items()}, shown


def rows(user: User | None, select: sa.Select | None = None
         ) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every unit row the user may see (or those of `select`, a narrowed `query`)."""
    unmasked = privacy.can_see_personal_data(user)
    for unit, street in db.session.execute(select if select is not None else query(user)):
        yield row(unit, street, unmasked)


# --- the workbook for people ----------------------------------------------------------------

UNIT_HEADERS = (N_("Village"), N_("Street"), N_("Rented unit"), N_("Landlord"),
                N_("Landlord phone"), N_("Landlord ID number"), N_("Tenure"), N_("Floor area (m²)"),
                N_("Tenants"), N_("Floor area per tenant (m²)"), N_("Rooms rented for living"),
                N_("Contract filed"), N_("Filing number"), N_("Lessee"), N_("Term starts"),
                N_("Term ends"), N_("Last inspection"), N_("Violations"))
VIOLATION_HEADERS = (N_("Village"), N_("Street"), N_("Rented unit"), N_("Landlord"),
                     N_("Landlord phone"), N_("Violation"), N_("Since"), N_("Rectification due"),
                     N_("Rectification"))
LANDLORD_HEADERS = (N_("Landlord"), N_("Landlord phone"), N_("Landlord ID number"), N_("Units"),
                    N_("Violations"))


def workbook(user: User, village: str | None, locale: str) -> bytes:
    """The register of the user's areas (or one village) as an XLSX workbook; audited."""
    import xlsxwriter  # only spreadsheet exports pay for it, not every server start

    unmasked = privacy.can_see_personal_data(user)
    where = ledger.places()
    found = ledger.units(user, village)
    words = choice_labels.for_dataset("households")

    def said(name: str, value: Any) -> Any:
        return choice_labels.shown(value, words.get(name), name=name, locale=locale)

    def masked(name: str, value: Any) -> Any:
        return privacy.shown_value(name, value, unmasked)

    def place(unit: RentalUnit) -> list[str]:
        p = where.get(unit.area_id, ledger.Place())
        return [area_name(p.village, locale), area_name(p.street, locale)]

    def landlord_cells(unit: RentalUnit) -> list[Any]:
        ll = unit.landlord
        return [ll.name if ll else None, masked("phone", ll.phone if ll else None)]

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "strings_to_numbers": False,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    bold = book.add_format({"bold": True})
    sheets = {}
    for name, headers in ((N_("Rented units"), UNIT_HEADERS),
                          (N_("Violations"), VIOLATION_HEADERS),
                          (N_("Landlords"), LANDLORD_HEADERS)):
        sheet = book.add_worksheet(translate(name, locale)[:31])
        spreadsheets.write_xlsx_row(sheet, 0, [translate(h, locale) for h in headers], bold)
        sheet.freeze_panes(1, 0)
        sheets[name] = sheet
    for i, unit in enumerate(found, 1):
        ll = unit.landlord
        spreadsheets.write_xlsx_row(sheets["Rented units"], i, [
            *place(unit), unit.label, *landlord_cells(unit),
            masked("id_number", ll.id_number if ll else None), said("tenure", unit.tenure),
            unit.floor_area, unit.occupants, unit.area_per_tenant,
            said("rented_rooms", unit.rooms), said("contract_filed", unit.contract_filed),
            unit.contract_number, unit.contract_lessee, _day(unit.contract_start),
            _day(unit.contract_end), _day(unit.last_inspection),
            "；".join(rules.describe(c, v.get("detail"), locale)
                     for c, v in (unit.violations or {}).items())])
    violations = ledger.violations(user, village)
    for i, v in enumerate(violations, 1):
        rect = v.rectification
        stage = ledger.status(rect, v.unit).stage if rect is not None else None
        spreadsheets.write_xlsx_row(sheets["Violations"], i, [
            *place(v.unit), v.unit.label, *landlord_cells(v.unit), v.text(locale), v.since,
            _day(rect.due_on) if rect else None,
            translate(STAGES[stage], locale) if stage else None])
    landlords: dict[int, list[RentalUnit]] = {}
    for unit in found:
        if unit.landlord is not None:
            landlords.setdefault(unit.landlord.id, []).append(unit)
    for i, own in enumerate(landlords.values(), 1):
        ll = own[0].landlord
        spreadsheets.write_xlsx_row(sheets["Landlords"], i, [
            ll.name, masked("phone", ll.phone), masked("id_number", ll.id_number),
            "；".join(u.label for u in own), sum(u.violation_count for u in own)])
    book.close()
    audit.record("rentals.export", user=user, object_type="rentals", object_id=village or "",
                 format="xlsx", units=len(found), violations=len(violations),
                 landlords=len(landlords), unmasked=unmasked)
    db.session.commit()
    return out.getvalue()


#: A rectification's stage in words (English ids of the catalogue).
STAGES = {"open": N_("Being put right"), "overdue": N_("Overdue"),
          "failed": N_("Re-inspected: not put right"), "resolved": N_("Re-inspected: put right"),
          "closed": N_("Closed after re-inspection")}


def area_name(area: Area | AreaView | None, locale: str) -> str:
    """An area's name in the reader's language (its code when it has none)."""
    if area is None:
        return ""
    name = area.name_zh if locale.startswith("zh") else (area.name_en or area.name_zh)
    return name or area.code
