"""The register's figures of a window as columns by street or coordinator (figures.Table): who
lives in each street at the window's end and was confirmed in the round, and the households and
persons registered, updated, departed and touched in the window (the rules: metrics.py).

The register's versions become arrays once per request (facts.Facts.derived), so each of the
page's dozen windows is a few numpy passes instead of a Python loop over every version (a
city's register holds millions).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from server.services.reports.facts import Facts
from server.services.reports.figures import Table


@dataclass(frozen=True)
class _Versions:
    """Facts.versions as columns, in (entity, version) order; None ids as 0."""

    entity: np.ndarray
    persons: np.ndarray  # bool: of the persons' dataset (else households)
    version: np.ndarray
    day: np.ndarray  # ordinal
    departed: np.ndarray
    street: np.ndarray
    submitter: np.ndarray
    last_of_entity: np.ndarray  # bool: the next row is another entity's
    before_departed: np.ndarray  # bool: the entity's previous version said departed


def _versions(f: Facts) -> _Versions:
    found = f.derived.get("version_arrays")
    if found is not None:
        return found
    vs = f.versions
    entity = np.fromiter((v.entity_id for v in vs), np.int64, len(vs))
    departed = np.fromiter((v.departed for v in vs), bool, len(vs))
    same_as_next = np.zeros(len(vs), bool)
    same_as_next[:-1] = entity[1:] == entity[:-1]
    before = np.zeros(len(vs), bool)
    before[1:] = departed[:-1] & same_as_next[:-1]
    found = f.derived["version_arrays"] = _Versions(
        entity, np.fromiter((v.dataset == "persons" for v in vs), bool, len(vs)),
        np.fromiter((v.version for v in vs), np.int64, len(vs)),
        np.fromiter((v.day.toordinal() for v in vs), np.int64, len(vs)), departed,
        np.fromiter((v.street_id or 0 for v in vs), np.int64, len(vs)),
        np.fromiter((v.submitter_id or 0 for v in vs), np.int64, len(vs)),
        ~same_as_next, before)
    return found


def add_register(f: Facts, end: date, t: Table) -> None:
    """Persons living in each street at `end` (their latest version up to that day is not a
    departure), and those of them with a version in the round up to that day."""
    v = _versions(f)
    upto = v.persons & (v.day <= end.toordinal())
    rows = np.flatnonzero(upto)
    if not len(rows):
        return
    ents = v.entity[rows]
    last = rows[np.r_[ents[1:] != ents[:-1], True]]  # each person's latest version so far
    seen = np.flatnonzero(upto & (v.day >= f.round.starts_on.toordinal()))
    confirmed = np.isin(v.entity[last], v.entity[seen])
    living = ~v.departed[last]
    street = v.street[last][living]
    t.add("on_register", np.bincount(street))
    t.add("confirmed", np.bincount(street, weights=confirmed[living]).astype(np.int64))


def add_flows(f: Facts, start: date, end: date, streets: bool, t: Table) -> None:
    """Per street (or coordinator), records registered (their first version in the window),
    updated (a later version, not a departure, of a record not registered in the window),
    departed (a departure after a version that was not), touched (any version): each record
    once per key."""
    v = _versions(f)
    inside = (v.day >= start.toordinal()) & (v.day <= end.toordinal())
    key = v.street if streets else v.submitter
    first = v.version == 1
    departs = v.departed & ~v.before_departed & ~first
    updates = ~v.departed & ~first
    for persons, dataset in ((True, "persons"), (False, "households")):
        mine = inside & (v.persons == persons)
        registered = _pairs(key, v.entity, mine & first)
        t.add(f"{dataset}_registered", _per_key(registered))
        t.add(f"{dataset}_updated",
              _per_key(np.setdiff1d(_pairs(key, v.entity, mine & updates), registered)))
        t.add(f"{dataset}_touched", _per_key(_pairs(key, v.entity, mine)))
        if persons:
            t.add("persons_departed", _per_key(_pairs(key, v.entity, mine & departs)))


_SHIFT = np.int64(1) << 32  # (key, entity) as one number: ids stay below 2**31


def _pairs(key: np.ndarray, entity: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The distinct (key, entity) of the rows, each as key·2³² + entity, sorted."""
    return np.unique(key[rows] * _SHIFT + entity[rows])


def _per_key(pairs: np.ndarray) -> np.ndarray:
    return np.bincount(pairs // _SHIFT) if len(pairs) else np.zeros(0, np.int64)
