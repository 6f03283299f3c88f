import pytest

from server.models import Role, User
from server.services.privacy import can_see_personal_data, is_personal_field, mask, shown_fields


@pytest.mark.parametrize(
    ("name", "personal"),
    [("id_number", True), ("person/id_number", True), ("phone", True), ("landlord_phone", True),
     ("idno", True), ("name", False), ("telescope", False), ("floor_area", False)],
)
def test_personal_fields(name, personal):
    assert is_personal_field(name) is personal


@pytest.mark.parametrize(
    ("role", "sees"),
    [(Role.ADMIN, False), (Role.DESIGNER, False), (Role.SUPERVISOR, True),
     (Role.COORDINATOR, True)],
)
def test_roles(role, sees):
    assert can_see_personal_data(User(username="u", role=role.value, password_hash="")) is sees
    assert can_see_personal_data(None) is False


def test_mask():
    assert mask("530122199001011234") == "530*************34"
    assert mask("13800138000") == "138******00"
    assert mask("") == ""


@pytest.mark.parametrize(
    ("fields", "unmasked", "shown", "any_shown"),
    [({"id_number": "530122199003071233", "name": "Li"}, False,
      {"id_number": "530*************33", "name": "Li"}, False),
     ({"id_number": "530122199003071233", "name": "Li"}, True,
      {"id_number": "530122199003071233", "name": "Li"}, True),
     ({"phone": "", "landlord_phone": None, "name": "Li"}, True,
      {"phone": "", "landlord_phone": None, "name": "Li"}, False),
     ({"phone": 13800138000}, False, {"phone": "138******00"}, False),
     ({}, True, {}, False)],
)
def test_shown_fields(fields, unmasked, shown, any_shown):
    assert shown_fields(fields, unmasked) == (shown, any_shown)


def test_a_link_anyone_may_hold_never_shows_personal_data():
    coordinator = User(username="c", role=Role.COORDINATOR.value, password_hash="")
    assert can_see_personal_data(coordinator) is True
    assert can_see_personal_data(coordinator, via_link=True) is False
