"""Personal API tokens: how programs (scripts, Excel, Power BI) read as a user, without a
session cookie and without the user's password.

A user makes one per program on their token page and sees it once; the server keeps only its
SHA-256 (like server.services.device_links: 256 random bits need no password stretching, and
one indexed lookup finds the token). A token acts as its user, with the same role, areas and
masking: it adds no rights. It stops working when revoked (by its user or an admin) and while
its user is deactivated. The JSON API accepts it as `Authorization: Bearer <token>`; the OData
feed also as HTTP Basic with the token as password, which is what Excel and Power BI send.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from server.extensions import db
from server.models import ApiToken, User
from server.models._types import utcnow
from server.services import audit
from server.services.errors import ServiceError

#: Tokens start with this, so a leaked one is recognisable (secret scanners, logs).
PREFIX = "dst_"
#: Most tokens one user may hold: one per program is plenty; more means tokens are leaking.
MAX_TOKENS = 20
LABEL_MAX = 64
#: `last_used_at` is written at most this often per token (reads stay reads).
USE_RESOLUTION = timedelta(minutes=5)


class ApiTokenError(ServiceError):
    """A token that cannot be made or found; the message says why."""

    code = "api_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(user: User, label: str, *, by: User | None = None) -> str:
    """A new token for `user`; returns it (it is not kept, only its hash). Audited."""
    label = (label or "").strip() or "API"
    if len(label) > LABEL_MAX:
        raise ApiTokenError("a token's name is at most {limit} characters", limit=LABEL_MAX)
    if len(user.api_tokens) >= MAX_TOKENS:
        raise ApiTokenError("at most {limit} tokens per user: revoke one you no longer use",
                            status=409, limit=MAX_TOKENS)
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(token_hash=hash_token(token), label=label)
    user.api_tokens.append(row)
    db.session.flush()
    audit.record("api_token.create", user=by or user, object_type="user", object_id=user.id,
                 token_id=row.id, label=label)
    db.session.commit()
    return token


def revoke(user: User, token_id: int, *, by: User) -> ApiToken:
    """Revoke one of `user`'s tokens (by the user or an admin); audited."""
    row = next((t for t in user.api_tokens if t.id == token_id), None)
    if row is None:
        raise ApiTokenError("no such token", status=404)
    user.api_tokens.remove(row)
    audit.record("api_token.revoke", user=by, object_type="user", object_id=user.id,
                 token_id=token_id, label=row.label)
    db.session.commit()
    return row


def user_for(token: str) -> tuple[User, ApiToken] | None:
    """The active user a token belongs to, and the token's row; None for anything else."""
    if not token.startswith(PREFIX) or len(token) > 128:
        return None
    found = db.session.execute(
        sa.select(User, ApiToken).join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if found is None or not found[0].active:
        return None
    user, row = found
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > USE_RESOLUTION:
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == row.id)
                           .values(last_used_at=now))
        db.session.commit()
    return user, row
