"""OpenRosa endpoints: formList, form download, manifest, media, submission."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from flask import Response, request
from sqlalchemy.engine import Connection
from werkzeug.exceptions import RequestEntityTooLarge

from server.access import DEVICE, allow
from server.extensions import db
from server.lean import lean
from server.models import Form, FormVersion, Role, User
from server.openrosa import multipart
from server.openrosa import protocol as p
from server.openrosa.blueprint import bp
from server.services import device_links, logins
from server.services.errors import ServiceError
from server.services.ingest import accept as submissions
from server.services.ingest.accept import IngestError, Upload

INCOMPLETE_PART = "*isIncomplete*"
XML_PART = "xml_submission_file"


def route(rule: str, **options) -> Callable:
    """Register a view under the token base and under the HTTP Basic base."""

    def decorate(view: Callable) -> Callable:
        bp.add_url_rule(f"/o/<token>{rule}", view.__name__, view, **options)
        bp.add_url_rule(f"/o{rule}", f"{view.__name__}_basic", view, **options)
        return view

    return decorate


@bp.after_request
def _headers(response: Response) -> Response:
    return p.add_headers(response)


bp.register_error_handler(ServiceError, p.service_error)


def _published(xml_form_id: str | None = None) -> list[FormVersion]:
    query = (
        sa.select(FormVersion)
        .join(Form)
        .where(FormVersion.state == "published", Form.state != "closed")
        .order_by(Form.xml_form_id)
    )
    if xml_form_id is not None:
        query = query.where(Form.xml_form_id == xml_form_id)
    return list(db.session.scalars(query))


def _version(xml_form_id: str, version: str | None) -> FormVersion | None:
    """The published version, or any stored non-draft version when one is named."""
    if version is None:
        found = _published(xml_form_id)
        return found[0] if found else None
    return db.session.scalar(
        sa.select(FormVersion)
        .join(Form)
        .where(Form.xml_form_id == xml_form_id, FormVersion.version == version,
               FormVersion.state != "draft", Form.state != "closed")
    )


def _not_found(xml_form_id: str, version: str | None) -> Response:
    what = f"version {version!r} of form {xml_form_id!r}" if version else f"form {xml_form_id!r}"
    return p.openrosa_message(f"No published {what} on this server.", 404)


@route("/formList", methods=["GET"])
@allow(DEVICE)
def form_list(token: str | None = None) -> Response:
    p.device_user(token)
    versions = _published(request.args.get("formID") or None)
    return p.xml_response(p.form_list(versions, token))


@route("/forms/<xml_form_id>/form.xml", methods=["GET"])
@allow(DEVICE)
def form_xml(xml_form_id: str, token: str | None = None) -> Response:
    p.device_user(token)
    version = request.args.get("version")
    fv = _version(xml_form_id, version)
    if fv is None:
        return _not_found(xml_form_id, version)
    response = Response(fv.xform.encode("utf-8"), content_type=p.XML_TYPE)
    response.set_etag(p.md5_hex(p.xform_hash(fv)))
    return response.make_conditional(request)


@route("/forms/<xml_form_id>/manifest", methods=["GET"])
@allow(DEVICE)
def manifest(xml_form_id: str, token: str | None = None) -> Response:
    user = p.device_user(token)
    version = request.args.get("version")
    fv = _version(xml_form_id, version)
    if fv is None:
        return _not_found(xml_form_id, version)
    return p.xml_response(p.manifest(fv, p.media_files(fv, user), token))


@route("/forms/<xml_form_id>/media/<name>", methods=["GET"])
@allow(DEVICE)
def media(xml_form_id: str, name: str, token: str | None = None) -> Response:
    user = p.device_user(token)
    version = request.args.get("version")
    fv = _version(xml_form_id, version)
    if fv is None:
        return _not_found(xml_form_id, version)
    return p.media_response(fv, user, name)


@route("/submission", methods=["GET", "HEAD", "POST"])
@lean
@allow(DEVICE)
def submission(token: str | None = None) -> Response:
    """Form Submission API. The body of a usual submission is split by server.openrosa.multipart;
    ingest (server.services.ingest.accept) answers only once the submission is durable."""
    if request.method in ("GET", "HEAD"):
        # Submission API: the pre-flight HEAD answers 204 with the accepted content length.
        p.device_user(token)
        return Response(status=204)
    # The credential check and the form lookup: two reads on one connection.
    with _reader() as conn:
        return receive(_submitter(token, conn), reader=conn)


def _reader() -> Connection:
    """A connection for reads only. On PostgreSQL in autocommit: no BEGIN and ROLLBACK around
    the two reads, two round trips of the four a submission's request made (its backends'
    CPU per submission halved). SQLite's driver begins no transaction for a SELECT, and
    switching its mode costs more than it saves."""
    conn = db.engine.connect()
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def receive(user: Submitter | User | None, draft: FormVersion | None = None,
            reader: Connection | None = None) -> Response:
    """Read a submission POST and ingest it (as a test submission of `draft` when given);
    the answer is the Submission API's. A refusal raises: protocol.service_error answers it.
    `reader`: a connection for ingest's form lookup (else it takes one)."""
    if not request.headers.get("X-OpenRosa-Version"):
        raise IngestError("The X-OpenRosa-Version header is required.")
    try:
        xml, uploads = _read_post()  # MultipartError: 400
    except RequestEntityTooLarge as err:  # Werkzeug's, raised while reading the body
        raise IngestError("The submission is larger than {limit} bytes.", status=413,
                          code="too_large", limit=p.accept_content_length()) from err
    if xml is None:
        raise IngestError("The POST has no xml_submission_file part.")
    result = submissions.ingest(user, xml, uploads, draft=draft, reader=reader)
    response = Response(_success_body(result.message), status=201, content_type=p.XML_TYPE)
    response.headers["Location"] = request.base_url
    return response


