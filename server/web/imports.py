"""Upload page for building footprints and area boundaries (all or nothing).

A footprint file whose street column names streets the area tree lacks gets a second step: the
file is held (server.services.held_uploads) while the person chooses to create those streets
under a village or to assign streets by boundary instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Flask, render_template, request
from flask_login import current_user

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Area, Role
from server.services import held_uploads, imports
from server.services.errors import ServiceError
from server.services.imports import OutsideScopeError, UnknownStreets
from server.web.home import add_home_link

bp = Blueprint("imports", __name__, url_prefix="/imports")
KINDS = ("buildings", "areas")
FLAGS = ("skip_duplicates", "skip_invalid")


def _page_message(text: str) -> str:
    """The import's message with this page's words for its options, not Python's names."""
    return (text.replace("skip_duplicates", _('the "Skip duplicates" box'))
            .replace("skip_invalid", _('the "Skip features that cannot be repaired" box')))


def _run(kind: str, data: bytes, filename: str, flags: dict[str, bool], **opts):
    if kind == "areas":
        return imports.import_areas(data, filename, skip_duplicates=flags["skip_duplicates"],
                                    user=current_user)
    return imports.import_buildings(data, filename, **flags, user=current_user, **opts)


def _page(status: int = 200, **context):
    villages = db.session.scalars(
        sa.select(Area).where(Area.level == "village").order_by(Area.path)).all()
    context.setdefault("flags", {})
    return render_template("imports/upload.html", kinds=KINDS, villages=villages,
                           **context), status


def _held_file(token: str, form) -> tuple[bytes, str, dict] | str:
    """The held upload and the street choice made for it, or the reason it cannot be used."""
    found = held_uploads.fetch(token)
    if found is None:
        return _("The file is no longer kept on the server: choose it again.")
    choice = form.get("streets")
    if choice == "create":
        return (*found, {"create_streets_under": form.get("village", "").strip() or None})
    if choice == "boundary":
        return (*found, {"street_field": "none"})
    return _("Choose how to treat the streets that are not in the area tree.")


@bp.route("/", methods=["GET", "POST"])
@allow(Role.SUPERVISOR, Role.ADMIN)
def upload():
    if request.method == "GET":
        return _page()
    kind = request.form.get("kind", "buildings")
    flags = {f: request.form.get(f) == "1" for f in FLAGS}
    if kind not in KINDS:
        return _page(400, error=f"unknown kind {kind!r}")
    token = request.form.get("held", "")
    opts: dict = {}
    if token and kind == "buildings":
        held = _held_file(token, request.form)
        if isinstance(held, str):
            return _page(400, error=held, kind=kind, flags=flags)
        data, filename, opts = held
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _page(400, error=_("Choose a file."), flags=flags)
        data, filename = upload.read(), upload.filename
    try:
        report = _run(kind, data, filename, flags, **opts)
    except UnknownStreets as err:
        token = token or held_uploads.hold(data, filename)
        return _page(400, unknown=err, held=token, kind=kind, flags=flags)
    except OutsideScopeError as err:
        message = _("{count} feature(s) lie outside your areas: {codes}.", count=len(err.codes),
                    codes=", ".join(str(c) for c in err.codes[:10]))
        return _page(403, error=message, kind=kind, flags=flags)
    except ServiceError as err:  # the page comes back with the reason next to the form
        return _page(err.status, error=_page_message(err.localized()), kind=kind, flags=flags)
    if token:
        held_uploads.release(token)
    return _page(report=report, kind=kind, flags=flags)


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "imports.upload", "Import footprints and areas")
