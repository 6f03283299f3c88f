"""Configuration: defaults, then instance/config.py, then DOORSTEP_* environment variables.

Every setting the code reads is declared once, in SETTINGS: its default, its type and the help
an operator reads. The defaults in app.config come from that table (call sites read
`current_app.config["X"]` and never carry a default of their own), environment variables are
converted to the declared type, and README.md's configuration table lists exactly the public
settings (tests/test_config.py compares the two).
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forms.guards import DEFAULT_MAX_BYTES as FORM_MAX_BYTES

if TYPE_CHECKING:
    from flask import Flask  # (only named in hints: `doorstep --help` never loads Flask)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Read before anything else (create_app): it says where instance/config.py is.
INSTANCE_PATH_ENV = "DOORSTEP_INSTANCE_PATH"

MIB = 1024 * 1024


class StartupError(RuntimeError):
    """A configuration problem that stops start-up; its message is the one line a user sees."""


@dataclass(frozen=True)
class InInstance:
    """A default inside the instance folder, known only once that folder is."""

    make: Callable[[Path], Any]
    shown: str  # how README.md states it


@dataclass(frozen=True)
class Setting:
    """One setting: its app.config key, default, type and help; `public` ones are in README.md."""

    name: str
    default: Any
    type: type
    help: str
    public: bool = True
    env: str = ""  # the environment variable when it is not DOORSTEP_<name>

    @property
    def env_var(self) -> str:
        return self.env or f"DOORSTEP_{self.name}"


def _sqlite_in(instance: Path) -> str:
    return f"sqlite:///{instance / 'doorstep.sqlite3'}"


def _storage_in(instance: Path) -> str:
    return str(instance / "storage")


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


SETTINGS: tuple[Setting, ...] = (
    # Where things are.
    Setting("SQLALCHEMY_DATABASE_URI",
            InInstance(_sqlite_in, "SQLite file `instance/doorstep.sqlite3` "
                                   "(WAL, foreign keys, `synchronous=FULL`)"),
            str, "SQLAlchemy URL; `postgresql+psycopg://…` for PostgreSQL + PostGIS",
            env="DOORSTEP_DATABASE_URL"),
    Setting("SECRET_KEY",
            InInstance(_instance_secret, "generated once into `instance/secret_key` (mode 600); "
                                         "no key ships in the code"),
            str, "session signing key"),
    Setting("STORAGE_DIR", InInstance(_storage_in, "`instance/storage/`"),
            str, "folder for attachments (photos …) and temporary upload files"),
    # Coverage thresholds (docs/ARCHITECTURE.md): metres.
    Setting("MATCH_DISTANCE_M", 30.0, float,
            "how far (metres) a geotag may be from its building"),
    Setting("GPS_ACCURACY_M", 25.0, float, "worse GPS accuracy (metres) flags the visit"),
    # City rules are configuration, not constants (docs/DOMAIN.md).
    Setting("MIN_FLOOR_AREA_PER_TENANT_M2", 10.0, float,
            "the city's per-tenant floor-area minimum (m²), given to forms in `settings.csv`"),
    # Floating residents and staffing (docs/DOMAIN.md: one coordinator per 500).
    Setting("HOME_REGION_CODE", "530122", str,
            "six-digit region code of the township's county; residents registered elsewhere "
            "count as floating"),
    Setting("FLOATING_RESIDENTS_PER_COORDINATOR", 500, int,
            "floating residents one full-time coordinator serves (the staffing rule)"),
    # The push phase's target (docs/DOMAIN.md: >= 90 % by 30 Nov).
    Setting("ENTRY_RATE_TARGET", 0.9, float, "entry-rate target of a round that sets none"),
    Setting("DEFAULT_LOCALE", "zh_CN", str,
            "language of pages until a user picks one (`zh_CN` or `en`)"),
    Setting("TIMEZONE", "Asia/Shanghai", str,
            "the township's time zone (IANA name): times on pages, exports and reports, and the "
            "days of date filters; stored times stay UTC"),
    Setting("BASEMAP_TILE_URL", "", str,
            "XYZ tile URL (`https://…/{z}/{x}/{y}.png`) drawn under the maps; none: no basemap"),
    # Uploads.
    Setting("MAX_CONTENT_LENGTH", 64 * MIB, int,
            "largest request in bytes (a submission with its photos, a form with its media)"),
    Setting("MAX_PLAIN_BODY_BYTES", MIB, int,
            "largest request that is not a multipart upload (a login form, a JSON request): "
            "such bodies are read into memory whole"),
    Setting("MAX_FORM_UPLOAD_BYTES", FORM_MAX_BYTES, int,
            "largest XLSForm or form media file in bytes"),
    Setting("MAX_SUBMISSION_XML_BYTES", 10 * MIB, int,
            "largest submission XML in bytes (attachments not counted)"),
    Setting("MAX_SUBMISSION_ELEMENTS", 50_000, int,
            "most XML elements in one submission (a larger one is refused with 413 as soon as "
            "the parser passes the bound); nesting deeper than 64 is refused too"),
    Setting("INGEST_COMMIT_TIMEOUT_S", 60.0, float,
            "seconds a submission waits for its commit before the phone is told to retry (503)"),
    # Processing (server.services.processing): batches claimed from the queue in the database.
    Setting("PROCESSING_BATCH_SIZE", 100, int,
            "most submissions a worker processes in one transaction"),
    Setting("PROCESSING_BATCH_MS", 250, int,
            "a batch ends after this many milliseconds of work even if not full (on SQLite "
            "ingest waits for it)"),
    # Logins and sessions.
    Setting("LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes", str,
            "failed logins (page or HTTP Basic) allowed per username before it is refused "
            "(429) for the rest of the window"),
    Setting("LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes", str,
            "failed logins allowed per client address, whatever the username"),
    Setting("LOGIN_LIMIT_STORAGE_URI", "memory://", str,
            "where failed logins are counted: `memory://` counts per process; "
            "`redis://…` (with the `redis` package) shares it between `--workers`"),
    Setting("BASIC_AUTH_CACHE_S", 300, int,
            "seconds a verified HTTP Basic password is remembered in a process (0: check it "
            "every time); a changed password or a deactivated account ends it at once"),
    Setting("TRUSTED_PROXIES", 0, int,
            "reverse proxies in front of the server whose `X-Forwarded-For`/`-Proto`/`-Host` "
            "are trusted (client address for throttling, HTTPS for `Secure` cookies)"),
    Setting("SESSION_COOKIE_SECURE", False, bool,
            "send the session cookie over HTTPS only, even when the request does not say it "
            "came over HTTPS (it always is when it does)"),
    Setting("COMPRESS_MIN_SIZE", 500, int,
            "Flask-Compress's: answers shorter than this many bytes are sent as they are (the "
            "lean submission cycle, server/lean.py, writes such an answer's headers directly)",
            public=False),
    Setting("REMEMBER_COOKIE_REFRESH_EACH_REQUEST", False, bool,
            "Flask-Login's: send the remember-me cookie again on every request; when on, a "
            "phone's submission takes the full request cycle (server/lean.py)", public=False),
    # Data out.
    Setting("ODATA_PAGE_SIZE", 1000, int,
            "most rows in one answer of the OData feed; a client follows `@odata.nextLink` "
            "for the rest"),
    # Imports of footprints and areas (docs/ARCHITECTURE.md): bounded, in a helper process.
    # The limits are gis.limits' defaults (tests/gis/test_import_limits.py compares them; `gis`
    # is not imported here: `doorstep --help` loads none of the app).
    Setting("IMPORT_MAX_FEATURES", 2_000_000, int,
            "most features (rows) in one imported file"),
    Setting("IMPORT_MAX_VERTICES_PER_FEATURE", 50_000, int,
            "most vertices in one imported geometry, counted before any repair"),
    Setting("IMPORT_MAX_VERTICES", 20_000_000, int,
            "most vertices in all the geometries of one imported file"),
    Setting("IMPORT_REPAIR_BUDGET_S", 2.0, float,
            "seconds the repair of one invalid geometry may take; longer counts as beyond "
            "repair (skipped with `--skip-invalid` or the page's box, else the file is refused); "
            "0: no budget"),
    Setting("IMPORT_MEMORY_LIMIT_MB", 3072, int,
            "memory (MB of address space) an import's helper process may take beyond the "
            "libraries it starts with; an import needing more is stopped and refused, the "
            "server carries on"),
    Setting("IMPORT_TIME_LIMIT_S", 900.0, float,
            "seconds an import's helper process may run before it is stopped and the import "
            "refused"),
    # Internal: fixed by the code's design, or switches for tests and benchmarks.
    Setting("INGEST_GROUP_COMMIT", True, bool,
            "one committer per process writes queued submissions in one transaction; "
            "false writes each in its request thread (for comparison)", public=False),
    Setting("INGEST_MAX_BATCH", 500, int, "most submissions in one group commit", public=False),
    Setting("PROCESS_IN_BACKGROUND", True, bool,
            "`doorstep serve` starts the worker that processes stored submissions; "
            "tests drive processing directly", public=False),
    Setting("PROCESSING_RETRY_FIRST_S", 10.0, float,
            "seconds before a processing interrupted by a full disk or a lost database is "
            "retried; doubled after each failed attempt", public=False),
    Setting("PROCESSING_RETRY_MAX_S", 900.0, float,
            "longest wait between two such retries", public=False),
    Setting("SESSION_COOKIE_HTTPONLY", True, bool, "scripts cannot read the session cookie",
            public=False),
    Setting("SESSION_COOKIE_SAMESITE", "Lax", str, "the session cookie stays on this site",
            public=False),
    Setting("SQLALCHEMY_ENGINE_OPTIONS", {}, dict, "passed to SQLAlchemy's create_engine",
            public=False),
    Setting("MIGRATIONS_DIR", str(REPO_ROOT / "migrations"), str, "the Alembic revisions",
            public=False),
)

# The values app.config starts from; instance-folder defaults are filled in by load_config.
DEFAULTS: dict[str, Any] = {
    s.name: s.default for s in SETTINGS if not isinstance(s.default, InInstance)
}

_BOOLEANS = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}

_KINDS = {
    bool: "true or false",
    int: "a whole number",
    float: "a number",
    str: "text",
    dict: "a JSON object",
}


def load_config(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Fill app.config from the table, the instance file and the environment (or, in tests,
    from test_config alone), with every declared setting of its declared type."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        _check_all(app, f"in {Path(app.instance_path) / 'config.py'}")
        # Flask's own settings (SESSION_COOKIE_SECURE …) the Flask way (JSON); ours by type.
        app.config.from_prefixed_env("DOORSTEP")
        for setting in SETTINGS:
            raw = os.environ.get(setting.env_var)
            if raw is not None and (raw or not isinstance(setting.default, InInstance)):
                app.config[setting.name] = _from_env(setting, raw)
    else:
        app.config.from_mapping(test_config)
        _check_all(app, "given to create_app()")
    _ensure_instance_folder(app)
    instance = Path(app.instance_path)
    for setting in SETTINGS:
        if isinstance(setting.default, InInstance) and not app.config.get(setting.name):
            app.config[setting.name] = setting.default.make(instance)


def _from_env(setting: Setting, raw: str) -> Any:
    """The value of an environment variable as the setting's type; StartupError if it is not."""
    text = raw.strip()
    value: Any = None
    try:
        if setting.type is bool:
            value = _BOOLEANS.get(text.lower())
        elif setting.type is int:
            value = int(text)
        elif setting.type is float:
            value = float(text)
        elif setting.type is dict:
            value = json.loads(text)
        else:
            value = raw
    except ValueError:
        pass
    checked = _as_declared(setting, value)
    if checked is None:
        raise StartupError(f"{setting.env_var}={raw!r} is not {_KINDS[setting.type]}: "
                           f"{setting.help}")
    return checked


def _check_all(app: Flask, where: str) -> None:
    """Values from a file or a mapping must already have the declared types."""
    for setting in SETTINGS:
        value = app.config.get(setting.name)
        if value is None and isinstance(setting.default, InInstance):
            continue  # filled in from the instance folder
        checked = _as_declared(setting, value)
        if checked is None:
            raise StartupError(f"setting {setting.name} {where} must be "
                               f"{_KINDS[setting.type]}, not {value!r}")
        app.config[setting.name] = checked


def _as_declared(setting: Setting, value: Any) -> Any:
    """The value as the declared type (a whole number does for a float), or None if it is not."""
    if isinstance(value, bool) and setting.type is not bool:
        return None
    if setting.type is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, setting.type):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _ensure_instance_folder(app: Flask) -> None:
    path = Path(app.instance_path)
    try:
        # A new instance folder is the owner's alone: it holds the secret key and the data.
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as err:
        raise StartupError(
            f"instance folder {path} is not writable ({err.strerror}); "
            f"fix its permissions or set another with {INSTANCE_PATH_ENV}"
        ) from err
