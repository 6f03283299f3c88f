"""Coverage states: the one table of keys, colours and names that maps, legends, exports read.

The phone map and the supervisors' map once drew the same state in different colours under
different Chinese names. Now the PNG renderer, the vector tiles, the server's legends, the
supervisors' map and the phone app (the server hands the table to both in their pages) all
take them from here, so a colour or a name is changed in one place. No Flask here.

The order is the engine's: a state's code (``gis.coverage``, ``gis.tiles``) is its index in
``STATES``, and legends list the states in this order. The colours were chosen to stay apart
(CIELAB distance > 25) under protanopia, deuteranopia and tritanopia as well as normal
vision: unvisited red stands out, complete green is light, suspect almost black.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoverageState:
    key: str
    colour: str  # "#rrggbb"
    en: str
    zh: str
    meaning_en: str
    meaning_zh: str
    phone_only: bool = False  # a phone's own view of a building, never stored or exported

    def name(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en

    def meaning(self, locale: str) -> str:
        return self.meaning_zh if locale.startswith("zh") else self.meaning_en

    @property
    def rgb(self) -> tuple[int, int, int]:
        h = self.colour.lstrip("#")
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


TABLE: tuple[CoverageState, ...] = (
    CoverageState(
        "unvisited", "#dc3912", "Unvisited", "未走访",
        "No visit matched to this building yet.",
        "尚无与此建筑匹配的走访记录。",
    ),
    CoverageState(
        "visited", "#ffcc33", "Visited, units missing", "已走访，户未登记全",
        "Visited and listed, but fewer households recorded than expected.",
        "已走访登记，但已登记户数少于应登记户数。",
    ),
    CoverageState(
        "complete", "#66bd63", "Complete", "已完成",
        "Every expected household recorded, or vacant, not rented or demolished.",
        "应登记户已全部登记，或已确认空置、未出租、已拆除。",
    ),
    CoverageState(
        "revisit", "#cc79a7", "Revisit", "需再访",
        "Nobody home or refused: go again.",
        "无人在家或拒绝登记，需再次走访。",
    ),
    CoverageState(
        "suspect", "#4d004b", "Suspect", "待核查",
        "Geotag too far from the building or GPS too poor: check it before it counts.",
        "定位离建筑太远或定位精度太差，核查后才计入。",
    ),
    CoverageState(
        "queued", "#1565c0", "Waiting to send", "待发送",
        "A form for this building is waiting on this phone to be sent.",
        "本机有此建筑的记录正在等待发送。",
        phone_only=True,
    ),
)  # fmt: skip

BY_KEY: dict[str, CoverageState] = {s.key: s for s in TABLE}
STATES: tuple[str, ...] = tuple(s.key for s in TABLE if not s.phone_only)
"""The coverage states a building can have in a round, in code order."""


def names(locale: str) -> dict[str, str]:
    """State key -> name in the locale (zh… or English), for the coverage states."""
    return {k: BY_KEY[k].name(locale) for k in STATES}


def for_client(locale: str, phone: bool = False) -> list[dict[str, str]]:
    """The table as the pages hand it to JavaScript: key, colour, name, meaning (in order)."""
    return [
        {"key": s.key, "colour": s.colour, "name": s.name(locale), "meaning": s.meaning(locale)}
        for s in TABLE
        if phone or not s.phone_only
    ]
