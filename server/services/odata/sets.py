"""The feed's entity sets and how one is read: the register (Persons, Households, Buildings,
RentedUnits) and one set of submissions per form, flattened like ODK Central's feed.

Rows come from the same places as the exports (server.services.register.exports,
server.services.submissions.exports): scoped by server.services.scope, ID and phone numbers
masked by server.services.privacy. Empty answers are null. Without `$filter` or `$orderby`
a page is read with LIMIT/OFFSET; with them every row the reader may see is read, filtered on
its shown values (server.services.odata.query), sorted and sliced. Each read of a set is
audited (what, how many rows, masked or not, the filter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from forms.xform_info import JR, parse_xform, primary_instance_root
from server import localtime
from server.extensions import db
from server.models import Form, FormVersion, Submission, User
from server.services import audit, privacy, storage
from server.services.odata.query import Options
from server.services.register import exports as register_exports
from server.services.submissions import exports as submission_exports

#: Register sets: entity set name -> (entity type name, register list).
REGISTER = {"Persons": ("Person", "persons"), "Households": ("Household", "households"),
            "Buildings": ("Building", "buildings"), "RentedUnits": ("RentedUnit", "rentals")}
SUBMISSIONS_PREFIX = "Submissions_"
KEY = "__id"
SUBMISSION_META = {
    "__id": "Edm.String", "__form_version": "Edm.String", "__submitter": "Edm.String",
    "__received_at": "Edm.DateTimeOffset", "__review_state": "Edm.String",
    "__processing_state": "Edm.String", "__lon": "Edm.Double", "__lat": "Edm.Double",
    "__gps_accuracy": "Edm.Double",
}
_NOT_IDENTIFIER = re.compile(r"[^0-9A-Za-z_]")


@dataclass(frozen=True)
class EntitySet:
    name: str
    type_name: str
    properties: dict[str, str]  # name -> Edm type; the key (__id) first
    source: str  # a register list, or a form's xml id
    is_register: bool
    fields: tuple[tuple[str, str], ...] = ()  # submissions: (form field path, property)


def identifier(text: str) -> str:
    """An OData SimpleIdentifier from a form id or field path."""
    name = _NOT_IDENTIFIER.sub("_", text)[:120] or "_"
    return "_" + name if name[0].isdigit() else name


def entity_sets() -> list[EntitySet]:
    """Every set the feed offers (the same for everyone: rows are what differ)."""
    sets = []
    for name, (type_name, dataset) in REGISTER.items():
        columns = register_exports.columns(dataset)
        properties = {c: register_exports.column_type(dataset, c) or "Edm.String"
                      for c in _unique(columns)}
        sets.append(EntitySet(name, type_name, properties, dataset, True))
    forms = db.session.scalars(sa.select(Form).where(Form.state != "draft")
                               .order_by(Form.xml_form_id))
    for form in forms:
        fields = _form_fields(form)
        properties = dict(SUBMISSION_META)
        properties.update((prop, "Edm.String") for _path, prop in fields)
        suffix = identifier(form.xml_form_id)
        sets.append(EntitySet(SUBMISSIONS_PREFIX + suffix, "Submission_" + suffix, properties,
                              form.xml_form_id, False, fields))
    return sets


def find(name: str) -> EntitySet | None:
    return next((s for s in entity_sets() if s.name == name), None)


def _unique(names: list[str]) -> list[str]:
    return [n for n in dict.fromkeys(names) if identifier(n) == n]


def _form_fields(form: Form) -> tuple[tuple[str, str], ...]:
    """(field path, property name) of every question outside repeats and `meta`, over all
    published versions, newest first."""
    versions = db.session.execute(
        sa.select(FormVersion.id, FormVersion.md5, FormVersion.xform)
        .where(FormVersion.form_id == form.id, FormVersion.state != "draft")
        .order_by(FormVersion.id.desc())).all()
    paths: dict[str, None] = {}
    for version_id, md5, xform in versions:
        paths.update(dict.fromkeys(_leaf_paths(version_id, md5, xform)))
    taken = set(SUBMISSION_META)
    out = []
    for path in paths:
        name = base = identifier(path.replace("/", "_"))
        n = 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out.append((path, name))
    return tuple(out)


@lru_cache(maxsize=256)
def _leaf_paths(version_id: int, md5: str, xform: str) -> tuple[str, ...]:
    data = primary_instance_root(parse_xform(xform))
    out: list[str] = []
    repeats: set[str] = set()

    def find_repeats(el: Any, rel: str) -> None:
        for child in el:
            child_rel = f"{rel}/{child.tag.rsplit('}', 1)[-1]}".lstrip("/")
            if child.get(f"{{{JR}}}template") is not None:
                repeats.add(child_rel)
            find_repeats(child, child_rel)

    def walk(el: Any, rel: str) -> None:
        for child in el:
            name = child.tag.rsplit("}", 1)[-1]
            child_rel = f"{rel}/{name}" if rel else name
            if child_rel in repeats or child_rel == "meta":
                continue  # repeats (template and instances) are not flattened; meta is __id
            if len(child):
                walk(child, child_rel)
            elif child_rel not in out:
                out.append(child_rel)

    find_repeats(data, "")
    walk(data, "")
    return tuple(out)


# --- reading -------------------------------------------------------------------------------


def read(user: User, es: EntitySet, options: Options, page_size: int, *, via: str = ""
         ) -> tuple[list[dict[str, Any]], int]:
    """One page of the set for `user` and the number of rows matching; audited."""
    limit = page_size if options.top is None else min(options.top, page_size)
    query = _query(user, es)
    if options.predicate is None and not options.orderby:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(
            query.order_by(None).subquery()))
        page = _rows(user, es, query.offset(options.skip).limit(limit)) if limit else []
    else:
        matching = [r for r in _rows(user, es, query)
                    if options.predicate is None or options.predicate(r)]
        for name, descending in reversed(options.orderby):
            matching.sort(key=lambda r, n=name: (r.get(n) is not None, _sort_key(r.get(n))),
                          reverse=descending)
        total = len(matching)
        page = matching[options.skip:options.skip + limit]
    shown = es.properties if options.select is None else dict.fromkeys([KEY, *options.select])
    page = [{k: r.get(k) for k in shown} for r in page]
    personal = any(privacy.is_personal_field(p) for p in es.properties)
    audit.record("odata.read", user=user, object_type="odata", object_id=es.name[:64],
                 count=len(page), total=total, skip=options.skip, top=options.top,
                 filter=options.filter_text[:500],
                 unmasked=personal and privacy.can_see_personal_data(user), via=via)
    db.session.commit()
    return page, total


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, value
    return 1, "" if value is None else str(value)


def _query(user: User, es: EntitySet) -> sa.Select:
    if es.is_register:
        return register_exports.query(es.source, user)
    q = submission_exports.query(user, submission_exports.Filters(form=es.source))
    return q.where(Submission.superseded.is_(False)).order_by(None).order_by(Submission.id)


def _rows(user: User, es: EntitySet, query: sa.Select) -> list[dict[str, Any]]:
    if es.is_register:
        return [row for row, _shown in register_exports.rows(es.source, user, query)]
    unmasked = privacy.can_see_personal_data(user)
    subs = db.session.scalars(query.options(
        sa.orm.joinedload(Submission.form_version), sa.orm.joinedload(Submission.submitter)
    )).all()
    xml = storage.get_many([(s.storage_key, s.xml_sha256) for s in subs])
    out = []
    for sub in subs:
        record = submission_exports.flatten(sub, xml[sub.storage_key])
        fields = submission_exports.masked(record, unmasked).main
        row: dict[str, Any] = {
            "__id": sub.instance_id, "__form_version": sub.form_version.version,
            "__submitter": sub.submitter.username if sub.submitter else None,
            "__received_at": localtime.local(sub.received_at).isoformat(timespec="seconds"),
            "__review_state": sub.review_state, "__processing_state": sub.processing_state,
            "__lon": sub.lon, "__lat": sub.lat, "__gps_accuracy": sub.gps_accuracy,
        }
        row.update((prop, fields.get(path) or None) for path, prop in es.fields)
        out.append(row)
    return out
