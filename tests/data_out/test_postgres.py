"""The feed and the register exports on PostgreSQL (JSONB properties, counts, the rented-unit
test on JSON values): the same township, the same answers as on SQLite."""

from __future__ import annotations

import csv
import io

import pytest
import requests
from flask import Flask

from server.models import Role
from server.services.register import exports as register_exports

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(postgres_app) -> Flask:
    return postgres_app


def test_feed_and_exports_on_postgresql(township, token_of, live, make_user):
    admin = token_of(Role.ADMIN)
    page = requests.get(f"{live}/odata/Persons", auth=admin, timeout=30,
                        params={"$count": "true", "$top": "2", "$skip": "1"}).json()
    assert page["@odata.count"] == 4 and [r["__id"] for r in page["value"]] == ["P2", "P3"]
    filtered = requests.get(f"{live}/odata/RentedUnits", auth=admin, timeout=30,
                            params={"$filter": "tenants eq 2"}).json()
    assert [r["__id"] for r in filtered["value"]] == ["H1"]
    village = token_of(Role.SUPERVISOR, ["T02"])
    assert [r["__id"] for r in requests.get(f"{live}/odata/Persons", auth=village,
                                            timeout=30).json()["value"]] == ["P4"]
    data, _type = register_exports.export(make_user(Role.ADMIN), "rentals", "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["__id"] for r in rows] == ["H1", "H3"]
