"""Chinese in every word of the phone app (issue 12, item 3): every string the app's code passes
to t(), and every fixed string of the form engine the app translates (engine_i18n.js
ENGINE_STRINGS), has its Chinese in the app's catalogue."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.paths import REPO

SRC = REPO / "server" / "client" / "src" / "app"
CATALOGUE = REPO / "server" / "translations" / "zh_CN" / "app.json"
CALL = re.compile(r"""\bt\(\s*(['"])((?:\\.|(?!\1).)*)\1""")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def app_strings() -> set[str]:
    found = set()
    for path in SRC.glob("*.js"):
        found.update(_unescape(m.group(2)) for m in CALL.finditer(path.read_text("utf-8")))
    return found


def engine_strings() -> list[str]:
    source = (SRC / "engine_i18n.js").read_text("utf-8")
    block = re.search(r"ENGINE_STRINGS = \[(.*?)\];", source, re.S)
    assert block, "engine_i18n.js lists the engine's strings in ENGINE_STRINGS"
    return [_unescape(m.group(2)) for m in re.finditer(r"(['\"])((?:\\.|(?!\1).)*)\1",
                                                       block.group(1))]


def test_the_scan_finds_the_strings_it_should():
    strings = app_strings()
    assert {"Continue filling in", "Discard", "GPS accuracy ±{m} m"} <= strings
    assert {"Choose image", "Take picture", "Finding your location"} <= set(engine_strings())


@pytest.mark.parametrize("source", ["app", "engine"])
def test_every_phone_string_has_its_chinese(source):
    catalogue = json.loads(CATALOGUE.read_text("utf-8"))
    strings = app_strings() if source == "app" else set(engine_strings())
    missing = sorted(s for s in strings if not catalogue.get(s) or catalogue[s] == s)
    assert missing == [], missing


def test_translations_keep_their_placeholders():
    catalogue = json.loads(CATALOGUE.read_text("utf-8"))
    wrong = [k for k, v in catalogue.items()
             if sorted(re.findall(r"\{\w+\}", k)) != sorted(re.findall(r"\{\w+\}", v))]
    assert wrong == [], wrong
