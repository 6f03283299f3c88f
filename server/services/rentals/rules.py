"""The rules on rental housing (docs/DOMAIN.md, phase 3 item 1), each a coded rule with its
Chinese and English text: the one place that says what a violation is.

A rule reads the facts of a unit (`facts()`: what the newest count at the door recorded) and
the city's standard (MIN_FLOOR_AREA_PER_TENANT_M2) and answers None, or the detail of the
violation. The register (server.services.rentals.derive) applies them to every version of a
household, so a violation's first day and each inspection's findings come from the same rules.

Which record speaks for a unit when two forms wrote it: the rental inspection (`rented_rooms`,
`tenants`) when it is at least as recent as the household visit (`last_inspection` ≥
`last_visit`), else the household form (`room_uses`, `person_count`) — the household form's
rooms count only when the whole household rents (`tenure` = rented), so an owner's own kitchen
is never a rented kitchen, but a kitchen entered there for a rented household is flagged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

#: The household form's tenure for a household that rents where it lives.
RENTED = "rented"
#: Rooms that may not be rented to live in (the forms' room_use choices).
FORBIDDEN_ROOMS = ("kitchen", "bathroom", "balcony", "basement")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the register knows of one unit, as the rules read it."""

    tenure: str | None = None
    floor_area: float | None = None
    occupants: int | None = None
    rooms: frozenset[str] = frozenset()
    partitioned: bool = False
    building_legal: str | None = None
    use_changed: str | None = None
    safety_missing: int | None = None
    contract_filed: str | None = None
    contract_end: date | None = None
    inspected_on: date | None = None

    @property
    def area_per_tenant(self) -> float | None:
        if self.floor_area is None or not self.occupants:
            return None
        return round(self.floor_area / self.occupants, 1)


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _count(value: Any) -> int | None:
    number = _number(value)
    return int(number) if number is not None and number >= 0 and number == int(number) else None


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value or "").strip()[:10])
    except ValueError:
        return None


def inspection_is_newest(props: dict[str, Any]) -> bool:
    """Whether the rental inspection recorded the unit at least as recently as the household
    visit (a unit never inspected: False)."""
    inspected = parse_date(props.get("last_inspection"))
    visited = parse_date(props.get("last_visit"))
    return inspected is not None and (visited is None or inspected >= visited)


def facts(props: dict[str, Any]) -> Facts:
    """The facts of a unit from its household record's properties."""
    inspected = inspection_is_newest(props)
    rented = props.get("tenure") == RENTED
    # the newest record first, the other when the newest has nothing to say
    inspection = (props.get("rented_rooms"), _count(props.get("tenants")))
    household = ((props.get("room_uses"), _count(props.get("person_count"))) if rented
                 else (None, None))
    first, second = (inspection, household) if inspected or not rented else (household,
                                                                              inspection)
    rooms_text = first[0] or second[0]
    occupants = first[1] if first[1] is not None else second[1]
    return Facts(
        tenure=props.get("tenure") or None,
        floor_area=_number(props.get("floor_area")),
        occupants=occupants,
        rooms=frozenset(str(rooms_text or "").split()),
        partitioned=props.get("partitioned") == "yes",
        building_legal=props.get("building_legal") or None,
        use_changed=props.get("use_changed") or None,
        safety_missing=_count(props.get("safety_missing")),
        contract_filed=props.get("contract_filed") or None,
        contract_end=parse_date(props.get("contract_end")),
        inspected_on=parse_date(props.get("last_inspection")),
    )


Check = Callable[[Facts, float], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    zh: str
    en: str
    check: Check
    detail_zh: str = ""  # templates over the detail's values
    detail_en: str = ""

    def text(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en

    def detail_text(self, detail: dict[str, Any] | None, locale: str) -> str:
        template = self.detail_zh if locale.startswith("zh") else self.detail_en
        return template.format(**detail) if template and detail else ""


def _area(f: Facts, minimum: float) -> dict[str, Any] | None:
    per = f.area_per_tenant
    return {"area": per, "min": minimum} if per is not None and per < minimum else None


def _room(room: str) -> Check:
    return lambda f, _m: {} if room in f.rooms else None


def _partitioned(f: Facts, _m: float) -> dict[str, Any] | None:
    return {} if f.partitioned else None


def _unsafe(f: Facts, _m: float) -> dict[str, Any] | None:
    return {} if f.building_legal == "no" else None


def _use_changed(f: Facts, _m: float) -> dict[str, Any] | None:
    return {} if f.use_changed == "yes" else None


def _safety(f: Facts, _m: float) -> dict[str, Any] | None:
    return {"n": f.safety_missing} if f.safety_missing else None


def _unfiled(f: Facts, _m: float) -> dict[str, Any] | None:
    return {} if f.contract_filed == "no" else None


def _expired(f: Facts, _m: float) -> dict[str, Any] | None:
    if f.contract_end is None or f.inspected_on is None or f.contract_end >= f.inspected_on:
        return None
    return {"end": f.contract_end.isoformat()}


#: Every rule, in the order lists show them. Codes are stable: rectifications name them.
RULES: tuple[Rule, ...] = (
    Rule("area_per_tenant", "人均承租面积低于标准", "Floor area per tenant below the standard",
         _area, "人均 {area} 平方米，标准 {min} 平方米",
         "{area} m² per tenant, the standard is {min} m²"),
    Rule("kitchen", "厨房出租居住", "Kitchen rented to live in", _room("kitchen")),
    Rule("bathroom", "卫生间出租居住", "Bathroom rented to live in", _room("bathroom")),
    Rule("balcony", "阳台出租居住", "Balcony rented to live in", _room("balcony")),
    Rule("basement", "地下室、储藏室出租居住", "Basement or storage room rented to live in",
         _room("basement")),
    Rule("partitioned", "出租单位小于原设计房间（隔断出租）",
         "Rented unit smaller than a room as designed (partitioned)", _partitioned),
    Rule("building_unsafe", "违法或不安全房屋出租", "Illegal or unsafe building rented", _unsafe),
    Rule("use_changed", "违规改变房屋用途", "Use of the building changed against the rules",
         _use_changed),
    Rule("safety", "安全检查不合格", "Safety items not in order", _safety,
         "{n} 项不合格", "{n} failed"),
    Rule("contract_unfiled", "租赁合同未备案", "Rental contract not filed", _unfiled),
    Rule("contract_expired", "租赁合同已到期", "Rental contract expired", _expired,
         "租期至 {end}", "the term ended {end}"),
)
BY_CODE = {rule.code: rule for rule in RULES}


def violations(f: Facts, minimum: float) -> dict[str, dict[str, Any]]:
    """Rule code -> detail, for every rule the facts break, in RULES order."""
    out: dict[str, dict[str, Any]] = {}
    for rule in RULES:
        detail = rule.check(f, minimum)
        if detail is not None:
            out[rule.code] = detail
    return out


def describe(code: str, detail: dict[str, Any] | None, locale: str) -> str:
    """A violation in words: the rule's text, and its detail when it has one."""
    rule = BY_CODE.get(code)
    if rule is None:
        return code
    extra = rule.detail_text(detail, locale)
    if not extra:
        return rule.text(locale)
    return f"{rule.text(locale)}（{extra}）" if locale.startswith("zh") else \
        f"{rule.text(locale)} ({extra})"
