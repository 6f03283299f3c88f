"""The rules on rental housing (server/services/rentals/rules.py) as a table: a household's
properties → the rules it breaks, with the standard at 10 m² per tenant."""

from __future__ import annotations

import pytest

from server.services.rentals import rules

INSPECTED = {"last_inspection": "2016-10-20", "floor_area": "40", "tenants": "2",
             "rented_rooms": "bedroom", "partitioned": "no", "building_legal": "yes",
             "use_changed": "no", "safety_missing": "0", "contract_filed": "yes"}


@pytest.mark.parametrize(("props", "broken"), [
    (INSPECTED, {}),
    ({**INSPECTED, "tenants": "5"}, {"area_per_tenant": {"area": 8.0, "min": 10.0}}),
    ({**INSPECTED, "tenants": "4"}, {}),  # 10.0 m² is the standard, not below it
    ({**INSPECTED, "tenants": "0"}, {}),  # nobody lives there: no area per tenant
    ({**INSPECTED, "rented_rooms": "bedroom kitchen bathroom balcony basement"},
     {"kitchen": {}, "bathroom": {}, "balcony": {}, "basement": {}}),
    ({**INSPECTED, "partitioned": "yes"}, {"partitioned": {}}),
    ({**INSPECTED, "building_legal": "no"}, {"building_unsafe": {}}),
    ({**INSPECTED, "use_changed": "yes"}, {"use_changed": {}}),
    ({**INSPECTED, "safety_missing": "2"}, {"safety": {"n": 2}}),
    ({**INSPECTED, "contract_filed": "no"}, {"contract_unfiled": {}}),
    ({**INSPECTED, "contract_end": "2016-09-30"}, {"contract_expired": {"end": "2016-09-30"}}),
    ({**INSPECTED, "contract_end": "2016-10-20"}, {}),  # ends on the day: not yet expired
    # A kitchen entered in the household form of a household that rents: flagged.
    ({"tenure": "rented", "room_uses": "bedroom kitchen", "person_count": "2",
      "floor_area": "45"}, {"kitchen": {}}),
    # An owner's own kitchen is not a rented kitchen.
    ({"tenure": "owned", "room_uses": "bedroom kitchen", "person_count": "2"}, {}),
    # The household form counts who lives there when no inspection is newer: 45 m² / 6.
    ({"tenure": "rented", "room_uses": "bedroom", "person_count": "6", "floor_area": "45"},
     {"area_per_tenant": {"area": 7.5, "min": 10.0}}),
    # The inspection is the newer record: its rooms and tenants speak for the unit …
    ({**INSPECTED, "tenure": "rented", "room_uses": "bedroom kitchen", "person_count": "9",
      "last_visit": "2016-10-01"}, {}),
    # … until a later household visit records the kitchen again.
    ({**INSPECTED, "tenure": "rented", "room_uses": "bedroom kitchen", "person_count": "2",
      "last_visit": "2016-11-02"}, {"kitchen": {}}),
    # Numbers a phone could not have sent are ignored, never an error.
    ({**INSPECTED, "floor_area": "abc", "tenants": "-1", "safety_missing": "x"}, {}),
])
def test_the_rules_on_a_households_properties(props, broken):
    assert rules.violations(rules.facts(props), 10.0) == broken


def test_every_rule_has_a_stable_code_and_both_languages():
    codes = [r.code for r in rules.RULES]
    assert len(codes) == len(set(codes)) and all(len(c) <= 32 for c in codes)
    for rule in rules.RULES:
        assert rule.zh and rule.en and rule.zh != rule.en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.zh)
        assert bool(rule.detail_zh) == bool(rule.detail_en)


@pytest.mark.parametrize(("code", "detail", "locale", "text"), [
    ("area_per_tenant", {"area": 7.5, "min": 10.0}, "zh_CN",
     "人均承租面积低于标准（人均 7.5 平方米，标准 10.0 平方米）"),
    ("area_per_tenant", {"area": 7.5, "min": 10.0}, "en",
     "Floor area per tenant below the standard (7.5 m² per tenant, the standard is 10.0 m²)"),
    ("kitchen", {}, "zh_CN", "厨房出租居住"),
    ("safety", {"n": 1}, "en", "Safety items not in order (1 failed)"),
    ("no_such_rule", {}, "en", "no_such_rule"),
])
def test_a_violation_in_words(code, detail, locale, text):
    assert rules.describe(code, detail, locale) == text
