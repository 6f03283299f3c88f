"""The register's figures as array sums (server/services/reports/register_sums.py) against the
recount's loop over every version (tests/support/report_recount.py), on random histories:
re-sent departures, returns after a departure, records moving street and coordinator, versions
before the round and after a window."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from server.services.reports import register_sums
from server.services.reports.figures import NUMBERS, Counts, Table
from tests.support import report_recount as recount

ROUND_START = date(2026, 11, 1)


@dataclass
class _Round:
    starts_on: date = ROUND_START


@dataclass
class _Facts:
    versions: list
    round: _Round = field(default_factory=_Round)
    derived: dict = field(default_factory=dict)


def _history(seed: int) -> list[recount.VersionFact]:
    rng = random.Random(seed)
    out = []
    for entity in range(1, 120):
        dataset = rng.choice(["persons", "persons", "households"])
        day = ROUND_START + timedelta(days=rng.randint(-20, 25))
        for version in range(1, rng.randint(1, 6) + 1):
            out.append(recount.VersionFact(
                entity, dataset, version, day, rng.random() < 0.35,
                rng.choice([None, 3, 4, 7]), rng.choice([None, 11, 12])))
            day += timedelta(days=rng.randint(0, 6))
    return out


def _numbers(per: dict) -> dict:
    return {k or 0: tuple(getattr(c, n) for n in NUMBERS) for k, c in per.items()
            if any(getattr(c, n) for n in NUMBERS)}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("by_street", [True, False])
def test_register_sums_agree_with_the_loop_over_versions(seed, by_street):
    versions = _history(seed)
    f = _Facts(versions)
    departed_twice = sum(a.departed and b.departed and a.entity_id == b.entity_id
                         for a, b in itertools.pairwise(versions))
    assert departed_twice  # the histories hold the case the rule is about
    for start, end in [(ROUND_START, ROUND_START + timedelta(days=9)),
                       (ROUND_START + timedelta(days=10), ROUND_START + timedelta(days=19)),
                       (ROUND_START, ROUND_START + timedelta(days=40))]:
        t = Table(1)
        per: dict = defaultdict(Counts)
        register_sums.add_flows(f, start, end, by_street, t)
        recount._flows(f, start, end, by_street, per)
        if by_street:
            register_sums.add_register(f, end, t)
            recount._register_at(f, end, per)
        assert _numbers(t.as_dict()) == _numbers(per), (start, end)
