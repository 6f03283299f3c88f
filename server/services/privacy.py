"""Personal data (ID numbers, phone numbers): who may see it, and masking for everyone else.

Supervisors and coordinators need the identities they register and follow up; admins and form
designers run the system and see masked values. Every view or export that shows unmasked
personal data records an audit event (server.services.audit) naming what was shown.
"""

from __future__ import annotations

import re

from server.models import Role, User

# Field names (XForm node names or entity properties) holding personal data.
PERSONAL_FIELD_PATTERN = re.compile(r"(^|_)(id_?number|id_?no|idcard|sfz|phone|mobile|tel)($|_)",
                                    re.IGNORECASE)
ROLES_SEEING_PERSONAL_DATA = frozenset({Role.SUPERVISOR, Role.COORDINATOR})


def is_personal_field(name: str) -> bool:
    return bool(PERSONAL_FIELD_PATTERN.search(name.rsplit("/", 1)[-1]))


def can_see_personal_data(user: User | None) -> bool:
    return user is not None and user.role_enum in ROLES_SEEING_PERSONAL_DATA


def mask(value: str | None) -> str:
    """Keep enough to recognise a record (first 3, last 2), hide the rest."""
    if not value:
        return value or ""
    if len(value) <= 5:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 5) + value[-2:]
