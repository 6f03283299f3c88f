"""The per-tenant floor-area minimum is a server setting the rental inspection form reads."""

from __future__ import annotations

import pytest

from server.models import Role
from server.services.forms import lifecycle as service
from tests.support.township import TOWNSHIP_FORMS, township_file


@pytest.fixture
def rental(app, make_user):
    service.publish_township()
    return service.find_version("rental_inspection", None), make_user(Role.COORDINATOR)


def _settings(version, user) -> str:
    found = {m.name: m for m in service.media_for(version, user)}
    return found["settings.csv"].content.decode()


def test_the_form_reads_the_minimum_from_settings(rental):
    version, _ = rental
    assert "settings.csv" in version.media_names
    assert 'src="jr://file-csv/settings.csv"' in version.xform
    assert "pulldata('settings', 'value', 'key', 'min_floor_area_per_tenant_m2')" in version.xform


@pytest.mark.parametrize(("configured", "served"), [(10.0, "10"), (12.5, "12.5")])
def test_settings_csv_follows_the_configuration(app, rental, configured, served):
    version, user = rental
    app.config["MIN_FLOOR_AREA_PER_TENANT_M2"] = configured
    assert _settings(version, user) == f"key,value\nmin_floor_area_per_tenant_m2,{served}\n"


@pytest.mark.parametrize("name", TOWNSHIP_FORMS)
def test_publishing_a_township_form_warns_of_no_generated_file(app, name):
    """The server writes settings.csv and the entity lists itself: no 'not uploaded' warning."""
    result = service.upload(township_file(name).read_bytes(), f"{name}.xlsx", None)
    assert result.warnings == []
