"""A small household form (geopoint, photo, repeat), stored as the forms service would store it,
and its submissions as ODK Collect sends them: the OpenRosa tests and the ingest benchmark."""

from __future__ import annotations

import hashlib
import uuid

from forms import convert_xlsform
from server.extensions import db
from server.models import Form, FormMedia, FormVersion

HOUSEHOLD_MD = """
| survey |
| | type | name | label |
| | text | head | Head of household |
| | text | head_phone | Phone |
| | geopoint | location | Location |
| | image | photo | Door photo |
| | begin_repeat | person | Person |
| | text | pname | Name |
| | text | id_number | ID number |
| | end_repeat | | |
| settings |
| | form_id | version |
| | hh | {version} |
"""


def add_household_form(version: str = "1", state: str = "published",
                       media: dict[str, bytes] | None = None, form_id: str = "hh") -> FormVersion:
    """Store a version of the household form (models only, no forms service); a published one
    supersedes the form's published version."""
    md = HOUSEHOLD_MD.format(version=version).replace("| hh |", f"| {form_id} |")
    converted = convert_xlsform(md.encode(), f"{form_id}.md")
    form = db.session.query(Form).filter_by(xml_form_id=form_id).one_or_none()
    if form is None:
        form = Form(xml_form_id=form_id, title=converted.title, state="draft")
        db.session.add(form)
    if state == "published":
        for other in form.versions:
            if other.state == "published":
                other.state = "superseded"
        form.state = "published"
    fv = FormVersion(form=form, version=version, title=converted.title, state=state,
                     xform=converted.xform, md5=converted.md5,
                     media_names=sorted(media or {}), geo_fields=[], entities=[])
    for name, content in (media or {}).items():
        fv.media.append(FormMedia(name=name, content=content, content_type="text/csv",
                                  md5=hashlib.md5(content).hexdigest()))
    db.session.add(fv)
    db.session.commit()
    return fv


def household_instance(instance_id: str | None = None, *, version: str = "1",
                       form_id: str = "hh", head: str = "Li", photo: str = "door.jpg",
                       persons: int = 1, deprecated_id: str | None = None,
                       location: str = "24.6 102.6 1900 5") -> bytes:
    """A filled-in household form: the submission XML (a fresh instanceID unless given)."""
    instance_id = instance_id or f"uuid:{uuid.uuid4()}"
    people = "".join(
        f"<person><pname>P{i}</pname><id_number>11010519491231002X</id_number></person>"
        for i in range(persons)
    )
    dep = f"<deprecatedID>{deprecated_id}</deprecatedID>" if deprecated_id else ""
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"<head>{head}</head><head_phone>13912345678</head_phone>"
        f"<location>{location}</location><photo>{photo}</photo>{people}"
        f"<meta><instanceID>{instance_id}</instanceID>{dep}</meta></data>"
    ).encode()
