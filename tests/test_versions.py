"""versions.Kept: the per-process copies the map's poll and tiles read (area tree, users' and
coordinators' streets, filters) are built once per signature and database."""

from __future__ import annotations

from server.services import versions


def test_a_kept_value_is_built_again_only_when_its_signature_moves(app) -> None:
    kept: versions.Kept[list[int]] = versions.Kept(most=8)
    built: list[str] = []

    def build(tag: str):
        return lambda: built.append(tag) or [len(built)]

    assert kept.get("k", ("sig", 1), build("a")) == [1]
    assert kept.get("k", ("sig", 1), build("b")) == [1]  # kept: nothing built
    assert kept.get("k", ("sig", 2), build("c")) == [2]  # the signature moved
    assert kept.get("other", ("sig", 2), build("d")) == [3]  # another key
    assert built == ["a", "c", "d"]


def test_kept_values_are_per_database(app, postgres_app) -> None:
    kept: versions.Kept[str] = versions.Kept(most=8)
    with app.app_context():
        assert kept.get("k", 1, lambda: "sqlite") == "sqlite"
    with postgres_app.app_context():
        assert kept.get("k", 1, lambda: "postgresql") == "postgresql"
    with app.app_context():
        assert kept.get("k", 1, lambda: "built again") == "sqlite"


def test_past_most_keys_every_value_is_dropped(app) -> None:
    kept: versions.Kept[int] = versions.Kept(most=2)
    kept.get("a", 0, lambda: 1)
    kept.get("b", 0, lambda: 2)
    assert kept.get("c", 0, lambda: 3) == 3  # the third key: the first two dropped
    assert kept.get("a", 0, lambda: 10) == 10
