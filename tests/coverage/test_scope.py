"""One scope rule for every reader: each principal sees exactly the streets (and submissions)
server.services.scope gives them, whichever page, export, list or API reads the data."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Entity, Submission, User
from server.services import device_links
from server.services.coverage import exports as coverage_exports
from server.services.coverage import query as coverage_query
from server.services.coverage import rollups as coverage_rollups
from server.services.forms import entity_lists
from server.services.register import entities
from server.services.submissions import exports as submission_exports

ALL = frozenset({"T01-01", "T01-02"})

# principal -> (role, assigned areas, streets they may see, submitters whose work they see)
PRINCIPALS = {
    "admin": ("admin", [], ALL, {"xieguan", "coordinator-b"}),
    "designer": ("designer", [], ALL, {"xieguan", "coordinator-b"}),
    "village supervisor": ("supervisor", ["T01"], ALL, {"xieguan", "coordinator-b"}),
    "street supervisor": ("supervisor", ["T01-02"], {"T01-02"}, {"coordinator-b"}),
    "supervisor without areas": ("supervisor", [], set(), set()),
    "coordinator A": ("coordinator", ["T01-01"], {"T01-01"}, {"xieguan"}),
    "coordinator B": ("coordinator", ["T01-02"], {"T01-02"}, {"coordinator-b"}),
}


def _street_code(area_id: int | None) -> str | None:
    return db.session.scalar(sa.select(Area.code).where(Area.id == area_id))


def _map(user):
    return {code for _b, code, *_ in coverage_query.buildings(coverage_query.filters(user))}


def _walk_list(user):
    return {r["street"] for r in coverage_exports.unvisited(coverage_query.filters(user))}


def _statistics(user):
    rollup = coverage_rollups.rollups(coverage_query.filters(None).round.id, user)
    return {code for code in rollup["areas"] if code in ALL}


def _register(user):
    return {_street_code(e.area_id) for e in entities.query_entities("households", user)}


def _entity_list(user):
    rows = csv.DictReader(io.StringIO(entity_lists.list_csv("buildings.csv", user)))
    return {row["street"] for row in rows}


STREET_READERS = {
    "map": _map,
    "walk list": _walk_list,
    "statistics": _statistics,
    "register": _register,
    "buildings.csv": _entity_list,
}


@pytest.fixture
def principals(scenario, make_user, submit) -> dict[str, User]:
    """The scenario (coordinator A = xieguan on T01-01) plus coordinator B's household on T01-02,
    a household entity on each street, and one user per principal of the table."""
    coordinator_b = make_user("coordinator", username="coordinator-b", areas=["T01-02"])
    submit("household", building="B14", submitter_id=coordinator_b.id)
    for street in sorted(ALL):
        area_id = db.session.scalar(sa.select(Area.id).where(Area.code == street))
        db.session.add(Entity(dataset="households", uuid=f"hh-{street}", area_id=area_id,
                              properties={"street": street}))
    db.session.execute(sa.update(Submission).values(processing_state="done"))
    db.session.commit()
    users = {"coordinator A": db.session.scalar(sa.select(User).where(User.username == "xieguan")),
             "coordinator B": coordinator_b}
    for name, (role, areas, _streets, _team) in PRINCIPALS.items():
        users.setdefault(name, make_user(role, areas=areas))
    return users


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_reader_follows_the_scope(principals, principal):
    """Each reader shows exactly the principal's streets of what it holds, and the submission
    list exactly the work of the principal's people."""
    _role, _areas, streets, team = PRINCIPALS[principal]
    held = {name: read(None) - {None} for name, read in STREET_READERS.items()}
    assert all(held.values()), f"a reader holds nothing, the table would prove nothing: {held}"
    seen = {name: read(principals[principal]) - {None} for name, read in STREET_READERS.items()}
    assert seen == {name: streets & held[name] for name in STREET_READERS}

    query = submission_exports.query(principals[principal], submission_exports.Filters())
    submitters = {db.session.get(User, s.submitter_id).username for s in db.session.scalars(query)}
    assert submitters == team


@pytest.mark.parametrize("principal", ["admin", "village supervisor", "street supervisor",
                                       "coordinator A"])
