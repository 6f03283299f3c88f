"""One scope rule for every reader: each principal sees exactly the streets (and submissions)
server.services.scope gives them, whichever page, export, list or API reads the data."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Entity, Submission, User
from server.services.coverage import exports as coverage_exports
from server.services.coverage import query as coverage_query
from server.services.coverage import store as coverage
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
    rollup = coverage.rollups(coverage_query.filters(None).round.id, user)
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
