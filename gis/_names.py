"""Deterministic Chinese place and person names for the demo township.

Names are built from small syllable tables (Chinese character, pinyin) so any number of
villages, streets and people can be named without collisions and without a pinyin library.
"""

from __future__ import annotations

TOWNSHIP_CODE = "XY"
TOWNSHIP_ZH = "夕阳彝族乡"
TOWNSHIP_EN = "Xiyang Yi Township"

# The first villages get hand-picked names; more villages combine syllables.
_VILLAGES = [
    ("夕阳", "Xiyang"),
    ("双河", "Shuanghe"),
    ("打黑", "Dahei"),
    ("新山", "Xinshan"),
    ("一字格", "Yizige"),
    ("木鲊", "Muzha"),
    ("大石", "Dashi"),
]
_SYLLABLES = [
    ("大", "Da"),
    ("小", "Xiao"),
    ("新", "Xin"),
    ("老", "Lao"),
    ("上", "Shang"),
    ("下", "Xia"),
    ("东", "Dong"),
    ("西", "Xi"),
    ("南", "Nan"),
    ("北", "Bei"),
    ("石", "Shi"),
    ("河", "He"),
    ("山", "Shan"),
    ("田", "Tian"),
    ("松", "Song"),
    ("龙", "Long"),
    ("马", "Ma"),
    ("水", "Shui"),
    ("坡", "Po"),
    ("箐", "Qing"),
    ("营", "Ying"),
    ("村", "Cun"),
    ("湾", "Wan"),
    ("桥", "Qiao"),
]
_DIGITS = "零一二三四五六七八九"
_SURNAMES = [
    ("李", "Li"),
    ("王", "Wang"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("赵", "Zhao"),
    ("黄", "Huang"),
    ("周", "Zhou"),
    ("普", "Pu"),
    ("毕", "Bi"),
    ("罗", "Luo"),
    ("施", "Shi"),
    ("段", "Duan"),
]
_GIVEN = [
    "建国",
    "秀英",
    "志强",
    "丽华",
    "海燕",
    "文华",
    "永红",
    "德明",
    "春梅",
    "国庆",
    "晓东",
    "玉兰",
    "明亮",
    "桂芳",
    "子龙",
    "雪梅",
]


def chinese_number(n: int) -> str:
    """1..99 as Chinese numerals (一, 十二, 二十三), as written in group names."""
    if not 0 < n < 100:
        return str(n)
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _DIGITS[tens] + "十")
    return head + (_DIGITS[ones] if ones else "")


def village_name(i: int) -> tuple[str, str]:
    """(zh, en) for the i-th village (0-based); unique for every i."""
    if i < len(_VILLAGES):
        zh, en = _VILLAGES[i]
    else:
        k = i - len(_VILLAGES)
        n = len(_SYLLABLES)
        a, b = _SYLLABLES[k % n], _SYLLABLES[(k // n) % n]
        zh, en = a[0] + b[0], a[1] + b[1].lower()
        if k >= n * n:
            zh, en = f"{zh}{k // (n * n) + 1}", f"{en} {k // (n * n) + 1}"
    return f"{zh}村委会", f"{en} Village"


def street_name(village_zh: str, village_en: str, j: int, seat: bool) -> tuple[str, str]:
    """(zh, en) for the j-th (1-based) street of a village; the seat village has 街, others 组."""
    short_zh = village_zh.removesuffix("村委会")
    short_en = village_en.removesuffix(" Village")
    if seat:
        return f"{short_zh}{chinese_number(j)}街", f"{short_en} Street {j}"
    return f"{short_zh}村第{chinese_number(j)}村民小组", f"{short_en} Group {j}"


def person_name(i: int) -> str:
    """A deterministic, plausible full name for the i-th person."""
    s = _SURNAMES[i % len(_SURNAMES)][0]
    g = _GIVEN[(i * 7 + i // len(_SURNAMES)) % len(_GIVEN)]
    return s + g