def test_the_json_api_reads_the_same_scope(app, client, principals, principal):
    from tests.support.app import PASSWORD

    user = principals[principal]
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302
    data = client.get("/api/v1/coverage/buildings.geojson").get_json()
    streets = {f["properties"]["street"] for f in data["features"]}
    assert streets == PRINCIPALS[principal][2]


def test_a_deactivated_or_unknown_role_sees_nothing(principals):
    from server.services import scope

    user = principals["coordinator A"]
    user.active = False
    assert scope.street_ids(user) == frozenset()
    user.active, user.role = True, "inspector"
    assert scope.street_ids(user) == frozenset()
    db.session.rollback()


# --- the same scope over HTTP: pages, API, exports, phones' and draft links' entity lists ---

def _streets_of(uuids) -> set[str]:
    """Streets of the entities named (a page or CSV names them by uuid)."""
    rows = db.session.execute(sa.select(Area.code).join(Entity, Entity.area_id == Area.id)
                              .where(Entity.uuid.in_(set(uuids))))
    return {code for (code,) in rows}


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def _draft_of(form_version, uploader: User) -> str:
    """A draft of the form uploaded by `uploader`, reading households.csv: its test link."""
    from server.models import FormVersion

    draft = FormVersion(form_id=form_version.form_id, version="draft-scope", state="draft",
                        xform=form_version.xform, md5=form_version.md5,
                        media_names=["households.csv"], created_by_id=uploader.id,
                        draft_token=f"scope-{uploader.id}")
    db.session.add(draft)
    db.session.commit()
    return draft.draft_token


HTTP_READERS = {
    "map API": ("/api/v1/coverage/buildings.geojson",
                lambda r: {f["properties"]["street"] for f in r.get_json()["features"]}),
    "unvisited export": ("/coverage/unvisited.csv",
                         lambda r: {row["street"] for row in _csv_rows(r.data)}),
    "statistics API": ("/api/v1/coverage/stats",
                       lambda r: set(r.get_json()["areas"]) & ALL),
    "register page": ("/register/?list=households",
                      lambda r: _streets_of(re.findall(r"/register/households/([^\"?]+)\"",
                                                       r.get_data(as_text=True)))),
    "entities API": ("/api/v1/entities/households",
                     lambda r: _streets_of(e["uuid"] for e in r.get_json()["entities"])),
}


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_channel_follows_the_scope(app, principals, submit, principal):
    """Each page, API, export and entity list a principal may open shows exactly their
    streets (or their people's submissions); what they may not open answers 403."""
    from tests.support.app import PASSWORD

    _role, _areas, streets, team = PRINCIPALS[principal]
    user = principals[principal]
    household = submit.versions["household"]
    household.media_names = ["households.csv"]
    draft_token = _draft_of(household, user)
    client = app.test_client()
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302
    seen: dict[str, set[str]] = {}
    for name, (url, read) in HTTP_READERS.items():
        answer = client.get(url)
        assert answer.status_code in (200, 403), (name, answer.status_code)
        if answer.status_code == 200:
            seen[name] = read(answer)
    lists = {"draft link": f"/o/draft/{draft_token}/forms/household/media/households.csv"}
    if user.role == "coordinator":
        token = device_links.create(user, device_links.COLLECT)  # the phone's own link
        db.session.commit()
        lists["phone"] = f"/o/{token}/forms/household/media/households.csv"
    for name, url in lists.items():
        answer = client.get(url)
        assert answer.status_code == 200, (name, answer.data)
        seen[name] = _streets_of(row["name"] for row in _csv_rows(answer.data))
    assert seen == {name: set(streets) for name in seen}
    assert ("phone" in seen) is (user.role == "coordinator")
    for url in ("/api/v1/submissions", "/submissions/export.csv"):
        answer = client.get(url)
        if answer.status_code == 403:
            continue
        rows = (answer.get_json()["items"] if url.startswith("/api")
                else _csv_rows(answer.data))
        assert {row["submitter"] for row in rows} == team, url


@pytest.fixture
def second_village(principals, make_user) -> User:
    """A village T02 with a street (no buildings) and a coordinator on both T01 streets."""
    town = db.session.scalar(sa.select(Area).where(Area.code == "T"))
    village = Area(code="T02", name_zh="二村", level="village", parent_id=town.id, path="T/T02")
    db.session.add(village)
    db.session.flush()
    db.session.add(Area(code="T02-01", name_zh="二村一组", level="street", parent_id=village.id,
                        path="T/T02/T02-01"))
    db.session.commit()
    return make_user("coordinator", username="coordinator-ab", areas=["T01-01", "T01-02"])


