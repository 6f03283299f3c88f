"""Times are stored in UTC and shown in the township's zone (setting TIMEZONE) on pages and in
exports; a date typed into a filter is the township's day."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import openpyxl
import pytest
import sqlalchemy as sa

from server import StartupError
from server.extensions import db
from server.models import AuditEvent, Round, Submission, Visit
from server.services.processing import pipeline
from tests.support.app import PASSWORD, make_app
from tests.support.household_form import household_instance

#: 17:30 UTC on 30 November is 01:30 on 1 December in Kunming (UTC+8).
RECEIVED = datetime(2026, 11, 30, 17, 30)


@pytest.fixture
def late_submission(app, form, post):
    assert post(household_instance("uuid:late")).status_code == 201
    sub = db.session.scalar(sa.select(Submission))
    sub.received_at = RECEIVED
    db.session.commit()
    return sub


@pytest.fixture
def supervisor(client, make_user):
    user = make_user("supervisor", areas=["T01"])
    assert client.post("/login", data={"username": user.username,
                                       "password": PASSWORD}).status_code == 302
    return user


def _csv_rows(client, query: str = "") -> list[dict[str, str]]:
    data = client.get(f"/submissions/export.csv{query}").data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(data)))


def test_received_time_is_shown_in_the_townships_zone(client, late_submission, supervisor):
    stored = db.session.scalar(sa.select(Submission.received_at))
    assert stored == RECEIVED  # the database keeps UTC

    page = client.get("/submissions/").get_data(as_text=True)
    assert "2026-12-01 01:30" in page and "2026-11-30 17:30" not in page
    detail = client.get(f"/submissions/{late_submission.id}").get_data(as_text=True)
    assert "2026-12-01 01:30" in detail

    (row,) = _csv_rows(client)
    assert row["received_at"] == "2026-12-01 01:30:00+08:00"
    book = openpyxl.load_workbook(io.BytesIO(client.get("/submissions/export.xlsx").data))
    header, first = list(book["submissions"].values)[:2]
    assert first[header.index("received_at")] == "2026-12-01 01:30:00+08:00"
    api = client.get("/api/v1/submissions").get_json()
    assert api["items"][0]["received_at"] == "2026-12-01 01:30:00+08:00"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("?date_from=2026-12-01", 1),  # the township's 1 December holds it
        ("?date_to=2026-11-30", 0),  # … its 30 November does not, though UTC's does
        ("?date_from=2026-12-01&date_to=2026-12-01", 1),
        ("?date_from=2026-12-02", 0),
    ],
)
def test_date_filters_are_the_townships_days(client, late_submission, supervisor, query, found):
    assert len(_csv_rows(client, query)) == found
    assert client.get(f"/api/v1/submissions{query}").get_json()["total"] == found


def test_a_visit_without_a_form_time_falls_on_the_townships_day(app, client, form, post,
                                                               supervisor, make_building,
                                                               area_tree):
    """No `start` in the form: the visit's time is when it was received, its round is the one
    holding the township's day (1 December), and the map shows the local time."""
    building = make_building("A1", area_tree["T01-01"])
    for name, starts, ends in (("November", date(2026, 11, 1), date(2026, 11, 30)),
                               ("December", date(2026, 12, 1), date(2026, 12, 31))):
        db.session.add(Round(name=name, starts_on=starts, ends_on=ends))
    xml = household_instance("uuid:late", location="24.60005 102.60005 0 5")
    assert post(xml).status_code == 201
    db.session.execute(sa.update(Submission).values(received_at=RECEIVED))
    db.session.commit()
    pipeline.process_pending()
    visit = db.session.scalar(sa.select(Visit))
    assert visit.visited_at == RECEIVED and visit.round_id == db.session.scalar(
        sa.select(Round.id).where(Round.name == "December"))
    detail = client.get(f"/api/v1/coverage/buildings/{building.id}?round={visit.round_id}")
    assert detail.get_json()["visits"][0]["visited_at"] == "2026-12-01 01:30:00+08:00"


def test_audit_log_shows_local_times_and_names_the_zone(client, app, make_user):
    admin = make_user("admin")
    client.post("/login", data={"username": admin.username, "password": PASSWORD})
    db.session.add(AuditEvent(action="test.event", at=RECEIVED))
    db.session.commit()
    page = client.get("/admin/audit?action=test&lang=en").get_data(as_text=True)
    assert "Time (Asia/Shanghai)" in page and "2026-12-01 01:30:00" in page


def test_another_zone_moves_the_times(tmp_path):
    app = make_app(tmp_path, TIMEZONE="Europe/Paris")
    with app.test_request_context():
        render = app.jinja_env.from_string("{{ t | localtime }}").render
        assert render(t=RECEIVED) == "2026-11-30 18:30"


def test_unknown_zone_stops_start_up(tmp_path):
    with pytest.raises(StartupError, match=r"TIMEZONE='Mars/Olympus' is not a time zone name"):
        make_app(tmp_path, TIMEZONE="Mars/Olympus")
