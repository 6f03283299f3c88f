"""Column helpers shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# JSON that is JSONB on PostgreSQL (indexable) and TEXT-backed JSON on SQLite.
JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