BUILDINGS_PER_STREET = {"T01-01": 9, "T01-02": 9}  # the scenario's


def _coordinators_on(streets: set[str]) -> dict[str, set[str]]:
    """Coordinator -> their assigned streets among `streets` (those with any)."""
    from server.services import scope

    return {name: set(codes) & streets for name, codes in scope.coordinator_streets().items()
            if set(codes) & streets}


# principal -> the areas its statistics show
FIGURES = {
    "admin": {"T", "T01", "T01-01", "T01-02", "T02", "T02-01"},
    "village supervisor": {"T01", "T01-01", "T01-02"},  # not the township: T02 is not theirs
    "street supervisor": {"T01-02"},  # not the village: T01-01 is not theirs
    "supervisor without areas": set(),
}


@pytest.mark.parametrize("principal", FIGURES)
def test_statistics_show_only_the_principals_figures(app, principals, second_village,
                                                     principal):
    """Areas above the principal's show only when none of their streets is hidden, and a
    coordinator's row counts the principal's streets only (page and API alike)."""
    from tests.support.app import PASSWORD

    streets = set(PRINCIPALS[principal][2])
    rows = {name: sum(BUILDINGS_PER_STREET[c] for c in codes)
            for name, codes in _coordinators_on(streets).items()}
    assert principal != "street supervisor" or rows["coordinator-ab"] == 9  # not 18
    client = app.test_client()
    client.post("/login", data={"username": principals[principal].username,
                                "password": PASSWORD})
    api = client.get("/api/v1/coverage/stats").get_json()
    assert set(api["areas"]) == FIGURES[principal]
    assert {name: row["total"] for name, row in api["coordinators"].items()} == rows
    page = client.get("/coverage/stats").get_data(as_text=True)
    assert set(re.findall(r'data-area="([^"]+)"', page)) == FIGURES[principal]
    assert set(re.findall(r'data-coordinator="([^"]+)"', page)) == set(rows)


def _offered(page: str) -> set[str]:
    """The names a page's coordinator filter offers (by value, or by text when it has none)."""
    select = re.search(r'<select name="coordinator">(.*?)</select>', page, re.S).group(1)
    return (set(re.findall(r'<option value="([^"]+)"', select))
            | set(re.findall(r"<option\s*(?:selected)?\s*>([^<]+)</option>", select)))


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_filters_offer_only_the_coordinators_in_scope(app, principals, second_village,
                                                      principal):
    """The submissions filter and the map's name only the coordinators of the principal's
    streets (a coordinator: themselves), never everyone."""
    from tests.support.app import PASSWORD

    user = principals[principal]
    streets = set(PRINCIPALS[principal][2])
    names = ({user.username} if user.role == "coordinator"
             else set(_coordinators_on(streets)))
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": PASSWORD})
    for url in ("/submissions/", "/coverage/"):
        answer = client.get(url)
        if answer.status_code != 403:
            assert _offered(answer.get_data(as_text=True)) == names, url


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_the_home_page_counts_only_the_principals_areas(app, principals, principal):
    """Buildings, streets and coordinators at a glance: of the principal's streets."""
    from tests.support.app import PASSWORD

    user = principals[principal]
    streets = set(PRINCIPALS[principal][2])
    if user.role == "coordinator":
        coordinators = 1
    elif user.role in ("admin", "designer"):
        coordinators = db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.role == "coordinator"))
    else:
        coordinators = len(_coordinators_on(streets))
    client = app.test_client()
    client.post("/login", data={"username": user.username, "password": PASSWORD})
    page = client.get("/").get_data(as_text=True)
    counts = [int(n) for n in re.findall(  # the overview's counts (not the processing card)
        r"<li><strong>(\d+)</strong> (?:栋房屋|条街巷|名协管员)", page)]
    assert counts == [sum(BUILDINGS_PER_STREET[s] for s in streets), len(streets),
                      coordinators]
    assert ("全乡概况" in page) is (user.role in ("admin", "designer"))
