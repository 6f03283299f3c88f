"""An upload held between two steps of a page, so the second step needs no second upload.

The import page asks what to do with streets a footprint file names but the area tree lacks;
the file waits under STORAGE_DIR/tmp/ (never served, never in backups, swept like any temporary
file) under a random token the answer sends back.
"""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from flask import current_app

KEEP_S = 6 * 3600  # older held uploads are removed when another is held
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_PREFIX = "held-"


def _dir() -> Path:
    path = Path(current_app.config["STORAGE_DIR"]) / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _paths(token: str) -> tuple[Path, Path] | None:
    if not _TOKEN.match(token or ""):
        return None
    base = _dir() / f"{_PREFIX}{token}"
    return base, base.with_name(base.name + ".name")


def hold(data: bytes, filename: str) -> str:
    """Keep an upload; returns the token that fetches it."""
    sweep()
    token = secrets.token_urlsafe(24)
    data_path, name_path = _paths(token)  # type: ignore[misc]
    data_path.write_bytes(data)
    name_path.write_text(filename, encoding="utf-8")
    return token


def fetch(token: str) -> tuple[bytes, str] | None:
    """(data, filename) of a held upload, or None if the token is unknown or expired."""
    paths = _paths(token)
    if paths is None or not all(p.is_file() for p in paths):
        return None
    return paths[0].read_bytes(), paths[1].read_text(encoding="utf-8")


def release(token: str) -> None:
    for path in _paths(token) or ():
        path.unlink(missing_ok=True)


def sweep(older_than_s: float = KEEP_S) -> int:
    cutoff, removed = time.time() - older_than_s, 0
    for path in _dir().glob(f"{_PREFIX}*"):
        try:
            if path.stat().st_mtime <= cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
