"""The register as people read it: building → households → persons → residence history, named
by address and householder, values in words, and only current residents counted."""

from __future__ import annotations

import re
import uuid as uuidlib

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Entity, Role
from server.services import storage
from server.services.register import entities
from tests.support.township import LI, WANG, ZHANG, household, listing, person
from tests.support.xforms import build_instance


@pytest.fixture
def submit(township_published, area_tree, make_building, make_user, store_submission):
    make_building("B1", area_tree["T01-01"], lon=102.60, lat=24.60)
    make_building("B2", area_tree["T01-02"], lon=102.61, lat=24.61)
    coordinator = make_user(Role.COORDINATOR, areas=["T01"])

    def do(form_id: str, values: dict):
        xml = build_instance(township_published[form_id].xform, values)
        submission = store_submission(xml, form_id, coordinator, None)
        submission.storage_key, _ = storage.put("submissions", xml)  # the page reads it back
        entities.apply_submission(submission, xml)
        db.session.commit()
        return submission

    return do


@pytest.fixture
def moves(submit):
    """h1 registers 张三 (head), 王五 (spouse) and 李四; 王五 departs; 李四 moves to h2."""
    h1, h2, zhang, wang, li = (str(uuidlib.uuid4()) for _ in range(5))
    submit("building_listing", listing("B1"))
    spouse = {**person(wang, WANG, h1, name="王五"), "relation": "spouse"}
    lodger = {**person(li, LI, h1, name="李四"), "relation": "other", "sex": "female"}
    submit("household", household(h1, "B1", "T01-01", [person(zhang, ZHANG, h1), spouse, lodger]))
    submit("departure", {
        "street": "T01-01", "household": h1, "person": wang, "person_label": "王五",
        "departure_date": "2016-11-02", "destination": "成都", "reason": "work",
        "source": "landlord", "status": "departed", "visit_location": "24.6 102.6 0 5",
        "__entity": {"update": "1", "id": wang, "baseVersion": "1"},
    })
    moved = submit("household", household(h2, "B2", "T01-02", [
        person(str(uuidlib.uuid4()), LI, h2, name="李四", arrival="2016-10-01")], tenure="owned"))
    return {"h1": h1, "h2": h2, "zhang": zhang, "wang": wang, "li": li, "submission": moved.id}


def _text(page: bytes) -> str:
    """What a reader sees: the page without its link targets."""
    return re.sub(r'href="[^"]*"', "", page.decode())


def test_a_household_counts_only_who_lives_there_now(client, login, moves):
    login(Role.SUPERVISOR, areas=["T01"])
    page = _text(client.get(f"/register/households/{moves['h1']}").data)
    assert "户主: 张三" in page.replace("：", ": ") or re.search(r"户主.*张三", page)
    assert re.search(r"现住人数.*?<strong>1</strong>", page, re.S)
    current, former = page.split("曾住人员")
    assert "张三" in current and "王五" not in current and "李四" not in current
    assert "王五" in former and "已注销" in former  # departed
    assert "李四" in former and "已迁出" in former  # moved to another household
    listing = _text(client.get("/register/?list=households").data)
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"<td><a >(B\d 号 301)</a></td>\s*<td>(\d+)</td>", listing)}
    assert rows == {"B1 号 301": "1", "B2 号 301": "1"}  # not the 3 h1's visit counted


def test_values_in_words_and_records_by_name(client, login, moves):
    login(Role.SUPERVISOR, areas=["T01"])
    listing = _text(client.get("/register/?list=households").data)
    assert "租住" in listing and "自有住房" in listing and "已登记" in listing
    assert not re.search(r"\b(rented|owned|done)\b", listing)
    person_page = _text(client.get(f"/register/persons/{moves['li']}").data)
    assert "B1 号 301" in person_page and "B2 号 301" in person_page
    for uuid in (moves[k] for k in ("h1", "h2", "zhang", "wang", "li")):
        assert uuid not in person_page  # households named, never by UUID
    assert "在住" in person_page and "女" in person_page  # status and sex in words
    building = _text(client.get("/register/buildings/B1").data)
    assert "B1 号 301" in building and "现住 1 人" in building
    english = _text(client.get(f"/register/households/{moves['h2']}?lang=en").data)
    assert "Owned" in english and "Resident" in english


