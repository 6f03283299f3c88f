"""Password logins, for the login page and HTTP Basic alike: throttled, audited, and as slow
for an unknown username as for a wrong password.

Throttling counts failures only, per account and per address, in a moving window kept by
`limits` (Flask-Limiter's engine; server.extensions.init_limiter), as `LOGIN_LIMIT_PER_ACCOUNT`
and `LOGIN_LIMIT_PER_ADDRESS` say. Once a limit is
reached the password is not even checked, so the right one does not get through either. Every
wrong password leaves an audit event; refusals while throttled are logged, not audited, so a
flood cannot grow the audit table without bound (the address limit bounds the audited ones).
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, request
from limits import RateLimitItem, parse
from limits.strategies import RateLimiter
from werkzeug.security import check_password_hash, generate_password_hash

from server.extensions import db
from server.models import User
from server.services import audit

log = logging.getLogger(__name__)


class LoginThrottled(Exception):
    """Too many failed logins for this account or from this address (answer 429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of the same kind as real ones, checked when the username is unknown."""
    return generate_password_hash("no such user: the same work as a real check")


def _limiter() -> RateLimiter:
    return current_app.extensions["doorstep.login_limiter"]


def _counters(username: str) -> list[tuple[RateLimitItem, str, str]]:
    config = current_app.config
    return [
        (parse(config["LOGIN_LIMIT_PER_ACCOUNT"]), "account", username[:64]),
        (parse(config["LOGIN_LIMIT_PER_ADDRESS"]), "address", request.remote_addr or "?"),
    ]


def retry_after(username: str) -> int | None:
    """Seconds until this account may be tried again from this address; None: go ahead."""
    strategy = _limiter()
    for item, kind, key in _counters(username):
        if not strategy.test(item, "login", kind, key):
            reset_at, _remaining = strategy.get_window_stats(item, "login", kind, key)
            return max(1, int(reset_at - time.time()) + 1)
    return None


def authenticate(username: str, password: str, *, via: str) -> User | None:
    """The active user with this username and password, else None (audited as
    `login.failed`). Raises LoginThrottled before checking anything once a limit is reached."""
    wait = retry_after(username)
    if wait is not None:
        log.warning("login throttled (%s) for %r from %s", via, username[:64],
                    request.remote_addr)
        raise LoginThrottled(wait)
    user = db.session.scalar(sa.select(User).where(User.username == username)) \
        if username else None
    # Always one hash check, so an unknown or inactive username answers as slowly as a
    # wrong password (timing must not tell which usernames exist).
    ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if ok and user is not None and user.active:
        return user
    strategy = _limiter()
    for item, kind, key in _counters(username):
        strategy.hit(item, "login", kind, key)
    audit.record("login.failed", user=None, object_type="user",
                 object_id=user.id if user else "", username=username[:64], via=via)
    db.session.commit()
    return None