@lru_cache(maxsize=8)
def _success_body(message: str) -> bytes:
    """The few 201 bodies, rendered once (building XML per request showed in profiles)."""
    return p.openrosa_message(message, 201, "submit_success").get_data()


@dataclass(frozen=True)
class Submitter:
    """The coordinator behind a device token, as ingest needs it (its id)."""

    id: int


def _submitter(token: str | None, conn: Connection | None = None) -> Submitter | User:
    """A valid device token, or an HTTP Basic credential verified moments ago
    (logins.remembered_basic), costs one Core query on `conn` (the ORM load of the whole user
    was a fifth of ingest's Python time; the ORM session's own connection costs ~0.1 ms more
    than a Core one); the rule is protocol.device_user's, which answers every other case —
    a first or wrong password, a throttled login, and every refusal with its message. Keep the
    two in step."""
    if token is not None and conn is not None:
        found = conn.execute(device_links.SUBMITTER_QUERY,
                             {"h": device_links.hash_token(token)}).scalar()
        if found is not None:
            return Submitter(found)
    elif conn is not None:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            row = logins.remembered_basic(conn, auth.username or "", auth.password or "")
            if row is not None and row.role == Role.COORDINATOR.value:
                return Submitter(row.id)
    return p.device_user(token)


def _read_post() -> tuple[bytes | None, list[Upload]]:
    """The XML (None when absent) and the other file parts of a submission POST."""
    boundary = multipart.boundary_of(request.content_type)
    size = request.content_length
    if boundary is not None and size is not None and size <= multipart.FAST_LIMIT:
        parts = multipart.parse(request.get_data(cache=False), boundary)
        xml = next((pt.data for pt in parts if pt.name == XML_PART and pt.filename is not None),
                   None)
        if xml is None:
            xml = next((pt.data for pt in parts if pt.name == XML_PART and pt.data), None)
        uploads = [Upload(pt.filename or pt.name, pt.content_type, pt.data) for pt in parts
                   if pt.filename is not None and pt.name not in (XML_PART, INCOMPLETE_PART)]
        return xml, uploads
    files, form = request.files, request.form  # large or chunked: Werkzeug streams to disk
    part = files.get(XML_PART)
    if part is not None:
        xml = part.read()
    elif form.get(XML_PART):
        xml = form[XML_PART].encode("utf-8")
    else:
        xml = None
    uploads = [
        Upload(f.filename or key, f.mimetype or "application/octet-stream", f.read())
        for key, f in files.items(multi=True)
        if key not in (XML_PART, INCOMPLETE_PART)
    ]
    return xml, uploads
