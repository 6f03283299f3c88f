"""XLSForm bytes -> XForm, with no file IO and with errors a designer can act on."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from forms.errors import FormError, from_pyxform
from forms.guards import DEFAULT_MAX_BYTES, check_upload
from forms.xform_info import GeoField, MediaRef, XFormInfo, describe_xform


@dataclass(frozen=True, slots=True)
class ConvertedForm:
    """Everything the server stores for one uploaded form version.

    What the XForm itself says (id, version, title, languages, geo fields, media, entities)
    is read once into `info` and exposed through properties, so it cannot drift from `xform`.
    """

    xform: str
    warnings: list[str]
    itemsets_csv: str | None
    info: XFormInfo

    @property
    def form_id(self) -> str:
        return self.info.form_id

    @property
    def version(self) -> str | None:
        return self.info.version

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def languages(self) -> list[str]:
        return self.info.languages

    @property
    def default_language(self) -> str | None:
        return self.info.default_language

    @property
    def geo_fields(self) -> list[GeoField]:
        return self.info.geo_fields

    @property
    def media(self) -> list[MediaRef]:
        return self.info.media

    @property
    def entities(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.info.entities]

    @property
    def md5(self) -> str:
        return xform_md5(self.xform)

    @property
    def media_filenames(self) -> list[str]:
        """Names the manifest must list (itemsets.csv included when pyxform made one)."""
        names = {m.filename for m in self.media}
        if self.itemsets_csv is not None:
            names.add("itemsets.csv")
        return sorted(names)


def xform_md5(xform: str) -> str:
    """OpenRosa formList hash: 'md5:' + hex digest of the exact bytes served."""
    return "md5:" + hashlib.md5(xform.encode("utf-8"), usedforsecurity=False).hexdigest()


def convert_xlsform(
    data: bytes, filename: str, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> ConvertedForm:
    """Convert an uploaded XLSForm; raise FormError (never anything else) when it is bad.

    The file stem is passed to pyxform like a path would be, so a form without a
    form_id gets the same id as `pyxform.xls2xform.convert(path)` would give it.
    """
    # pyxform (with openpyxl and lark) takes ~0.8 s to import: only conversions pay for it.
    from pyxform.xls2json_backends import Definition, SupportedFileTypes
    from pyxform.xls2xform import convert

    file_type = check_upload(data, filename, max_bytes=max_bytes)
    ft = SupportedFileTypes("." + file_type)
    stem = PurePath(filename.replace("\\", "/")).stem
    definition = Definition(data=io.BytesIO(data), file_type=ft, file_path_stem=stem)
    warnings: list[str] = []
    try:
        result = convert(xlsform=definition, warnings=warnings, file_type=ft.value)  # type: ignore[arg-type]
    except FormError:
        raise
    except Exception as err:  # pyxform raises TypeError/KeyError on odd files
        error = from_pyxform(err)
        if error.code == "DS110" and error.row is None:
            error = _with_type_row(error, Definition(io.BytesIO(data), ft, stem))
        raise error from err
    return _build(result.xform, list(result.warnings), result.itemsets)


def _with_type_row(error: FormError, definition: Any) -> FormError:
    """pyxform names an unknown question type without its row: find the row on the survey
    sheet, so the designer is sent to the cell ("Sheet 'survey', row 7")."""
    from pyxform.xls2json_backends import definition_to_dict  # (pyxform is imported lazily)

    try:
        rows = definition_to_dict(definition, file_type=definition.file_type.value).survey or []
    except Exception:  # the file already failed once; keep pyxform's message as it is
        return error
    qtype = error.context.get("qtype")
    for index, row in enumerate(rows):
        if str(row.get("type", "")).strip() == qtype:
            context = {**error.context, "sheet": "survey", "row": index + 2}  # 1 = headers
            return FormError(error.code, context, error.pyxform_message)
    return error


def _build(xform: str, warnings: list[str], itemsets: str | None) -> ConvertedForm:
    return ConvertedForm(xform, warnings, itemsets, describe_xform(xform))


def new_version(now: datetime | None = None) -> str:
    """A version for forms whose settings sheet has none: UTC 'YYYYMMDDHHMMSS'.

    Digits only, so it sorts as text and as a number, the same shape as the
    `=TEXT(NOW(),"yyyymmddhhmmss")` formula XLSForm guides recommend.
    """
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S")


_ROOT_ID = re.compile(r'(<instance>\s*<[^\s>/]+\s+id="[^"]*")')


def ensure_version(form: ConvertedForm, now: datetime | None = None) -> ConvertedForm:
    """Return the form with a version: unchanged if it has one, else a timestamp.

    The attribute is written where pyxform writes the settings' version (right after
    id on the primary instance root), so the XForm equals the one pyxform would have
    produced with that version in the settings; md5 is recomputed.
    """
    if form.version:
        return form
    version = new_version(now)
    xform, n = _ROOT_ID.subn(rf'\1 version="{version}"', form.xform, count=1)
    if n != 1:
        raise FormError("DS198", pyxform_message="could not locate the primary instance root")
    return replace(form, xform=xform, info=replace(form.info, version=version))
