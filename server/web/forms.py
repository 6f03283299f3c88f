"""Pages for form designers: list, upload, publish, close, download; `doorstep forms …`."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Form, FormVersion, Role
from server.openrosa.draft import draft_link
from server.services.errors import ServiceError
from server.services.forms import draft_testing
from server.services.forms import lifecycle as service
from server.web.home import add_home_link

bp = Blueprint("forms", __name__, url_prefix="/forms")
DESIGNERS = (Role.ADMIN, Role.DESIGNER)


def form_or_404(xml_form_id: str) -> Form:
    form = service.get_form(xml_form_id)
    if form is None:
        abort(404, description=_("No form with id {id}.", id=xml_form_id))
    return form


def version_or_404(xml_form_id: str, version: str) -> FormVersion:
    found = service.find_version(xml_form_id, version)
    if found is None:
        abort(404, description=_("Form {id} has no version {version}.", id=xml_form_id,
                                 version=version))
    return found


def read_upload() -> tuple[bytes, str, list[tuple[str, bytes]]]:
    """The XLSForm and its media from a multipart request; 413 with a reason when too big."""
    try:
        upload = request.files.get("file")
        media = [(f.filename or "", f.read()) for f in request.files.getlist("media") if f]
    except RequestEntityTooLarge as err:
        raise RequestEntityTooLarge(
            _("The upload is larger than the server accepts ({limit} MB).",
              limit=_limit_mb())
        ) from err
    if upload is None or not upload.filename:
        return b"", "", media
    return upload.read(), upload.filename, media


def _limit_mb() -> int:
    from flask import current_app

    return current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)


@bp.route("/")
@allow(*DESIGNERS)
def index():
    return render_template("forms/index.html", forms=service.list_forms(), error=None)


@bp.route("/upload", methods=["POST"])
@allow(*DESIGNERS)
def upload():
    data, filename, media = read_upload()
    if not filename:
        flash(_("Choose an XLSForm file to upload."), "error")
        return render_template("forms/index.html", forms=service.list_forms(), error=None), 400
    try:
        result = service.upload(data, filename, current_user, media)
        service.commit()
    except ServiceError as err:  # the page comes back with the reason next to the form
        db.session.rollback()
        shown = err.form_error if isinstance(err, service.InvalidForm) else err
        return render_template("forms/index.html", forms=service.list_forms(), error=shown,
                               filename=filename), err.status
    version = result.version
    if result.created:
        flash(_("Uploaded {id} version {version} as a draft.", id=version.form.xml_form_id,
                version=version.version), "ok")
    else:
        flash(_("This version was already uploaded; nothing changed."), "ok")
    for warning in result.warnings:
        flash(warning, "warning")
    return redirect(url_for("forms.detail", xml_form_id=version.form.xml_form_id))


@bp.route("/<xml_form_id>")
@allow(*DESIGNERS)
def detail(xml_form_id: str):
    from markupsafe import Markup


    form = form_or_404(xml_form_id)
    draft = draft_testing.newest_draft(form) if form.state != "closed" else None
    link = None
    if draft is not None:
        link = draft_link(draft)
        link["svg"] = Markup(link["svg"])  # our own SVG, no user text in it
        if draft in db.session.dirty:  # a token made just now for an older draft
            db.session.commit()
    return render_template("forms/detail.html", form=form,
                           versions=list(reversed(form.versions)), draft=draft, link=link,
                           tests=draft_testing.sent_to_drafts(form))


@bp.route("/<xml_form_id>/versions/<version>/publish", methods=["POST"])
@allow(*DESIGNERS)
def publish(xml_form_id: str, version: str):
    found = version_or_404(xml_form_id, version)
    service.publish(found, current_user)
    db.session.commit()
    flash(_("Published {id} version {version}.", id=xml_form_id, version=version), "ok")
    return redirect(url_for("forms.detail", xml_form_id=xml_form_id))


@bp.route("/<xml_form_id>/close", methods=["POST"])
@allow(*DESIGNERS)
def close(xml_form_id: str):
    service.close(form_or_404(xml_form_id), current_user)
    db.session.commit()
    flash(_("Closed {id}: phones can no longer send new submissions.", id=xml_form_id), "ok")
    return redirect(url_for("forms.detail", xml_form_id=xml_form_id))


@bp.route("/<xml_form_id>/versions/<version>/xform.xml")
@allow(*DESIGNERS)
def download_xform(xml_form_id: str, version: str):
    found = version_or_404(xml_form_id, version)
    return xform_response(found)


@bp.route("/<xml_form_id>/versions/<version>/xlsform")
@allow(*DESIGNERS)
def download_xlsform(xml_form_id: str, version: str):
    found = version_or_404(xml_form_id, version)
    if not found.xlsform:
        abort(404, description=_("This version has no XLSForm file."))
    name = found.xlsform_filename or f"{xml_form_id}.xlsx"
    return Response(found.xlsform, mimetype="application/octet-stream",
                    headers={"Content-Disposition": _attachment(name)})


def xform_response(version: FormVersion) -> Response:
    name = f"{version.form.xml_form_id}-{version.version}.xml"
    return Response(version.xform.encode("utf-8"), mimetype="text/xml",
                    headers={"Content-Disposition": _attachment(name),
                             "ETag": version.md5.removeprefix("md5:")})


def _attachment(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    add_home_link(app, "forms.index", "Forms")
