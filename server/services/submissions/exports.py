"""Who sees which submissions, their fields as tables, and exports (CSV, XLSX, GeoJSON).

Personal fields (ID numbers, phones) are masked unless privacy.can_see_personal_data(user);
server.services.scope decides which submissions each user sees. Callers audit every unmasked
view and every export (see `audit_read`).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from forms.instance import parse_instance
from server import localtime
from server.extensions import db
from server.models import Form, FormVersion, Submission, User
from server.models.submissions import PROCESSING_STATES, REVIEW_STATES
from server.services import audit, privacy, scope, spreadsheets, storage
from server.services.coverage import report_days
from server.services.ingest.accept import form_shape
from server.services.processing import pipeline
from server.services.submissions import review

META_COLUMNS = ["instance_id", "form_id", "form_version", "submitter", "received_at",
                "review_state", "processing_state", "lon", "lat", "gps_accuracy"]


@dataclass
class Filters:
    form: str | None = None
    coordinator: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    review_state: str | None = None
    processing_state: str | None = None
    # Versions an edit replaced are left out unless asked for: a corrected submission is one
    # line, the correction (its page links the original).
    replaced: bool = False

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        review = args.get("review_state") or None
        processing = args.get("processing_state") or None
        return cls(
            form=args.get("form") or None,
            coordinator=args.get("coordinator") or None,
            date_from=day("date_from"),
            date_to=day("date_to"),
            review_state=review if review in REVIEW_STATES else None,
            processing_state=processing if processing in PROCESSING_STATES else None,
            replaced=args.get("replaced") in ("1", "true", "on"),
        )


def query(user: User, filters: Filters) -> sa.Select:
    q = (sa.select(Submission).join(FormVersion, Submission.form_version_id == FormVersion.id)
         .join(Form, FormVersion.form_id == Form.id))
    q = scope.where_submission(q, user)
    if filters.form:
        q = q.where(Form.xml_form_id == filters.form)
    if filters.coordinator:
        q = q.where(Submission.submitter_id.in_(
            sa.select(User.id).where(User.username == filters.coordinator)))
    if filters.date_from:  # the township's days, not UTC's
        q = q.where(Submission.received_at >= localtime.utc_start_of(filters.date_from))
    if filters.date_to:
        q = q.where(Submission.received_at < localtime.utc_end_of(filters.date_to))
    if filters.review_state:
        q = q.where(Submission.review_state == filters.review_state)
    if filters.processing_state:
        q = q.where(Submission.processing_state == filters.processing_state)
    if not filters.replaced:
        q = q.where(Submission.superseded.is_(False))
    return q.order_by(Submission.id.desc())


def get_visible(user: User, submission_id: int) -> Submission | None:
    q = scope.where_submission(sa.select(Submission).where(Submission.id == submission_id), user)
    return db.session.scalar(q)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@dataclass
class Record:
    """One submission's fields: main columns and, per repeat, one row per occurrence."""

    main: dict[str, str] = field(default_factory=dict)
    repeats: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def flatten(sub: Submission, xml: bytes | None = None) -> Record:
    """The submission's fields; `xml`: its stored XML when the caller read it already."""
    shape = form_shape(sub.form_version)
    root = parse_instance(xml if xml is not None else storage.get(sub.storage_key,
                                                                  sub.xml_sha256))
    root_path = "/" + _local(root.tag)
    record = Record()
    counters: dict[str, int] = {}

    def walk(el: Any, path: str, rel: str, row: dict[str, str], key: str) -> None:
        for child in el:
            name = _local(child.tag)
            child_path = f"{path}/{name}"
            child_rel = f"{rel}/{name}" if rel else name
            if child_path in shape.repeat_paths:
                counters[f"{key}{child_path}"] = n = counters.get(f"{key}{child_path}", 0) + 1
                child_key = f"{key}/{name}[{n}]"
                sub_row = {"key": child_key, "parent_key": key}
                record.repeats.setdefault(child_path.removeprefix(root_path + "/"), []).append(
                    sub_row)
                walk(child, child_path, "", sub_row, child_key)
            elif len(child):
                walk(child, child_path, child_rel, row, key)
            else:
                row[child_rel] = (child.text or "").strip()

    walk(root, root_path, "", record.main, sub.instance_id)
    return record


def masked(record: Record, unmasked: bool) -> Record:
    if unmasked:
        return record

    def clean(row: dict[str, str]) -> dict[str, str]:
        return privacy.shown_fields(row, unmasked)[0]

    return Record(clean(record.main), {k: [clean(r) for r in rows]
                                       for k, rows in record.repeats.items()})


