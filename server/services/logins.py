"""Password logins, for the login page and HTTP Basic alike: throttled, audited, and as slow
for an unknown username as for a wrong password.

Throttling counts failures only, per account and per address, in a moving window kept by
`limits` (Flask-Limiter's engine; server.extensions.init_limiter), as `LOGIN_LIMIT_PER_ACCOUNT`
and `LOGIN_LIMIT_PER_ADDRESS` say. Once a limit is
reached the password is not even checked, so the right one does not get through either. Every
wrong password leaves an audit event; refusals while throttled are logged, not audited, so a
flood cannot grow the audit table without bound (the address limit bounds the audited ones).

HTTP Basic sends the password with every request; checking scrypt each time cost ~100 ms of
CPU per submission. A verified Basic credential is remembered for `BASIC_AUTH_CACHE_S` in this
process (`BasicCache`): keyed by an HMAC of username and password under a random per-process
key (the password itself is never kept), valid only while the user's stored password hash is
the one it was verified against and the account is active (both read with the user on every
request, so a password changed or an account deactivated in any process ends it at once).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

import sqlalchemy as sa
from flask import current_app, request
from limits import RateLimitItem, parse
from limits.strategies import RateLimiter
from sqlalchemy.engine import Connection, Row
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


@dataclass(frozen=True)
class _Verified:
    user_id: int
    fingerprint: bytes  # of the password hash it was verified against
    until: float  # time.monotonic()


class BasicCache:
    """Verified HTTP Basic credentials, remembered briefly in one process (see the module's
    docstring); bounded, so that many users cannot grow it without limit."""

    MAX_ENTRIES = 10_000

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._key = secrets.token_bytes(32)
        self._entries: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()

    def _digest(self, username: str, password: str) -> bytes:
        message = f"{len(username)}:{username}:{password}".encode("utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    @staticmethod
    def fingerprint(user: User | Row) -> bytes:
        return hashlib.sha256(user.password_hash.encode()).digest()

    def verified(self, user: User | Row, password: str) -> bool:
        """True if this user's password was verified recently and nothing changed since
        (`user`: the User, or a row with its id, username, password_hash and active)."""
        digest = self._digest(user.username, password)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False
            if (entry.until > time.monotonic() and entry.user_id == user.id and user.active
                    and hmac.compare_digest(entry.fingerprint, self.fingerprint(user))):
                return True
            del self._entries[digest]  # expired, or the password or the account changed
            return False

    def remember(self, user: User, password: str) -> None:
        if self.seconds <= 0:
            return
        entry = _Verified(user.id, self.fingerprint(user), time.monotonic() + self.seconds)
        digest = self._digest(user.username, password)
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v.until > now}
                while len(self._entries) >= self.MAX_ENTRIES:  # the oldest go first
                    del self._entries[next(iter(self._entries))]
            self._entries[digest] = entry


def basic_cache() -> BasicCache:
    """This app's cache in this process (made on first use)."""
    cache = current_app.extensions.get("doorstep.basic_cache")
    if cache is None:
        cache = current_app.extensions.setdefault(
            "doorstep.basic_cache", BasicCache(current_app.config["BASIC_AUTH_CACHE_S"]))
    return cache


#: Built once: building the statement per request cost more than running it (~0.4 ms).
_BY_USERNAME = sa.select(User).where(User.username == sa.bindparam("username"))


#: What a remembered Basic credential is checked against, without loading the ORM user.
_CREDENTIAL = sa.select(User.id, User.username, User.password_hash, User.active,
                        User.role).where(User.username == sa.bindparam("username"))


def remembered_basic(conn: Connection, username: str, password: str) -> Row | None:
    """The user (id, username, password_hash, active, role) of an HTTP Basic credential
    verified in the last BASIC_AUTH_CACHE_S seconds and unchanged since, read with one Core
    query on `conn`; None otherwise — then `authenticate` decides, refusals and audit included.
    A throttled account or address is never answered from here (authenticate refuses it)."""
    if not username or retry_after(username) is not None:
        return None
    row = conn.execute(_CREDENTIAL, {"username": username}).first()
    if row is None or not basic_cache().verified(row, password):
        return None
    return row


def authenticate(username: str, password: str, *, via: str,
                 remember: bool = False) -> User | None:
    """The active user with this username and password, else None (audited as
    `login.failed`). Raises LoginThrottled before checking anything once a limit is reached.
    With `remember` (HTTP Basic), a credential verified in the last BASIC_AUTH_CACHE_S
    seconds is accepted without hashing it again (BasicCache)."""
    wait = retry_after(username)
    if wait is not None:
        log.warning("login throttled (%s) for %r from %s", via, username[:64],
                    request.remote_addr)
        raise LoginThrottled(wait)
    user = db.session.scalar(_BY_USERNAME, {"username": username}) if username else None
    if remember and user is not None and basic_cache().verified(user, password):
        return user
    # Always one hash check, so an unknown or inactive username answers as slowly as a
    # wrong password (timing must not tell which usernames exist).
    ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if ok and user is not None and user.active:
        if remember:
            basic_cache().remember(user, password)
        return user
    strategy = _limiter()
    for item, kind, key in _counters(username):
        strategy.hit(item, "login", kind, key)
    audit.record("login.failed", user=None, object_type="user",
                 object_id=user.id if user else "", username=username[:64], via=via)
    db.session.commit()
    return None
