"""Chinese resident identity numbers (GB 11643-1999): shape, birth date, check digit.

The same rule is enforced twice: by the form's own XPath constraint on the phone
(`resident_id_constraint`, offline) and by the server's register rules (this module).
"""

from __future__ import annotations

import re
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
SHAPE = r"^[1-9][0-9]{16}[0-9X]$"
_SHAPE = re.compile(SHAPE)


def check_char(first17: str) -> str:
    """The 18th character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def birth_date(s: str) -> date | None:
    """Birth date encoded in characters 7-14 (YYYYMMDD), or None if impossible."""
    if len(s) != 18 or not s[6:14].isdigit():
        return None
    try:
        return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return None


def validate_resident_id(s: str) -> bool:
    """True for an 18-character ID with a valid shape, birth date and check digit.

    A lower-case 'x' is refused: the register stores the canonical upper-case form.
    """
    if not isinstance(s, str) or not _SHAPE.match(s):
        return False
    return birth_date(s) is not None and check_char(s[:17]) == s[17]


def weighted_sum_xpath(ref: str = ".") -> str:
    """XPath for the GB 11643 weighted sum of ref's first 17 digits (ODK substr is 0-based)."""
    terms = [f"number(substr({ref}, {i}, {i + 1}))*{w}" for i, w in enumerate(WEIGHTS)]
    return " + ".join(terms)


def resident_id_constraint(ref: str = ".") -> str:
    """The constraint the township forms carry on the ID question: shape and check digit."""
    total = f"({weighted_sum_xpath(ref)}) mod 11"
    return (
        f"regex({ref}, '{SHAPE}') and "
        f"substr('{CHECK_CHARS}', {total}, {total} + 1) = substr({ref}, 17, 18)"
    )
