import pytest

from server.models import Role, User
from server.services.privacy import can_see_personal_data, is_personal_field, mask


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
