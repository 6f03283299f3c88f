"""Configuration: defaults, then instance/config.py, then DOORSTEP_* environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

REPO_ROOT = Path(__file__).resolve().parent.parent


class StartupError(RuntimeError):
    """A configuration problem that stops start-up; its message is the one line a user sees."""


DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "MIGRATIONS_DIR": str(REPO_ROOT / "migrations"),
    # Coverage thresholds (DESIGN.md "Coverage"): metres.
    "MATCH_DISTANCE_M": 30.0,
    "GPS_ACCURACY_M": 25.0,
    # Uploads
    "MAX_FORM_UPLOAD_BYTES": 10 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # The per-tenant floor-area minimum is a city rule, not a constant (DOMAIN.md).
    "MIN_FLOOR_AREA_PER_TENANT_M2": 10.0,
    "BASEMAP_TILE_URL": "",
    # The push phase's target for the information entry rate (DOMAIN.md: >= 90 % by 30 Nov).
    "ENTRY_RATE_TARGET": 0.9,
    "DEFAULT_LOCALE": "zh_CN",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # The background worker that processes stored submissions; tests drive it directly.
    "PROCESS_IN_BACKGROUND": True,
}

# Environment variables that do not follow the DOORSTEP_<FLASK_KEY> pattern.
ENV_ALIASES = {"DOORSTEP_DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("DOORSTEP")
        for env_name, key in ENV_ALIASES.items():
            if os.environ.get(env_name):
                app.config[key] = os.environ[env_name]
    else:
        app.config.from_mapping(test_config)
    _ensure_instance_folder(app)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        f"sqlite:///{Path(app.instance_path) / 'doorstep.sqlite3'}",
    )
    app.config.setdefault("STORAGE_DIR", str(Path(app.instance_path) / "storage"))
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))


def _ensure_instance_folder(app: Flask) -> None:
    path = Path(app.instance_path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise StartupError(
            f"instance folder {path} is not writable ({err.strerror}); "
            "fix its permissions or set another with DOORSTEP_INSTANCE_PATH"
        ) from err


def _instance_secret(instance: Path) -> str:
    """A per-installation secret: no well-known fallback key ever ships in the code."""
    key_file = instance / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
