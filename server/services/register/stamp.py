"""The register's token (server/services/stamps.py): it changes whenever a transaction writes
a record, a version of one or a held registration, so the report pages keep the round's
versions and held registrations per process until it does (tests/bench/RESULTS.md, "Report
pages at a million buildings, third pass"). Every register write goes through the ORM (the
processing step, a supervisor's decision, an edit): a flush that carries one notes it."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.models import Entity, EntityVersion, RegisterConflict
from server.services.stamps import Stamp

NAME = "register"
STAMP = Stamp(NAME, most=4)  # (a city's versions are many: few rounds kept at once)
_REGISTER = (Entity, EntityVersion, RegisterConflict)


def _after_flush(session: Session, _context) -> None:
    if STAMP.changed_here(session):
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, _REGISTER):
            STAMP.note_changed(session)
            return


sa.event.listen(Session, "after_flush", _after_flush)
