"""Review notes on register records, in the reader's language.

The rules (entities.py, residence.py) write a record's `conflict` note in English, the
language of logs and of the API; pages show it through this catalogue, one pattern per note,
with the households it names shown by address rather than by UUID.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from server.i18n import current_locale

_UUID = r"[^\s;()]+"
#: (pattern of the English note, Chinese template); groups are the note's values.
CATALOGUE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), zh) for pattern, zh in (
        (r"ID number (?P<prefix>\S+?)… fails the GB 11643 check",
         "身份证号 {prefix}… 未通过 GB 11643 校验（格式、出生日期或校验位有误）"),
        (rf"two current residences: household (?P<new>{_UUID}) \(arrived (?P<new_date>[^)]*)\) "
         rf"and (?P<old>{_UUID}) \(arrived (?P<old_date>[^)]*)\); kept the newest submission",
         "两处现住地：{new}（{new_date} 来本地）与 {old}（{old_date} 来本地），已按最新的提交登记"),
        (rf"update of unknown (?P<dataset>\w+) entity (?P<uuid>{_UUID}); created",
         "更新了登记册中没有的记录，已新建"),
        (r"submission named list (?P<named>\w+); entity is in (?P<actual>\w+)",
         "提交指定的名单与记录所在名单不一致"),
        (r"created again by another submission", "被另一份提交重复新建"),
        (r"stale base version (?P<base>\d+) < (?P<current>\d+)",
         "基于旧版本 {base} 修改（当前为版本 {current}）"),
        (r"registration held for review", "登记待督导审核"),
    )
)
HOUSEHOLD_GROUPS = ("new", "old")


def in_words(note: str | None, household_label: Callable[[str], str] | None = None,
             locale: str | None = None) -> str:
    """The note for a page: in Chinese for zh readers, households named by `household_label`
    (UUID -> address); an unknown note is shown as written."""
    if not note:
        return ""
    name = household_label or (lambda uuid: uuid)
    zh = (locale or current_locale()).startswith("zh")
    out = note
    for pattern, template in CATALOGUE:
        def render(match: re.Match[str], template: str = template) -> str:
            values = {k: (name(v) if k in HOUSEHOLD_GROUPS else v)
                      for k, v in match.groupdict().items()}
            if zh:
                return template.format(**values)
            text = match.group(0)
            for key in HOUSEHOLD_GROUPS:
                if key in values:
                    text = text.replace(match.group(key), values[key])
            return text
        out = pattern.sub(render, out)
    return out.replace("; ", "；") if zh else out


def households_named(note: str | None) -> list[str]:
    """The household UUIDs a note names, to look their labels up in one query."""
    found: list[str] = []
    for pattern, _template in CATALOGUE:
        for match in pattern.finditer(note or ""):
            found += [v for k, v in match.groupdict().items() if k in HOUSEHOLD_GROUPS]
    return found
