"""OpenRosa wire details: authentication, headers and the XML documents."""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response, abort, current_app, request, url_for
from werkzeug.http import http_date

from server.extensions import db
from server.models import FormVersion, Role, User
from server.services import device_links, logins
from server.services.errors import ServiceError, log_server_fault
from server.services.forms import lifecycle

OPENROSA_VERSION = "1.0"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"
XML_TYPE = "text/xml; charset=utf-8"


def accept_content_length() -> int:
    return current_app.config["MAX_CONTENT_LENGTH"]


def add_headers(response: Response) -> Response:
    """Request API: every response carries X-OpenRosa-Version and a Date."""
    response.headers["X-OpenRosa-Version"] = OPENROSA_VERSION
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(accept_content_length())
    response.headers.setdefault("Date", _http_date(int(time.time())))
    return response


@lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    """The Date header of this second (formatting it per response showed in profiles)."""
    return http_date(second)


def xml_response(root: ET.Element, status: int = 200) -> Response:
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8",
                                                                     xml_declaration=False)
    return Response(body, status=status, content_type=XML_TYPE)


def openrosa_message(message: str, status: int, nature: str = "") -> Response:
    """An <OpenRosaResponse> with one message: the body of every submission answer."""
    root = ET.Element("OpenRosaResponse", xmlns=RESPONSE_NS)
    msg = ET.SubElement(root, "message")
    if nature:
        msg.set("nature", nature)
    msg.text = message
    return xml_response(root, status)


def service_error(err: ServiceError) -> Response:
    """Any refused request as the Submission API answers it: an <OpenRosaResponse> with the
    reason in the phone user's language; 503 asks Collect to retry later."""
    db.session.rollback()  # a refusal writes nothing
    log_server_fault(err)
    response = openrosa_message(err.localized(), err.status, "error")
    if err.status == 503:
        response.headers["Retry-After"] = "5"
    return response


def device_user(token: str | None) -> User:
    """The coordinator behind the request; aborts 403 (bad token), 401 (Basic needed or
    wrong) or 429 (too many failed logins: server.services.logins)."""
    if token is not None:
        user = device_links.user_for(token)
        if user is None or not user.active or user.role != Role.COORDINATOR.value:
            abort(openrosa_message("Unknown or revoked device link: ask your supervisor for "
                                   "a new QR code.", 403))
        return user
    auth = request.authorization
    if auth is None or auth.type != "basic" or not auth.username:
        abort(_ask_for_basic("Log in with your Doorstep username and password."))
    try:
        user = logins.authenticate(auth.username, auth.password or "", via="basic",
                                   remember=True)
    except logins.LoginThrottled as err:
        resp = openrosa_message("Too many failed logins: try again later.", 429)
        resp.headers["Retry-After"] = str(err.retry_after)
        abort(resp)
    if user is None:
        abort(_ask_for_basic("Wrong username or password."))
    if user.role != Role.COORDINATOR.value:
        abort(openrosa_message("Only coordinators collect data with ODK Collect.", 403))
    return user


def _ask_for_basic(message: str) -> Response:
    resp = openrosa_message(message, 401)
    resp.headers["WWW-Authenticate"] = 'Basic realm="Doorstep", charset="UTF-8"'
    return resp


def url(endpoint: str, token: str | None, draft_token: str | None = None, **values: Any) -> str:
    """Absolute URL under the same base (token, Basic, or a draft's test link) the request
    came in on."""
    if draft_token is not None:
        return url_for(f"openrosa.draft_{endpoint}", draft_token=draft_token, _external=True,
                       **values)
    if token is None:
        return url_for(f"openrosa.{endpoint}_basic", _external=True, **values)
    return url_for(f"openrosa.{endpoint}", token=token, _external=True, **values)


def xform_hash(fv: FormVersion) -> str:
    """'md5:' + digest of the exact bytes served by form.xml."""
    return "md5:" + hashlib.md5(fv.xform.encode("utf-8"), usedforsecurity=False).hexdigest()


def md5_hex(value: str) -> str:
    return value.removeprefix("md5:")


def media_files(fv: FormVersion, user: User | None, *, via_link: bool = False) -> list[Any]:
    """Form media plus entity-list CSVs for a manifest (server.services.forms.lifecycle): only
    their hashes leave the server."""
    return list(lifecycle.media_for(fv, user, via_link=via_link, hashes_only=True))


def media_response(fv: FormVersion, user: User | None, name: str, *,
                   via_link: bool = False) -> Response:
    """One media file (its entity list masked and audited as the reader requires), or 404."""
    found = lifecycle.media_file(fv, user, name, via_link=via_link)
    if found is None:
        return openrosa_message(f"Form {fv.form.xml_form_id!r} has no media file {name!r}.", 404)
    response = Response(found.content, content_type=found.content_type)
    response.set_etag(md5_hex(found.md5))
    return response.make_conditional(request)


def has_media(fv: FormVersion) -> bool:
    return bool(fv.media_names) or bool(fv.media)


def form_list(versions: list[FormVersion], token: str | None,
              draft_token: str | None = None) -> ET.Element:
    """Form List API document: <xforms xmlns="http://openrosa.org/xforms/xformsList">."""
    root = ET.Element("xforms", xmlns=XFORMS_LIST_NS)
    for fv in versions:
        item = ET.SubElement(root, "xform")
        xml_id = fv.form.xml_form_id
        ET.SubElement(item, "formID").text = xml_id
        ET.SubElement(item, "name").text = fv.title or fv.form.title or xml_id
        ET.SubElement(item, "version").text = fv.version
        ET.SubElement(item, "hash").text = xform_hash(fv)
        ET.SubElement(item, "downloadUrl").text = url("form_xml", token, draft_token,
                                                      xml_form_id=xml_id)
        if has_media(fv):
            ET.SubElement(item, "manifestUrl").text = url("manifest", token, draft_token,
                                                          xml_form_id=xml_id)
    return root


def manifest(fv: FormVersion, files: list[Any], token: str | None,
             draft_token: str | None = None) -> ET.Element:
    """Manifest document: one <mediaFile> per file with the md5 of its content."""
    root = ET.Element("manifest", xmlns=MANIFEST_NS)
    xml_id = fv.form.xml_form_id
    for f in files:
        item = ET.SubElement(root, "mediaFile")
        ET.SubElement(item, "filename").text = f.name
        ET.SubElement(item, "hash").text = "md5:" + md5_hex(f.md5)
        ET.SubElement(item, "downloadUrl").text = url(
            "media", token, draft_token, xml_form_id=xml_id, name=f.name, version=fv.version
        )
    return root
