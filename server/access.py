"""Who may use which route: one decorator per view, checked in one place, failing closed.

Every view declares its rule with `@allow(...)`. A route without a rule answers 403 to
everyone, and tests/test_access.py enumerates every route x role so it cannot slip in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from server.models.users import Role

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"  # anyone, logged in or not
DEVICE = "device"  # OpenRosa: the view authenticates a device token or HTTP Basic itself
LOGGED_IN = "logged_in"  # any role
ALL_ROLES = frozenset(Role)

RULE_ATTR = "_doorstep_access"


def allow(*rule: Role | str) -> Callable[[F], F]:
    """Declare who may call a view: roles, or one of PUBLIC / DEVICE / LOGGED_IN."""
    if not rule:
        raise ValueError("allow() needs at least one role or PUBLIC/DEVICE/LOGGED_IN")
    if len(rule) == 1 and rule[0] in (PUBLIC, DEVICE, LOGGED_IN):
        value: str | frozenset[Role] = rule[0]  # type: ignore[assignment]
    else:
        value = frozenset(Role(r) for r in rule)

    def decorate(view: F) -> F:
        setattr(view, RULE_ATTR, value)
        return view

    return decorate


def rule_for(endpoint: str | None, app: Flask | None = None) -> str | frozenset[Role] | None:
    app = app or current_app
    if endpoint is None:
        return PUBLIC  # 404s and the like: nothing to protect
    if endpoint == "static":
        return PUBLIC
    view = app.view_functions.get(endpoint)
    return getattr(view, RULE_ATTR, None)


def allowed_roles(rule: str | frozenset[Role] | None) -> frozenset[Role]:
    if rule in (PUBLIC, DEVICE, LOGGED_IN):
        return ALL_ROLES
    return rule or frozenset()  # type: ignore[return-value]


def _check() -> Any:
    rule = rule_for(request.endpoint)
    if rule in (PUBLIC, DEVICE):
        return None
    if rule is None:
        abort(403)
    if not current_user.is_authenticated:
        if request.path.startswith(("/api/", "/odata/")):  # programs: no login page
            abort(401)
        return redirect(url_for("auth.login", next=request.full_path))
    if rule == LOGGED_IN:
        return None
    if current_user.role_enum not in rule:
        abort(403)
    return None


def init_app(app: Flask) -> None:
    app.before_request(_check)
