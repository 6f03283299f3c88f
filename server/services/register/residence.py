"""Register rules for persons: one current residence, arrivals and departures.

来有登记、去有注销 and 居住地唯一性 (docs/DOMAIN.md), as applied when a submission changes a
person entity (server.services.register.entities):

- A person is keyed by resident ID number. A submission that creates a person whose ID number
  the register already holds (the coordinator's phone did not have them in persons.csv, e.g.
  they lived on another coordinator's street) updates that person instead of creating a second
  record. So a person has one record and therefore one current residence.
- Registering the person in another household ends the older residence: the record moves,
  `moved_from` names the previous household and `moved_on` the arrival date; the previous
  residence stays in the person's history (their EntityVersions). When the new arrival date is
  earlier than the current residence's, the two residences contradict each other: the move is
  still recorded (the newest submission wins) and the record is flagged for review.
- The departure form sets status `departed` with its date (deregistered on departure). A
  departed person registered again becomes `resident`; the departure stays in the history.
- Whoever knows an ID number must not take the person over: a change of a person whose street
  is outside the submitter's areas, or one that changes who the person is (IDENTITY_FIELDS), is
  held for a supervisor of the person's area (`hold_reason`, server.services.register.review)
  and reveals nothing of the record to the submitter meanwhile.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from forms.idnumber import validate_resident_id
from server import localtime
from server.extensions import db
from server.i18n import N_
from server.models import Entity, Submission

RESIDENT, DEPARTED = "resident", "departed"
DEPARTURE_FIELDS = ("departure_date", "destination", "departure_reason", "departed_on")
#: Properties that say who a person is; a change of any of them waits for a supervisor.
IDENTITY_FIELDS = ("full_name", "id_number", "sex", "birth_date")


def normalise_id(text: str) -> str:
    """The register's canonical form: no spaces, upper-case check character."""
    return "".join(str(text).split()).upper()


def person_by_id_number(id_number: str) -> Entity | None:
    """The person record holding this ID number (newest first if duplicates slipped in)."""
    number = normalise_id(id_number or "")
    if not number:
        return None
    return db.session.scalar(
        sa.select(Entity)
        .where(
            Entity.dataset == "persons",
            Entity.deleted.is_(False),
            Entity.natural_key == number,
        )
        .order_by(Entity.updated_at.desc(), Entity.id.desc())
        .limit(1)
    )


def hold_reason(person: Entity, incoming: dict[str, Any], streets: frozenset[int] | None,
                is_edit: bool = False) -> str | None:
    """Why a submission's change of an existing person must wait for review, or None.

    `streets` are the submitter's (server.services.scope; None: everywhere). An edit of the
    submission that last wrote the person may correct their identity, not move them.
    """
    if streets is not None and person.area_id not in streets:
        return N_("registered from outside the person's area")
    if is_edit:
        return None
    old = person.properties or {}
    changed = [name for name in IDENTITY_FIELDS if _differs(old.get(name), incoming.get(name),
                                                            name)]
    return f"would change {', '.join(changed)}" if changed else None


def _differs(old: Any, new: Any, name: str) -> bool:
    clean = normalise_id if name == "id_number" else (lambda t: "".join(str(t).split()))
    return bool(old) and bool(new) and clean(old) != clean(new)


def apply_person_rules(
    old: dict[str, Any], new: dict[str, Any], submission: Submission | None
) -> str | None:
    """Adjust a person's new properties in place; return a conflict note for review, if any."""
    notes = []
    if new.get("id_number"):
        new["id_number"] = normalise_id(new["id_number"])
        if not validate_resident_id(new["id_number"]):
            notes.append(f"ID number {new['id_number'][:3]}… fails the GB 11643 check")
    when = submission.received_at if submission is not None else None
    received = localtime.local_date(when).isoformat() if when else ""
    status = new.get("status") or RESIDENT
    if status == DEPARTED:
        if old.get("status") != DEPARTED or "departed_on" not in old:
            new["departed_on"] = new.get("departure_date") or received
        return "; ".join(notes) or None
    old_household, new_household = old.get("household"), new.get("household")
    if old and old_household and new_household and old_household != new_household:
        new["moved_from"] = old_household
        new["moved_on"] = new.get("arrival_date") or received
        old_arrival, new_arrival = str(old.get("arrival_date") or ""), str(
            new.get("arrival_date") or ""
        )
        if old.get("status", RESIDENT) == RESIDENT and new_arrival and old_arrival > new_arrival:
            notes.append(
                f"two current residences: household {new_household} (arrived {new_arrival}) "
                f"and {old_household} (arrived {old_arrival}); kept the newest submission"
            )
    if old.get("status") == DEPARTED:  # back again: the departure stays in the history
        for name in DEPARTURE_FIELDS:
            new.pop(name, None)
    new["status"] = RESIDENT
    return "; ".join(notes) or None


def residence_history(person: Entity) -> list[dict[str, Any]]:
    """Each household the person lived in, in order, with arrival and departure dates."""
    out: list[dict[str, Any]] = []
    for v in person.versions:
        props = v.properties or {}
        household = props.get("household")
        if household and (not out or out[-1]["household"] != household):
            out.append({"household": household, "arrived": props.get("arrival_date"),
                        "left": None, "version": v.version})
            if len(out) > 1:
                out[-2]["left"] = props.get("moved_on") or props.get("arrival_date")
        if props.get("status") == DEPARTED and out and out[-1]["left"] is None:
            out[-1]["left"] = props.get("departed_on") or props.get("departure_date")
    return out
