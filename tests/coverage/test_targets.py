"""The statistics page marks every area and coordinator against the entry-rate target."""

from __future__ import annotations

import re

import pytest

from server.models import Role


def _rates(page: str, attribute: str) -> dict[str, str]:
    """data-<attribute> of each row -> the class of its rate cell."""
    rows = re.findall(
        rf'<tr data-{attribute}="([^"]+)">.*?<td class="(on-target|below-target)">', page, re.S
    )
    return dict(rows)


@pytest.mark.parametrize(("target", "expected"), [(0.9, "below-target"), (0.1, "on-target")])
def test_rates_are_marked_against_the_target(app, client, login, scenario, target, expected):
    # The scenario's street T01-01 has 13 of its 18 buildings visited or complete (72 %).
    app.config["ENTRY_RATE_TARGET"] = target
    login(Role.SUPERVISOR, areas=["T"])
    page = client.get(f"/coverage/stats?round={scenario['round_id']}").get_data(as_text=True)
    assert f"录入率目标 {target * 100:g}%" in page
    assert _rates(page, "area")["T01-01"] == expected
