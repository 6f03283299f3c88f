"""Review notes the register rules write (in English) read in Chinese on the pages."""

from __future__ import annotations

import re

import pytest

from server.services.register import entities, notes
from server.services.register import residence as register

NOTES = [
    ("ID number 110… fails the GB 11643 check", "身份证号 110… 未通过 GB 11643 校验"),
    ("two current residences: household H2 (arrived 2016-05-01) and H1 (arrived 2016-09-01); "
     "kept the newest submission", "两处现住地：二号楼 301（2016-05-01 来本地）与 一号楼 301"),
    ("update of unknown persons entity abc-1; created", "更新了登记册中没有的记录，已新建"),
    ("submission named list persons; entity is in households", "名单不一致"),
    ("created again by another submission", "被另一份提交重复新建"),
    ("stale base version 1 < 3", "基于旧版本 1 修改（当前为版本 3）"),
    (entities.HELD_NOTE, "登记待督导审核"),
]
LABELS = {"H1": "一号楼 301", "H2": "二号楼 301"}


@pytest.mark.parametrize(("note", "chinese"), NOTES)
def test_each_note_in_chinese_with_households_by_address(app, note, chinese):
    with app.test_request_context("/"):
        shown = notes.in_words(note, LABELS.get, locale="zh_CN")
    assert chinese in shown
    assert not re.search(r"[A-Za-z]{4,}", shown.replace("GB 11643", ""))  # no English left


def test_several_notes_and_english_readers(app):
    both = f"{NOTES[4][0]}; {NOTES[5][0]}"
    expected = "被另一份提交重复新建；基于旧版本 1 修改（当前为版本 3）"
    assert notes.in_words(both, locale="zh_CN") == expected
    english = notes.in_words(NOTES[1][0], LABELS.get, locale="en")
    assert "household 二号楼 301 (arrived 2016-05-01) and 一号楼 301" in english
    assert notes.in_words("a note nobody catalogued", locale="zh_CN") == "a note nobody catalogued"


def test_the_rules_write_only_catalogued_notes(app):
    """What apply_person_rules really writes matches the catalogue (a reworded rule fails)."""
    bad_id = register.apply_person_rules({}, {"id_number": "110105194912310021"}, None)
    moved = register.apply_person_rules(
        {"household": "H1", "arrival_date": "2016-09-01", "status": "resident"},
        {"household": "H2", "arrival_date": "2016-05-01"}, None)
    for written in (bad_id, moved):
        shown = notes.in_words(written, LABELS.get, locale="zh_CN")
        assert not re.search(r"[A-Za-z]{4,}", shown.replace("GB 11643", "")), shown
