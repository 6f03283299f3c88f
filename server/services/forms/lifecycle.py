"""Form lifecycle: upload an XLSForm as a draft, publish it, close it; form media.

A version is immutable once uploaded: the same form id and version with other content is
refused (phones identify what they hold by id + version + md5). Publishing makes a draft
the version phones download; the one it replaces becomes "superseded" and keeps accepting
submissions from phones that still hold it. A closed form accepts nothing new.

Nothing is written until the whole upload (form and media) has been checked, so a bad
upload leaves no Form, FormVersion or FormMedia row behind.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from flask import current_app

from forms import ConvertedForm, FormError, convert_xlsform, ensure_version
from server.extensions import db
from server.i18n import current_locale
from server.models import Form, FormMedia, FormVersion, Role, User
from server.models._types import utcnow
from server.services import audit
from server.services.errors import ServiceError
from server.services.forms import draft_testing, entity_lists
from server.services.submissions import review

#: Entity lists the server renders for every user (see server.services.register.entities).
# Files the server makes for each phone (entity lists, settings, the returned list): never
# uploaded, never missing.
GENERATED_MEDIA = ("streets.csv", "buildings.csv", "households.csv", "persons.csv", "settings.csv",
                   review.RETURNED_CSV)
DESIGNER_ROLES = frozenset({Role.ADMIN, Role.DESIGNER})


class FormServiceError(ServiceError):
    """A refused form operation. Designers read both languages side by side (the upload page,
    the forms API's {"zh", "en"} message), so the answer carries both, plus `details`."""

    def __init__(self, message: str, /, *, details: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.details = details or {}

    def bilingual(self) -> dict[str, str]:
        return {"zh": self.localized("zh_CN"), "en": self.localized("en")}

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.bilingual(), "status": self.status,
                **self.details}


class InvalidForm(FormServiceError):
    """The file is not a valid XLSForm: 422 (413 when too large) with the form library's
    FormError, whose own catalogue words it in both languages with sheet, row and column."""

    code = "invalid_form"

    def __init__(self, err: FormError) -> None:
        text = f"{err.code}: {err.message_en} {err.fix_en}"
        if err.pyxform_message:
            text += f" [pyxform: {err.pyxform_message}]"
        super().__init__(text, status=413 if err.code == "DS001" else 422)
        self.form_error = err

    def localized(self, locale: str | None = None) -> str:
        err = self.form_error
        if (locale or current_locale()) == "en":
            return str(self)
        return f"{err.code}: {err.message_zh} {err.fix_zh}"

    def payload(self) -> dict[str, Any]:
        return {"error": self.code, "status": self.status, **self.form_error.to_dict()}


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One file of a form's manifest: uploaded media or a generated entity list."""

    name: str
    content: bytes
    md5: str  # plain hex; OpenRosa manifests write "md5:" + this
    content_type: str


@dataclass(slots=True)
class UploadResult:
    version: FormVersion
    created: bool  # False when the identical version was already there
    warnings: list[str] = field(default_factory=list)


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _content_type(name: str) -> str:
    if name.lower().endswith(".csv"):
        return "text/csv"
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _clean_name(name: str) -> str:
    return PurePath((name or "").replace("\\", "/")).name


def convert_upload(data: bytes, filename: str) -> ConvertedForm:
    """Convert with the configured size limit; InvalidForm for anything wrong with the file."""
    limit = current_app.config["MAX_FORM_UPLOAD_BYTES"]
    try:
        return ensure_version(
            convert_xlsform(data, _clean_name(filename) or filename, max_bytes=limit))
    except FormError as err:
        raise InvalidForm(err) from err


def _check_media(
    converted: ConvertedForm, media: list[tuple[str, bytes]]
) -> tuple[dict[str, bytes], list[str]]:
    """Uploaded media must be files the form references; report the ones still missing."""
    wanted = set(converted.media_filenames)
    limit = current_app.config["MAX_FORM_UPLOAD_BYTES"]
    files: dict[str, bytes] = {}
    for raw_name, content in media:
        name = _clean_name(raw_name)
        if not name:
            continue
        if name not in wanted:
            expected = ", ".join(sorted(wanted)) or "—"
            raise FormServiceError(
                "The form does not reference the media file '{name}'. It references: "
                "{expected}.", name=name, expected=expected,
                details={"media": name, "expected": sorted(wanted)},
            )
        if len(content) > limit:
            raise FormServiceError(
                "The media file '{name}' is too large ({size} bytes, limit {limit}).",
                status=413, name=name, size=len(content), limit=limit,
            )
        files[name] = content
    warnings = []
    for name in sorted(wanted - set(files) - set(GENERATED_MEDIA) - {"itemsets.csv"}):
        warnings.append(
            f"表单引用的媒体文件“{name}”尚未上传，手机上将无法显示。 / "
            f"The form references the media file '{name}' but it was not uploaded; "
            "phones will not show it."
        )
    return files, warnings


def _check_identifiers(converted: ConvertedForm) -> None:
    """Ids and versions must fit the database (PostgreSQL enforces column lengths)."""
    for what, value, limit in (("form_id", converted.form_id, 128),
                               ("version", converted.version or "", 64)):
        if len(value) > limit:
            raise FormServiceError(
                "The {what} on the settings sheet is too long ({length} characters, "
                "limit {limit}).", what=what, length=len(value), limit=limit,
            )


def commit() -> None:
    """Commit an upload; a concurrent upload of the same form/version becomes a 409."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError as err:
        db.session.rollback()
        raise FormServiceError(
            "Another upload created the same form or version at the same time; reload and "
            "try again.", status=409,
        ) from err


def upload(
    data: bytes,
    filename: str,
    user: User | None,
    media: list[tuple[str, bytes]] | None = None,
) -> UploadResult:
    """Check and convert an XLSForm and store it as a draft version (not committed).

    Raises InvalidForm (the file is not a valid XLSForm) or FormServiceError (a valid form
    that cannot be stored: version already taken, media the form does not use).
    """
    converted = convert_upload(data, filename)
    _check_identifiers(converted)
    files, media_warnings = _check_media(converted, media or [])
    form = db.session.scalar(sa.select(Form).where(Form.xml_form_id == converted.form_id))
    if form is not None:
        existing = next((v for v in form.versions if v.version == converted.version), None)
        if existing is not None:
            same_media = {m.name: m.md5 for m in existing.media if m.name != "itemsets.csv"} == {
                n: md5_hex(c) for n, c in files.items()
            }
            if existing.md5 == converted.md5 and (same_media or not files):
                return UploadResult(existing, False, list(existing.warnings))
            raise FormServiceError(
                "Form '{form_id}' already has a version '{version}' with different content. "
                "Change the version on the settings sheet and upload again.", status=409,
                form_id=converted.form_id, version=converted.version,
                details={"form_id": converted.form_id, "version": converted.version},
            )
    if form is None:
        form = Form(xml_form_id=converted.form_id, title=converted.title[:256], state="draft")
        db.session.add(form)
    warnings = [*converted.warnings, *media_warnings]
    version = FormVersion(
        form=form,
        version=converted.version or "",
        title=converted.title[:256],
        state="draft",
        xform=converted.xform,
        md5=converted.md5,
        xlsform=data,
        xlsform_filename=_clean_name(filename)[-256:],
        warnings=warnings,
        entities=converted.entities,
        geo_fields=[
            {"name": g.name, "type": g.type, "xpath": g.xpath} for g in converted.geo_fields
        ],
        media_names=converted.media_filenames,
        created_by_id=user.id if user is not None else None,
        draft_token=draft_testing.new_token(),
    )
    for name, content in sorted(files.items()):
        version.media.append(
            FormMedia(name=name, content=content, md5=md5_hex(content),
                      content_type=_content_type(name))
        )
    if converted.itemsets_csv is not None and "itemsets.csv" not in files:
        content = converted.itemsets_csv.encode("utf-8")
        version.media.append(
            FormMedia(name="itemsets.csv", content=content, md5=md5_hex(content),
                      content_type="text/csv")
        )
    db.session.add(version)
    db.session.flush()
    audit.record("form.upload", user=user, object_type="form_version", object_id=version.id,
                 form_id=converted.form_id, version=version.version)
    return UploadResult(version, True, warnings)


def publish(version: FormVersion, user: User | None = None) -> FormVersion:
    """Make a version the one phones download; the previous one keeps taking submissions.
    Draft testing of the form ends: its test submissions are deleted, its test link stops."""
    form = version.form
    discarded = draft_testing.discard_test_submissions(form)
    for other in form.versions:
        if other is not version and other.state == "published":
            other.state = "superseded"
    if version.state != "published":
        version.state = "published"
        version.published_at = utcnow()
    form.state = "published"
    form.title = version.title or form.title
    audit.record("form.publish", user=user, object_type="form_version", object_id=version.id,
                 form_id=form.xml_form_id, version=version.version,
                 test_submissions_deleted=discarded)
    return version


def close(form: Form, user: User | None = None) -> Form:
    """Stop new submissions (OpenRosa answers 409); publishing a version reopens it."""
    form.state = "closed"
    audit.record("form.close", user=user, object_type="form", object_id=form.id,
                 form_id=form.xml_form_id)
    return form


# --- queries the OpenRosa server and the pages use --------------------------------------


def list_forms() -> list[Form]:
    return list(db.session.scalars(sa.select(Form).order_by(Form.xml_form_id)))


def get_form(xml_form_id: str) -> Form | None:
    return db.session.scalar(sa.select(Form).where(Form.xml_form_id == xml_form_id))


def find_version(xml_form_id: str, version: str | None) -> FormVersion | None:
    """A version by form id and version string (None: the published one)."""
    form = get_form(xml_form_id)
    if form is None:
        return None
    if version is None:
        return current_version(form)
    return next((v for v in form.versions if v.version == version), None)


def current_version(form: Form) -> FormVersion | None:
    """The published version, if any."""
    return next((v for v in reversed(form.versions) if v.state == "published"), None)


def latest_draft(form: Form) -> FormVersion | None:
    return next((v for v in reversed(form.versions) if v.state == "draft"), None)


def accepts_submissions(version: FormVersion, user: User | None = None) -> bool:
    """Published and superseded versions of open forms do. Drafts take test submissions only
    through their own test link (server.services.forms.draft_testing), never as real data."""
    if version.form.state == "closed":
        return False
    return version.state in ("published", "superseded")


# Server settings a form may read with pulldata('settings', 'value', 'key', '<key>'): the
# city's rules stay configuration (docs/DOMAIN.md), not constants inside forms.
SETTINGS_CSV = "settings.csv"
FORM_SETTINGS = {"min_floor_area_per_tenant_m2": "MIN_FLOOR_AREA_PER_TENANT_M2"}


def settings_csv() -> str:
    rows = [f"{key},{current_app.config[setting]:g}" for key, setting in FORM_SETTINGS.items()]
    return "\n".join(["key,value", *rows]) + "\n"


def media_for(version: FormVersion, user: User | None, *, via_link: bool = False,
              hashes_only: bool = False) -> list[MediaFile]:
    """The manifest of a form version for one user: uploaded media plus the entity lists the
    form reads, filtered to the user's assigned areas and masked as
    server.services.forms.entity_lists.list_csv decides (`via_link`, `hashes_only` are its)."""
    out = {m.name: MediaFile(m.name, m.content, m.md5, m.content_type) for m in version.media}
    for name in version.media_names:
        if name not in out:
            found = _generated(name, user, via_link=via_link, hashes_only=hashes_only)
            if found is not None:
                out[name] = found
    return [out[n] for n in sorted(out)]


def media_file(version: FormVersion, user: User | None, name: str, *,
               via_link: bool = False) -> MediaFile | None:
    """One file of the manifest, to serve: only that list is built (and audited if unmasked)."""
    for m in version.media:
        if m.name == name:
            return MediaFile(m.name, m.content, m.md5, m.content_type)
    if name not in version.media_names:
        return None
    return _generated(name, user, via_link=via_link)


def _generated(name: str, user: User | None, *, via_link: bool,
               hashes_only: bool = False) -> MediaFile | None:
    if name == SETTINGS_CSV:
        text = settings_csv()
    elif name == review.RETURNED_CSV:  # never anyone's work through a link anyone may hold
        text = review.returned_csv(None if via_link else user)
    else:
        text = entity_lists.list_csv(name, user, via_link=via_link, hashes_only=hashes_only)
    if text is None:
        return None
    content = text.encode("utf-8")
    return MediaFile(name, content, md5_hex(content), "text/csv")


__all__ = [
    "DESIGNER_ROLES",
    "FormError",
    "FormServiceError",
    "InvalidForm",
    "MediaFile",
    "UploadResult",
    "accepts_submissions",
    "close",
    "find_version",
    "media_file",
    "media_for",
    "publish",
    "upload",
]


def publish_township(user: User | None = None) -> list[FormVersion]:
    """Upload and publish the shipped township forms (forms/township/*.xlsx); idempotent."""
    from forms.township.build import FORMS, HERE  # builds workbooks: only for the demo

    published = []
    for name in FORMS:
        path = HERE / f"{name}.xlsx"
        result = upload(path.read_bytes(), path.name, user)
        if result.version.state == "draft":
            publish(result.version, user)
        published.append(result.version)
    return published