def test_a_household_page_showing_id_numbers_is_audited(client, login, moves):
    login(Role.SUPERVISOR, areas=["T01"])
    assert ZHANG in client.get(f"/register/households/{moves['h1']}").data.decode()
    event = db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "personal_data.view", AuditEvent.object_type == "household"))
    assert event is not None and event.object_id == moves["h1"]
    client.post("/logout")
    login(Role.ADMIN)  # sees the register masked: no ID number, no audit entry needed
    assert ZHANG not in client.get(f"/register/households/{moves['h1']}").data.decode()


def test_a_submission_page_shows_choice_labels(client, login, moves):
    login(Role.SUPERVISOR, areas=["T01"])
    page = client.get(f"/submissions/{moves['submission']}").data.decode()
    assert "自有住房" in page and "卧室、厨房" in page and "已登记" in page
    assert not re.search(r"<td>(owned|done|bedroom kitchen)</td>", page)
    english = client.get(f"/submissions/{moves['submission']}?lang=en").data.decode()
    assert "<td>Owned</td>" in english and "Bedroom, Kitchen" in english


def test_review_notes_read_in_chinese_on_the_pages(client, login, submit):
    hid, pid = str(uuidlib.uuid4()), str(uuidlib.uuid4())
    submit("household", household(hid, "B1", "T01-01", [person(pid, "110105194912310021", hid)]))
    login(Role.SUPERVISOR, areas=["T01"])
    for url in ("/register/?list=persons", f"/register/persons/{pid}"):
        page = client.get(url).data.decode()
        assert "未通过 GB 11643 校验" in page and "fails the" not in page


def test_the_map_panel_names_outcomes_and_counts_current_residents(client, login, moves):
    from server.models import Building

    b1 = db.session.scalar(sa.select(Building).where(Building.code == "B1"))
    login(Role.SUPERVISOR, areas=["T01"])
    detail = client.get(f"/api/v1/coverage/buildings/{b1.id}").get_json()
    [h1] = detail["households"]
    assert (h1["outcome"], h1["outcome_label"]) == ("done", "已登记")
    assert (h1["person_count"], h1["living"]) == ("3", 1)  # counted at the visit; living now


@pytest.fixture
def many_persons(area_tree):
    """520 persons in one street: more than one page, more than the old 500-row cut-off."""
    street = area_tree["T01-01"].id
    db.session.execute(sa.insert(Entity), [
        {"dataset": "persons", "uuid": str(uuidlib.uuid4()), "label": f"居民{i:03d}",
         "properties": {"full_name": f"居民{i:03d}"}, "area_id": street,
         "natural_key": f"530122199001{i:04d}11"[:17] + "X"}
        for i in range(520)
    ])
    db.session.commit()
    return 520


def _labels(page: bytes) -> list[str]:
    return re.findall(r">(居民\d{3})</a>", page.decode())


def test_the_register_list_is_paged_and_every_person_is_on_one_page(client, login, many_persons):
    login(Role.SUPERVISOR, areas=["T01"])
    seen, url = [], "/register/?list=persons"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        rows = _labels(page.data)
        assert 0 < len(rows) <= 100
        seen += rows
        more = re.search(r'href="([^"]*page=\d+)">下一页<', page.data.decode())
        url = more.group(1).replace("&amp;", "&") if more else None
    assert sorted(seen) == [f"居民{i:03d}" for i in range(many_persons)]


@pytest.mark.parametrize(("query", "found"), [
    ("居民519", ["居民519"]),  # a name beyond the first pages
    ("5301 2219 9001 0519 1X".lower(), ["居民519"]),  # an ID number, spaced and lower-case
    ("居民51", [f"居民51{i}" for i in range(10)]),  # part of a name
    ("nobody", []),
])
def test_the_register_search_looks_through_the_whole_list(client, login, many_persons,
                                                          query, found):
    login(Role.SUPERVISOR, areas=["T01"])
    page = client.get("/register/", query_string={"list": "persons", "q": query})
    assert sorted(_labels(page.data)) == found
