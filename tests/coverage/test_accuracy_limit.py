"""One GPS accuracy limit (issue 12, item 4): the phone app's shell carries the limit the visits
step will apply to the coordinator's visits today: the round over their streets holding today
(its own threshold, else the setting), the setting when no round holds today."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from server import localtime
from server.extensions import db
from server.models import Area, Role, Round, RoundArea
from server.services.coverage import rounds


def _round(name: str, street: str, days: tuple[int, int], gps: float | None) -> None:
    today = localtime.today()
    r = Round(name=name, starts_on=today + timedelta(days=days[0]),
              ends_on=today + timedelta(days=days[1]), gps_accuracy_m=gps)
    area = db.session.query(Area).filter_by(code=street).one()
    r.areas = [RoundArea(area=area)]
    db.session.add(r)
    db.session.commit()
    rounds.forget()


def _shell_limit(client) -> float:
    page = client.get("/app/").get_data(as_text=True)
    config = json.loads(re.search(r"window\.DOORSTEP = (\{.*?\});</script>", page).group(1))
    return config["gpsAccuracyM"]


@pytest.mark.parametrize(("plan", "expected"), [
    ([], 25.0),                                                    # no round: the setting
    ([("past", "T01-01", (-20, -10), 8.0)], 25.0),                 # not today: the setting
    ([("now", "T01-01", (-1, 1), 12.0)], 12.0),                    # today's round's own
    ([("now", "T01-01", (-1, 1), None)], 25.0),                    # today's, no own: setting
    ([("other street", "T01-02", (-1, 1), 5.0)], 25.0),            # not over my streets
    ([("a", "T01-01", (-1, 1), 30.0), ("b", "T01-01", (2, 9), 6.0)], 30.0),
])  # fmt: skip
def test_the_shell_carries_the_limit_of_todays_round(client, login, area_tree, plan, expected):
    user = login(Role.COORDINATOR, areas=["T01-01"])
    for name, street, days, gps in plan:
        _round(name, street, days, gps)
    assert rounds.accuracy_limit(user) == expected
    assert _shell_limit(client) == expected


def test_the_strictest_of_two_rounds_over_my_streets_wins(client, login, area_tree):
    login(Role.COORDINATOR, areas=["T01-01", "T01-02"])
    _round("one", "T01-01", (-1, 1), 30.0)
    _round("two", "T01-02", (-1, 1), 10.0)
    assert _shell_limit(client) == 10.0
