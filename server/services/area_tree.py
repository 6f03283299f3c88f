"""The area tree as plain, immutable copies of the areas, kept per process until the areas'
signature changes (an areas import bumps it: scope.areas_edited), so a request builds no ORM
object per street (a city has thousands). The reports, the rental ledger and the coverage
tables (server/services/coverage/tables.py, its arrays built from these rows) read it."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from server.extensions import db
from server.models import Area
from server.services import scope, versions


@dataclass(frozen=True, slots=True)
class AreaView:
    """An area's columns, read once: what the report pages, workbooks and PDFs show."""

    id: int
    code: str
    parent_id: int | None
    level: str
    path: str
    name_zh: str
    name_en: str | None

    def name(self, locale: str) -> str:
        """As Area.name: the English name where there is one and the reader reads English."""
        return self.name_en if locale.startswith("en") and self.name_en else self.name_zh


_TREE: versions.Kept[tuple] = versions.Kept(16)


def tree() -> tuple[list[AreaView], dict[int, list[int]]]:
    """(every area by path, each street's chain of ids from itself up to the township)."""
    return _TREE.get(None, scope.areas_signature(), _read)


def _read() -> tuple[list[AreaView], dict[int, list[int]]]:
    areas = sorted((AreaView(*row) for row in db.session.execute(
        sa.select(Area.id, Area.code, Area.parent_id, Area.level, Area.path, Area.name_zh,
                  Area.name_en))), key=lambda a: a.path)  # Python's order, not the collation's
    by_id = {a.id: a for a in areas}
    chains = {}
    for a in areas:
        if a.level == "street":
            chain = [a.id]
            while by_id[chain[-1]].parent_id is not None and by_id[chain[-1]].parent_id in by_id:
                chain.append(by_id[chain[-1]].parent_id)
            chains[a.id] = chain
    return areas, chains
