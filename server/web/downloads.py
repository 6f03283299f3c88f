"""Serving a stored attachment (a photo, a recording) so that it can never act as a page.

Shown inline only as a type server.services.attachments recognised from the bytes; anything else
is an `attachment` download of application/octet-stream. Either way with `nosniff` and a policy
that runs nothing, should the file be opened on its own.
"""

from __future__ import annotations

import io

from flask import Response, abort, send_file

from server.headers import CSP
from server.i18n import gettext as _
from server.models import SubmissionAttachment
from server.services import attachments, storage

ATTACHMENT_POLICY = "default-src 'none'; sandbox"


def send_attachment(att: SubmissionAttachment) -> Response:
    """The attachment's bytes (checked against their sha256), or 404 if they are gone."""
    if att.storage_key is None:
        abort(404)
    try:
        data = storage.get(att.storage_key, att.sha256)
    except storage.StorageError:
        abort(404, description=_("This file is no longer stored."))
    inline = attachments.inline_type(data)
    response = send_file(
        io.BytesIO(data),
        mimetype=inline or "application/octet-stream",
        as_attachment=inline is None,
        download_name=att.name,
        etag=att.sha256 or False,
    )
    response.headers["Cache-Control"] = "private, no-cache"  # personal: never in shared caches
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers[CSP] = ATTACHMENT_POLICY
    return response
