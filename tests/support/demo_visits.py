"""Generated visits for the buildings in the database, for tests and benchmarks (tests/bench):
the bulk loader is server/services/demo_visits.py (the demo township uses it too)."""

from __future__ import annotations

from server.services.demo_visits import add_generated_visits, bulk_insert, db_datetime

__all__ = ["bulk_insert", "db_datetime", "load_generated_city", "load_generated_visits"]


def load_generated_visits(
    n_visits: int, round_id: int, seed: int = 2016, chunk: int = 50_000
) -> int:
    """Add `n_visits` generated visits (GPS noise, far, poor, unlinked) over the round's days."""
    return add_generated_visits(n_visits, round_id, seed=seed, chunk=chunk)


def load_generated_city(buildings: int, visits: int, round_id: int, seed: int = 2016) -> None:
    """The demo township generator's city plus generated visits, then a full recompute."""
    from server.services import demo
    from server.services.coverage import recompute as coverage_recompute
    from server.services.coverage import store as coverage

    demo.load_demo(seed=seed, buildings=buildings, visits=False)
    coverage.buildings_changed()
    load_generated_visits(visits, round_id, seed=seed)
    coverage_recompute.recompute(round_id)
