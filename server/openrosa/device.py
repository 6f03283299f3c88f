"""The coordinator's device page: server URL, ODK Collect QR code, revoke/regenerate."""

from __future__ import annotations

import base64
import json
import secrets
import zlib

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from server.access import allow
from server.extensions import db
from server.i18n import gettext as _
from server.models import Role, User
from server.openrosa.blueprint import bp
from server.services import audit


def server_url(user: User) -> str | None:
    if not user.device_token:
        return None
    return url_for("openrosa.form_list", token=user.device_token, _external=True).removesuffix(
        "formList")


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


@bp.route("/me/device", methods=["GET"])
@allow(Role.COORDINATOR)
def device():
    url = server_url(current_user)
    payload = qr_payload(collect_settings(current_user, url)) if url else None
    return render_template(
        "openrosa/device.html",
        url=url,
        basic_url=url_for("openrosa.form_list_basic", _external=True).removesuffix("formList"),
        payload=payload,
        svg=Markup(qr_svg(payload)) if payload else None,  # our own SVG, no user text in it
    )


@bp.route("/me/device", methods=["POST"])
@allow(Role.COORDINATOR)
def device_token():
    """Regenerate (the old QR code stops working at once) or revoke the device link."""
    action = request.form.get("action", "regenerate")
    if action == "revoke":
        current_user.device_token = None
        flash(_("Device link revoked: phones using it can no longer connect."), "info")
    else:
        current_user.device_token = secrets.token_urlsafe(24)
        flash(_("New device link created: scan the new QR code on your phone."), "info")
    audit.record(f"device_token.{'revoke' if action == 'revoke' else 'regenerate'}",
                 object_type="user", object_id=current_user.id)
    db.session.commit()
    return redirect(url_for("openrosa.device"))
