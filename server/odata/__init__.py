"""The read-only OData v4 feed under /odata/: service document, `$metadata`, one entity set per
register list and per form, `$top` `$skip` `$count` `$filter` `$select` `$orderby`.

Excel and Power BI connect with "From OData feed" and HTTP Basic: the username and a personal
API token as password (server.services.api_tokens); scripts send `Authorization: Bearer`. The
rules (which sets, masking, scope, audit, query options) are in server.services.odata.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, current_app, g, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException, NotFound

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Role
from server.services.errors import ServiceError, log_server_fault
from server.services.odata import csdl, query, sets

bp = Blueprint("odata", __name__, url_prefix="/odata")
READERS = (Role.ADMIN, Role.SUPERVISOR, Role.COORDINATOR)
JSON = "application/json;odata.metadata=minimal"
HEADERS = {"OData-Version": "4.0", "Cache-Control": "private, no-store"}


def _answer(body: bytes | str, content_type: str, status: int = 200) -> Response:
    response = Response(body, status=status, content_type=content_type)
    response.headers.update(HEADERS)
    return response


def _json(data: dict, status: int = 200) -> Response:
    return _answer(json.dumps(data, ensure_ascii=False), JSON, status)


def _root() -> str:
    return url_for("odata.service_document", _external=True)


@bp.errorhandler(ServiceError)
def _service_error(err: ServiceError) -> Response:
    db.session.rollback()
    if err.status != 501:
        log_server_fault(err)
    return _json({"error": {"code": err.code, "message": err.localized()}}, err.status)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    """OData's error body; a 401 asks for HTTP Basic, which Excel and Power BI then send."""
    message = err.description or err.name
    if err.code == 401:
        message = _("Sign in with your username and one of your API tokens as the password.")
    response = _json({"error": {"code": str(err.code), "message": message}}, err.code or 500)
    if err.code == 401:
        response.headers["WWW-Authenticate"] = 'Basic realm="Doorstep OData", charset="UTF-8"'
    return response


@bp.get("/")
@allow(*READERS)
def service_document():
    return _json(csdl.service_document(sets.entity_sets(), _root() + "$metadata"))


@bp.get("/$metadata")
@allow(*READERS)
def metadata():
    return _answer(csdl.metadata(sets.entity_sets()), "application/xml")


def _entity_set(name: str) -> sets.EntitySet:
    es = sets.find(name)
    if es is None:
        raise NotFound(_("No entity set {name} in this feed.", name=name))
    return es


def _read(name: str, *, count_only: bool = False
          ) -> tuple[sets.EntitySet, query.Options, list[dict], int]:
    es = _entity_set(name)
    options = query.parse(request.args, es.properties)
    if count_only:
        options.top, options.skip = 0, 0
    via = "token" if g.get("api_token_id") else "session"
    rows, total = sets.read(current_user, es, options, current_app.config["ODATA_PAGE_SIZE"],
                            via=via)
    return es, options, rows, total


@bp.get("/<name>")
@allow(*READERS)
def entity_set(name: str):
    es, options, rows, total = _read(name)
    selected = f"({','.join(options.select)})" if options.select is not None else ""
    body: dict = {"@odata.context": f"{_root()}$metadata#{es.name}{selected}"}
    if options.count:
        body["@odata.count"] = total
    body["value"] = rows
    wanted = total - options.skip if options.top is None else min(options.top,
                                                                   total - options.skip)
    if len(rows) < wanted:
        args = {k: v for k, v in request.args.items() if k not in ("$skip", "$top")}
        args["$skip"] = str(options.skip + len(rows))
        if options.top is not None:
            args["$top"] = str(options.top - len(rows))
        body["@odata.nextLink"] = (url_for("odata.entity_set", name=es.name, _external=True)
                                   + "?" + urlencode(args, quote_via=quote, safe="$,'()"))
    return _json(body)


@bp.get("/<name>/$count")
@allow(*READERS)
def entity_set_count(name: str):
    """The number of rows matching `$filter` (as plain text, as OData answers `/$count`)."""
    _es, _options, _rows, total = _read(name, count_only=True)
    return _answer(str(total), "text/plain;charset=utf-8")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