def meta(sub: Submission) -> dict[str, Any]:
    return {
        "instance_id": sub.instance_id,
        "form_id": sub.form_version.form.xml_form_id,
        "form_version": sub.form_version.version,
        "submitter": sub.submitter.username if sub.submitter else "",
        "received_at": localtime.export_text(sub.received_at),
        "review_state": sub.review_state,
        "processing_state": sub.processing_state,
        "lon": sub.lon,
        "lat": sub.lat,
        "gps_accuracy": sub.gps_accuracy,
    }


@dataclass
class Table:
    columns: list[str]
    rows: list[dict[str, Any]]
    sheets: dict[str, tuple[list[str], list[dict[str, Any]]]]


def build_table(user: User, subs: list[Submission]) -> Table:
    unmasked = privacy.can_see_personal_data(user)
    columns: dict[str, None] = dict.fromkeys(META_COLUMNS)
    rows: list[dict[str, Any]] = []
    sheets: dict[str, tuple[dict[str, None], list[dict[str, Any]]]] = {}
    for sub in subs:
        rec = masked(flatten(sub), unmasked)
        rows.append({**meta(sub), **rec.main})
        columns.update(dict.fromkeys(rec.main))
        for name, rep_rows in rec.repeats.items():
            cols, out = sheets.setdefault(name, ({"key": None, "parent_key": None}, []))
            for r in rep_rows:
                cols.update(dict.fromkeys(r))
                out.append(r)
    return Table(list(columns), rows, {k: (list(c), r) for k, (c, r) in sheets.items()})


def to_csv(table: Table) -> bytes:
    return spreadsheets.csv_bytes(
        table.columns, ([row.get(c) for c in table.columns] for row in table.rows))


def to_xlsx(table: Table) -> bytes:
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False,
                                     "strings_to_formulas": False, "strings_to_urls": False})
    used: set[str] = set()

    def sheet(name: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
        title = name.replace("/", "-")[:31]
        n = 2
        while title in used:
            title = f"{name[:28]}~{n}"
            n += 1
        used.add(title)
        ws = book.add_worksheet(title)
        spreadsheets.write_xlsx_row(ws, 0, columns)
        for i, row in enumerate(rows, start=1):
            spreadsheets.write_xlsx_row(ws, i, [row.get(c) for c in columns])

    sheet("submissions", table.columns, table.rows)
    for name, (columns, rows) in table.sheets.items():
        sheet(name, columns, rows)
    book.close()
    return buf.getvalue()


def to_geojson(table: Table) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            if row.get("lon") is not None else None,
            "properties": {k: v for k, v in row.items() if k not in ("lon", "lat")},
        }
        for row in table.rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False).encode("utf-8")


EXPORTS = {
    "csv": (to_csv, "text/csv; charset=utf-8"),
    "xlsx": (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "geojson": (to_geojson, "application/geo+json"),
}


def export(user: User, filters: Filters, fmt: str) -> tuple[bytes, str]:
    """The filtered submissions in one format; the export is audited."""
    writer, content_type = EXPORTS[fmt]
    subs = list(db.session.scalars(query(user, filters)))
    data = writer(build_table(user, subs))
    audit.record("submissions.export", user=user, object_type="submission", format=fmt,
                 count=len(subs), unmasked=privacy.can_see_personal_data(user),
                 filters={k: str(v) for k, v in vars(filters).items() if v})
    db.session.commit()
    return data, content_type


def audit_read(user: User, sub: Submission) -> None:
    """Record that personal data of one submission was shown unmasked."""
    if privacy.can_see_personal_data(user):
        privacy.audit_unmasked("submission.view_personal", user, object_type="submission",
                               object_id=sub.id, instance_id=sub.instance_id)


def set_review_state(user: User, sub: Submission, state: str, reason: str | None = None,
                     comment: str | None = "") -> None:
    """Record a supervisor's decision (server.services.submissions.review: a reason and a
    comment when it sends the submission back) and re-derive coverage when it changes whether
    the visit counts."""
    old, _decision = review.decide(user, sub, state, reason, comment)
    report_days.refresh_submission(sub.id)  # the report pages' approved / reviewed sums
    db.session.commit()
    if (old == "rejected") != (state == "rejected"):
        # A rejected visit no longer counts for coverage (and counts again when un-rejected):
        # re-derive from the raw submission, as any replay would.
        pipeline.process_one(sub.id)
