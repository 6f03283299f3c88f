"""Personal data (ID numbers, phone numbers): who may see it, and masking for everyone else.

Supervisors and coordinators need the identities they register and follow up; admins and form
designers run the system and see masked values, and so does anyone holding a link (a draft's
test link is the designer's, whoever holds it). Every reader of personal data (pages, API,
exports, the phones' entity lists) masks with `shown_fields` / `shown_value` and records what it
showed unmasked with `audit_unmasked`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from server.extensions import db
from server.models import Role, User
from server.services import audit

# Field names (XForm node names or entity properties) holding personal data.
PERSONAL_FIELD_PATTERN = re.compile(r"(^|_)(id_?number|id_?no|idcard|sfz|phone|mobile|tel)($|_)",
                                    re.IGNORECASE)
ROLES_SEEING_PERSONAL_DATA = frozenset({Role.SUPERVISOR, Role.COORDINATOR})


def is_personal_field(name: str) -> bool:
    return bool(PERSONAL_FIELD_PATTERN.search(name.rsplit("/", 1)[-1]))


def can_see_personal_data(user: User | None, *, via_link: bool = False) -> bool:
    """Whether `user` sees personal data unmasked; never through a link anyone may hold."""
    return not via_link and user is not None and user.role_enum in ROLES_SEEING_PERSONAL_DATA


def mask(value: str | None) -> str:
    """Keep enough to recognise a record (first 3, last 2), hide the rest."""
    if not value:
        return value or ""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def shown_value(name: str, value: Any, unmasked: bool) -> Any:
    """A field's value as the reader may see it: personal fields masked unless `unmasked`."""
    if unmasked or value is None or value == "" or not is_personal_field(name):
        return value
    return mask(str(value))


def shown_fields(fields: Mapping[str, Any], unmasked: bool) -> tuple[dict[str, Any], bool]:
    """The fields as the reader may see them, and whether a personal value is shown unmasked
    (the caller then calls `audit_unmasked`)."""
    out = {name: shown_value(name, value, unmasked) for name, value in fields.items()}
    shown = unmasked and any(
        value not in (None, "") and is_personal_field(name) for name, value in fields.items())
    return out, shown


def audit_unmasked(action: str, user: User | None, *, object_type: str,
                   object_id: str | int = "", **detail: Any) -> None:
    """Record, and commit, that personal data was shown unmasked to `user`."""
    audit.record(action, user=user, object_type=object_type, object_id=object_id, **detail)
    db.session.commit()
