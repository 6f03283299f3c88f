"""The coordinator's device page: the phones linked, a new ODK Collect QR code, revocation.

Only a hash of each device token is stored (server.services.device_links), so the page shows
a link's URL and QR code once, in the answer to "Create", and never again.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import zlib

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Role, User
from server.openrosa.blueprint import bp
from server.services import audit, device_links


def server_url(token: str) -> str:
    return url_for("openrosa.form_list", token=token, _external=True).removesuffix("formList")


def unreachable_from_phones(host: str) -> bool:
    """True when the page was opened at this computer's own address (127.0.0.1, localhost,
    ::1): a link made from it points phones at themselves."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").split("]")[0]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def collect_settings(user: User, url: str) -> dict:
    """ODK Collect settings: general (server, account, sync), admin, project."""
    return {
        "general": {
            "server_url": url.rstrip("/"),
            "username": user.username,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": "Doorstep", "icon": "D", "color": "#0b6e4f"},
    }


def qr_payload(settings: dict) -> str:
    """What Collect's QR scanner expects: base64(zlib(JSON))."""
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def qr_svg(payload: str) -> str:
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(payload, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def _page(url: str | None = None, status: int = 200) -> Response:
    payload = qr_payload(collect_settings(current_user, url)) if url else None
    response = Response(render_template(
        "openrosa/device.html",
        url=url,
        links=current_user.device_links,
        basic_url=url_for("openrosa.form_list_basic", _external=True).removesuffix("formList"),
        loopback=unreachable_from_phones(request.host),
        payload=payload,
        svg=Markup(qr_svg(payload)) if payload else None,  # our own SVG, no user text in it
    ), status)
    response.headers["Cache-Control"] = "no-store"  # the new link is shown once
    return response


@bp.route("/me/device", methods=["GET"])
@allow(Role.COORDINATOR)
def device():
    return _page()


@bp.route("/me/device", methods=["POST"])
@allow(Role.COORDINATOR)
def device_token():
    """Create an ODK Collect link (the previous one stops working at once, the phone app's
    links stay) and show it this once; or revoke one link or all of them."""
    action = request.form.get("action", "create")
    if action in ("create", "regenerate"):
        try:
            token = device_links.create(current_user, device_links.COLLECT, replace_label=True)
        except device_links.DeviceLinkError as err:
            db.session.rollback()
            flash(_("Not created: {reason}", reason=str(err)), "error")
            return _page(status=409)
        audit.record("device_link.create", object_type="user", object_id=current_user.id,
                     label=device_links.COLLECT)
        db.session.commit()
        flash(_("New device link created: scan the new QR code on your phone."), "info")
        return _page(server_url(token))
    if action != "revoke":
        flash(_("Unknown action."), "error")
        return _page(status=400)
    link_id = request.form.get("link", type=int)
    removed = device_links.revoke(current_user, link_id)
    audit.record("device_link.revoke", object_type="user", object_id=current_user.id,
                 link=link_id or "all", removed=removed)
    db.session.commit()
    flash(_("Device link revoked: phones using it can no longer connect."), "info")
    return redirect(url_for("openrosa.device"), 303)
