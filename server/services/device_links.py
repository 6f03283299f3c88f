"""Device links: the secret in a phone's OpenRosa URL `/o/<token>/`, stored only as a hash.

A token is 192 random bits, so one round of SHA-256 is enough (no password stretching needed)
and lets a request find its link with one indexed lookup. The token itself is returned once,
to the page or phone that asked for it, and never stored or logged (server.redaction).
Each phone gets its own link, so revoking a lost phone leaves the others working.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from server.extensions import db
from server.models import DeviceLink, Role, User

#: Most links one coordinator may hold: every phone needs one; more means links are leaking.
MAX_LINKS = 10
COLLECT = "ODK Collect"
PHONE_APP = "phone app"


class DeviceLinkError(ValueError):
    """A link that cannot be made; the message says why (answer 409)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(user: User, label: str, *, replace_label: bool = False) -> str:
    """A new link for one of the user's phones; returns the token, which is not kept.
    With `replace_label`, the user's older links of that label stop working (a new QR code
    for ODK Collect replaces the old one)."""
    if user.role != Role.COORDINATOR.value:
        raise DeviceLinkError("only coordinators collect data with a phone")
    if replace_label:
        for link in [x for x in user.device_links if x.label == label]:
            user.device_links.remove(link)
    if len(user.device_links) >= MAX_LINKS:
        raise DeviceLinkError(f"at most {MAX_LINKS} phones may be linked: revoke an old one")
    token = secrets.token_urlsafe(24)
    user.device_links.append(DeviceLink(token_hash=hash_token(token), label=label))
    return token


def revoke(user: User, link_id: int | None = None) -> int:
    """Revoke one link of the user (by id) or all of them; returns how many were removed."""
    doomed = [x for x in user.device_links if link_id is None or x.id == link_id]
    for link in doomed:
        user.device_links.remove(link)
    return len(doomed)


#: The active coordinator behind a token hash: one Core query (ingest's hot path).
SUBMITTER_QUERY = (
    sa.select(User.id)
    .join(DeviceLink, DeviceLink.user_id == User.id)
    .where(DeviceLink.token_hash == sa.bindparam("h"), User.active == sa.true(),
           User.role == Role.COORDINATOR.value)
)


def user_for(token: str) -> User | None:
    """The user a token links, whatever their state (the caller answers each case)."""
    if not token or len(token) > 128:
        return None
    return db.session.scalar(
        sa.select(User).join(DeviceLink, DeviceLink.user_id == User.id)
        .where(DeviceLink.token_hash == hash_token(token))
    )
