from __future__ import annotations

import secrets

import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Assignment, Role, User
from server.services.errors import ServiceError


class UserError(ServiceError):
    """A user request that cannot be carried out; the message says why."""

    code = "user_refused"


def generate_password() -> str:
    # Readable on a phone screen: no 0/O or 1/l confusion.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def create_user(
    username: str,
    role: Role | str,
    *,
    display_name: str = "",
    area_codes: list[str] | None = None,
    password: str | None = None,
) -> tuple[User, str]:
    """Create a user and return it with its password (shown once, stored only as a hash)."""
    try:
        role = Role(role)
    except ValueError as err:
        choices = ", ".join(r.value for r in Role)
        raise UserError("unknown role {role!r}: choose one of {choices}", role=role,
                        choices=choices) from err
    if not username or len(username) > 64:
        raise UserError("username must be 1 to 64 characters")
    if db.session.scalar(sa.select(User.id).where(User.username == username)):
        raise UserError("user {username!r} already exists", username=username)
    password = password or generate_password()
    user = User(username=username, role=role.value, display_name=display_name or username)
    user.set_password(password)
    user.assignments.extend(Assignment(area=area) for area in _areas_by_code(area_codes or []))
    db.session.add(user)
    return user, password


def reset_password(username: str) -> str:
    user = db.session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise UserError("no user {username!r}", username=username)
    password = generate_password()
    user.set_password(password)
    end_sessions(user)
    return password


def end_sessions(user: User) -> None:
    """Every session of the user stops working at its next request (logout, password
    reset, deactivation): the session id names the generation it was made in."""
    user.session_generation = (user.session_generation or 0) + 1


def set_areas(user: User, area_codes: list[str]) -> None:
    """Replace a user's assigned areas; unknown codes are refused before anything changes."""
    areas = _areas_by_code(area_codes)
    user.assignments.clear()
    db.session.flush()
    user.assignments.extend(Assignment(area=area) for area in areas)


def _areas_by_code(area_codes: list[str]) -> list[Area]:
    """Codes as people type them ("XY01-01, XY01-02"): trimmed, each once, all known."""
    codes = list(dict.fromkeys(c.strip() for c in area_codes if c.strip()))
    found = {
        a.code: a for a in db.session.scalars(sa.select(Area).where(Area.code.in_(codes)))
    }
    unknown = [c for c in codes if c not in found]
    if unknown:
        raise UserError("unknown area code {area!r}", area=unknown[0])
    return [found[code] for code in codes]


def set_active(user: User, active: bool) -> None:
    """Deactivating also ends the user's sessions and revokes every device link, so a lost
    phone stops sending at once."""
    user.active = active
    if not active:
        user.device_links.clear()
        end_sessions(user)
