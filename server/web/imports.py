"""Upload page and CLI for building footprints and area boundaries (all or nothing)."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_login import current_user

from server.access import allow
from server.i18n import gettext as _
from server.models import Role
from server.services import imports
from server.services.imports import GisImportError, OutsideScopeError
from server.web.home import add_home_link

bp = Blueprint("imports", __name__, url_prefix="/imports")
KINDS = ("buildings", "areas")


def _run(kind: str, data: bytes, filename: str, skip_duplicates: bool, **opts):
    if kind == "areas":
        return imports.import_areas(data, filename, skip_duplicates=skip_duplicates,
                                    user=current_user, **opts)
    return imports.import_buildings(data, filename, skip_duplicates=skip_duplicates,
                                    user=current_user, **opts)


@bp.route("/", methods=["GET", "POST"])
@allow(Role.SUPERVISOR, Role.ADMIN)
def upload():
    if request.method == "GET":
        return render_template("imports/upload.html", kinds=KINDS)
    kind = request.form.get("kind", "buildings")
    upload = request.files.get("file")
    if kind not in KINDS:
        return render_template(
            "imports/upload.html", kinds=KINDS, error=f"unknown kind {kind!r}"
        ), 400
    if upload is None or not upload.filename:
        return render_template("imports/upload.html", kinds=KINDS, error=_("Choose a file.")), 400
    try:
        report = _run(
            kind, upload.read(), upload.filename, request.form.get("skip_duplicates") == "1"
        )
    except OutsideScopeError as err:
        message = _("{count} feature(s) lie outside your areas: {codes}.", count=len(err.codes),
                    codes=", ".join(str(c) for c in err.codes[:10]))
        return render_template("imports/upload.html", kinds=KINDS, error=message, kind=kind), 403
    except (GisImportError, ValueError) as err:
        return render_template("imports/upload.html", kinds=KINDS, error=str(err), kind=kind), 400
    return render_template("imports/upload.html", kinds=KINDS, report=report, kind=kind)


def init_app(app: Flask) -> None:

    app.register_blueprint(bp)
    add_home_link(app, "imports.upload", "Import footprints and areas")
