"""The OData feed as the protocol says, over real HTTP with requests: the service document,
$metadata, the JSON format, $count, /$count, $select, $orderby, errors, who may read, scope,
and an audit event for every read."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import requests
import sqlalchemy as sa

from server.extensions import db
from server.models import AuditEvent, Role
from tests.support.data_out import PEOPLE

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def _get(live: str, path: str, credentials, **params) -> requests.Response:
    return requests.get(f"{live}/odata/{path}", auth=credentials, params=params, timeout=30)


def _ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["__id"] for row in response.json()["value"]]


def test_service_document_and_metadata(township, token_of, live):
    admin = token_of(Role.ADMIN)
    doc = _get(live, "", admin)
    assert doc.headers["Content-Type"] == "application/json;odata.metadata=minimal"
    assert doc.headers["OData-Version"] == "4.0"
    body = doc.json()
    assert body["@odata.context"] == f"{live}/odata/$metadata"
    assert {"name": "Persons", "kind": "EntitySet", "url": "Persons"} in body["value"]
    meta = _get(live, "$metadata", admin)
    assert meta.headers["Content-Type"].startswith("application/xml")
    root = ET.fromstring(meta.content)
    assert root.get("Version") == "4.0"
    schema = root.find(f"*/{EDM}Schema")
    person = schema.find(f"{EDM}EntityType[@Name='Person']")
    assert person.find(f"{EDM}Key/{EDM}PropertyRef").get("Name") == "__id"
    types = {p.get("Name"): p.get("Type") for p in person.findall(f"{EDM}Property")}
    assert types["__id"] == "Edm.String" and types["__updated_at"] == "Edm.DateTimeOffset"
    assert types["id_number"] == "Edm.String"
    sets = {s.get("Name"): s.get("EntityType")
            for s in schema.findall(f"{EDM}EntityContainer/{EDM}EntitySet")}
    assert sets["Persons"] == "Doorstep.Person"
    assert sets["Submissions_household"] == "Doorstep.Submission_household"


def test_count_select_orderby_and_next_link(app, township, token_of, live):
    admin = token_of(Role.ADMIN)
    page = _get(live, "Persons", admin, **{"$count": "true", "$top": "3", "$skip": "1",
                                           "$select": "full_name,household",
                                           "$orderby": "full_name desc"})
    body = page.json()
    assert body["@odata.count"] == 4
    assert body["@odata.context"] == f"{live}/odata/$metadata#Persons(full_name,household)"
    names = sorted((name for _pid, name, _n, _p in PEOPLE), reverse=True)
    assert [r["full_name"] for r in body["value"]] == names[1:4]
    assert set(body["value"][0]) == {"__id", "full_name", "household"}
    assert "@odata.nextLink" not in body  # $top=3 from 1 of 4: all asked for is here
    app.config["ODATA_PAGE_SIZE"] = 2
    first = _get(live, "Persons", admin, **{"$filter": "household ne 'H2'", "$count": "true"})
    assert _ids(first) == ["P1", "P2"] and first.json()["@odata.count"] == 3
    following = requests.get(first.json()["@odata.nextLink"], auth=admin, timeout=30)
    assert _ids(following) == ["P4"] and "@odata.nextLink" not in following.json()
    counted = _get(live, "Persons/$count", admin, **{"$filter": "household eq 'H1'"})
    assert counted.text == "2" and counted.headers["Content-Type"].startswith("text/plain")


#: (query options, status, what the message names); one township serves every row.
BAD_QUERIES = [
    ({"$filter": "nosuch eq 1"}, 400, "nosuch"),
    ({"$filter": "full_name eq"}, 400, "$filter"),
    ({"$filter": "substring(full_name, 1) eq 'a'"}, 400, "substring"),
    ({"$filter": "household/x eq 'a'"}, 400, "household/x"),
    ({"$top": "-1"}, 400, "$top"),
    ({"$top": "99999999999999999999"}, 400, "$top"),
    ({"$count": "yes"}, 400, "$count"),
    ({"$select": "nosuch"}, 400, "nosuch"),
    ({"$orderby": "full_name sideways"}, 400, "$orderby"),
    ({"$expand": "household"}, 501, "$expand"),
    ({"$bogus": "1"}, 400, "$bogus"),
    ({"$format": "xml"}, 406, "json"),
]


def test_bad_queries_are_refused_with_a_reason(township, token_of, live):
    admin = token_of(Role.ADMIN)
    wrong = []
    for params, status, says in BAD_QUERIES:
        response = _get(live, "Persons", admin, lang="en", **params)
        message = response.json().get("error", {}).get("message", "")
        if response.status_code != status or says not in message:
            wrong.append((params, response.status_code, message))
    assert wrong == []


def test_unknown_set_is_404_and_errors_speak_chinese(township, token_of, live):
    admin = token_of(Role.ADMIN)
    assert _get(live, "Nothing", admin).status_code == 404
    zh = _get(live, "Persons", admin, **{"$filter": "nosuch eq 1"}).json()["error"]["message"]
    assert "此实体集中没有属性" in zh


def test_who_may_read(township, token_of, live):
    anonymous = requests.get(f"{live}/odata/Persons", timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert _get(live, "Persons", token_of(Role.DESIGNER)).status_code == 403
    user, token = token_of(Role.SUPERVISOR, ["T"])
    assert _get(live, "Persons", (user, token + "x")).status_code == 401
    assert _get(live, "Persons", ("someone-else", token)).status_code == 401
    bearer = requests.get(f"{live}/odata/Persons", timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200 and "Set-Cookie" not in bearer.headers


#: (role, areas, persons seen, household submissions seen)
SCOPES = [
    (Role.SUPERVISOR, ["T01"], ["P1", "P2", "P3"], 2),  # village one only
    (Role.SUPERVISOR, ["T02"], ["P4"], 1),
    (Role.COORDINATOR, ["T02-01"], ["P4"], 0),  # a coordinator's submissions are their own
    (Role.SUPERVISOR, [], [], 0),  # no areas: nothing, never everything
    (Role.ADMIN, [], ["P1", "P2", "P3", "P4"], 3),
]


def test_scope_per_reader(township, token_of, live):
    for role, areas, persons, submissions in SCOPES:
        who = token_of(role, areas)
        assert _ids(_get(live, "Persons", who)) == persons, (role, areas)
        assert len(_ids(_get(live, "Submissions_household", who))) == submissions, (role, areas)
        # a filter cannot reach outside the scope either
        assert _ids(_get(live, "Persons", who, **{"$filter": "__id eq 'P4'"})) == \
            (["P4"] if "P4" in persons else []), (role, areas)


def test_a_filter_on_a_masked_value_reveals_nothing(township, token_of, live):
    admin = token_of(Role.ADMIN)
    full = PEOPLE[0][2]
    assert _ids(_get(live, "Persons", admin, **{"$filter": f"id_number eq '{full}'"})) == []
    assert _ids(_get(live, "Persons", admin,
                     **{"$filter": f"startswith(id_number, '{full[:4]}')"})) == []
    masked = full[:3] + "*" * 13 + full[-2:]
    assert _ids(_get(live, "Persons", admin, **{"$filter": f"id_number eq '{masked}'"})) == \
        ["P1"]
    supervisor = token_of(Role.SUPERVISOR, ["T"])
    assert _ids(_get(live, "Persons", supervisor,
                     **{"$filter": f"id_number eq '{full}'"})) == ["P1"]


def test_every_read_is_audited(township, token_of, live):
    user, token = token_of(Role.SUPERVISOR, ["T"])
    _get(live, "Persons", (user, token), **{"$filter": "household eq 'H1'", "$top": "1"})
    _get(live, "Submissions_household", (user, token))
    _get(live, "Persons/$count", (user, token))
    _get(live, "$metadata", (user, token))  # no personal data: not a read of the register
    events = db.session.execute(
        sa.select(AuditEvent.object_id, AuditEvent.detail)
        .where(AuditEvent.action == "odata.read").order_by(AuditEvent.id)).all()
    assert [(name, d["count"], d["total"], d["filter"], d["unmasked"], d["via"])
            for name, d in events] == [
        ("Persons", 1, 2, "household eq 'H1'", True, "token"),
        ("Submissions_household", 3, 3, "", True, "token"),
        ("Persons", 0, 4, "", True, "token"),
    ]
