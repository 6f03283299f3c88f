"""Choice labels read back from XForms: what people see instead of stored values."""

from __future__ import annotations

import pytest

from forms import convert_xlsform
from forms.choices import choice_labels, language_code, pick_label

TRANSLATED = """
| survey |
| | type | name | label::中文 (zh) | label::English (en) |
| | select_one tenure | tenure | 住房性质 | Tenure |
| | select_multiple room | rooms | 房间 | Rooms |
| | text | note | 备注 | Note |
| choices |
| | list_name | name | label::中文 (zh) | label::English (en) |
| | tenure | rented | 租住 | Rented |
| | tenure | owned | 自有住房 | Owned |
| | room | kitchen | 厨房 | Kitchen |
| | room | bedroom | 卧室 | Bedroom |
"""

UNTRANSLATED = """
| survey |
| | type | name | label |
| | select_one yn | ok | OK? |
| choices |
| | list_name | name | label |
| | yn | y | Yes |
| | yn | n | No |
"""

INLINE_XFORM = """<h:html xmlns="http://www.w3.org/2002/xforms" xmlns:h="http://www.w3.org/1999/xhtml">
<h:head><h:title>t</h:title><model><instance><data id="t"><sex/></data></instance></model></h:head>
<h:body><select1 ref="/data/sex"><label>Sex</label>
  <item><label>男</label><value>male</value></item>
  <item><label>女</label><value>female</value></item>
</select1></h:body></h:html>"""


def test_itemset_choices_in_every_language() -> None:
    labels = choice_labels(convert_xlsform(TRANSLATED.encode(), "t.md").xform)
    assert labels["/data/tenure"]["rented"] == {"zh": "租住", "en": "Rented"}
    assert labels["/data/rooms"]["kitchen"] == {"zh": "厨房", "en": "Kitchen"}
    assert "/data/note" not in labels  # not a select


def test_untranslated_and_inline_choices() -> None:
    plain = choice_labels(convert_xlsform(UNTRANSLATED.encode(), "u.md").xform)
    assert plain["/data/ok"] == {"y": {"default": "Yes"}, "n": {"default": "No"}}
    assert choice_labels(INLINE_XFORM)["/data/sex"]["female"] == {"default": "女"}


@pytest.mark.parametrize(("name", "code"), [("中文 (zh)", "zh"), ("English (en)", "en"),
                                            ("default", "default"), ("Français (fr_CA)", "fr-ca")])
def test_language_code(name: str, code: str) -> None:
    assert language_code(name) == code


@pytest.mark.parametrize(("language", "expected"), [("zh_CN", "租住"), ("zh-CN", "租住"),
                                                    ("en", "Rented"), ("fr", "租住")])
def test_pick_label_falls_back_to_the_first_language(language: str, expected: str) -> None:
    assert pick_label({"zh": "租住", "en": "Rented"}, language) == expected


def test_not_an_xform_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="xform: not an XForm"):
        choice_labels("<html/>")
