"""Floating residents per village and the 1 : 500 staffing rule, with figures worked by hand."""

from __future__ import annotations

import re

import pytest

from server.extensions import db
from server.models import Area, Entity, Role
from server.services.reports import staffing

HOME = "530122"


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"id_number": "11010519491231002X"}, True),  # Beijing: floating
        ({"id_number": "530122199003071233"}, False),  # the county's own
        ({"id_number": "530122199003071233", "origin_code": "510104"}, True),  # recorded wins
        ({"id_number": "11010519491231002X", "origin_code": "5301"}, True),  # bad code: the ID
        ({"origin_code": "530122"}, False),
        ({}, None),
        ({"id_number": "0123"}, None),
    ],
)
def test_floating_by_recorded_origin_else_id_number(props, expected):
    assert staffing.is_floating(props, HOME) is expected


def _person(street: Area, n: int, *, id_number: str = "", status: str = "resident",
            origin: str = "") -> None:
    props = {"status": status, "id_number": id_number, "origin_code": origin}
    db.session.add(Entity(dataset="persons", uuid=f"p-{street.code}-{n}", label=f"p{n}",
                          properties=props, area_id=street.id))


@pytest.fixture
def township(app, area_tree, make_user):
    app.config.update(FLOATING_RESIDENTS_PER_COORDINATOR=2, HOME_REGION_CODE=HOME)
    t02 = Area(code="T02", name_zh="二村", name_en="Village Two", level="village",
               parent_id=area_tree["T"].id, path="T/T02")
    db.session.add(t02)
    db.session.flush()
    t0201 = Area(code="T02-01", name_zh="二村一组", name_en="Group 1", level="street",
                 parent_id=t02.id, path="T/T02/T02-01")
    db.session.add(t0201)
    db.session.flush()
    s1, s2 = area_tree["T01-01"], area_tree["T01-02"]
    # 一村: 3 floating, 1 local, 1 of unknown origin living there; 1 floating departed.
    _person(s1, 1, id_number="11010519491231002X")
    _person(s1, 2, id_number="440301199001010011")
    _person(s2, 3, id_number="530122199003071233", origin="510104")
    _person(s2, 4, id_number="530122199003071233")
    _person(s2, 5)
    _person(s1, 6, id_number="11010519491231002X", status="departed")
    # 二村: 5 floating.
    for n in range(5):
        _person(t0201, 10 + n, id_number="11010519491231002X")
    make_user(Role.COORDINATOR, username="c1", areas=["T01-01", "T02-01"])
    make_user(Role.COORDINATOR, username="c2", areas=["T01"])
    gone = make_user(Role.COORDINATOR, username="gone", areas=["T01-02"])
    gone.active = False
    make_user(Role.SUPERVISOR, username="boss", areas=["T01"])  # not a coordinator
    db.session.commit()


def test_counts_and_required_coordinators_worked_by_hand(township):
    rows = staffing.by_village(None)
    table = {r.code: (r.residents, r.floating, r.unknown_origin, r.coordinators, r.required)
             for r in rows}
    # 二村: 5 floating / 2 per coordinator -> 3 needed, 1 (c1) -> understaffed, listed first.
    assert [r.code for r in rows] == ["T02", "T01", ""]
    assert table["T02"] == (5, 5, 0, 1, 3) and rows[0].missing == 2
    # 一村: 5 living (the departed one not), 3 floating -> 2 needed; c1 and c2 (not "gone").
    assert table["T01"] == (5, 3, 1, 2, 2) and not rows[1].understaffed
    # The township: 8 floating -> 4 needed; c1 works in both villages and counts once.
    assert table[""] == (10, 8, 1, 2, 4)


def test_the_page_lists_understaffed_villages_for_the_supervisors_scope(township, client, login):
    login(Role.SUPERVISOR, areas=["T"])
    page = client.get("/reports/staffing").get_data(as_text=True)
    assert re.search(r"协管员不足.*二村 \(还需 2 名\)", page, re.S)
    assert page.index('data-code="T02"') < page.index('data-code="T01"')
    client.post("/logout")
    login(Role.SUPERVISOR, areas=["T01"])  # a village supervisor sees their village only
    page = client.get("/reports/staffing").get_data(as_text=True)
    assert 'data-code="T01"' in page and 'data-code="T02"' not in page
    assert "各村协管员均已按规定配齐" in page
    client.post("/logout")
    login(Role.COORDINATOR, areas=["T01-01"])
    assert client.get("/reports/staffing").status_code == 403
