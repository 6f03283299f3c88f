"""Settings are data: one table in server/config.py, typed values, and a README that matches it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask

from server import StartupError, create_app
from server.config import INSTANCE_PATH_ENV, MIB, SETTINGS, InInstance, Setting

REPO_ROOT = Path(__file__).resolve().parents[1]
BY_NAME = {s.name: s for s in SETTINGS}


def shown(setting: Setting) -> str:
    """A setting's default as README.md writes it."""
    value = setting.default
    if isinstance(value, InInstance):
        return value.shown
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        whole_mib = value >= MIB and value % MIB == 0
        return f"{value} ({value // MIB} MiB)" if whole_mib else str(value)
    return f"`{value}`" if value else "none"


def readme_configuration_rows() -> list[tuple[str, str, str]]:
    """(variable, meaning, default) for each row of README.md's "Configuration" table."""
    text = (REPO_ROOT / "README.md").read_text("utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows[0] == "| variable | meaning | default |", rows[0]
    cells = [tuple(c.strip() for c in row.strip().strip("|").split(" | ")) for row in rows[2:]]
    assert all(len(c) == 3 for c in cells), cells
    return cells  # type: ignore[return-value]


def expected_rows() -> list[tuple[str, str, str]]:
    """The instance folder (read before any setting) first, then every public setting in order."""
    instance_default = Path(Flask("server").instance_path).relative_to(REPO_ROOT)
    return [
        (f"`{INSTANCE_PATH_ENV}`", "", f"`{instance_default}/`"),
        *((f"`{s.env_var}`", s.help, shown(s)) for s in SETTINGS if s.public),
    ]


def test_readme_configuration_table_matches_the_settings():
    got = readme_configuration_rows()
    want = expected_rows()
    as_markdown = "\n".join(f"| {v} | {m} | {d} |" for v, m, d in want)
    # The instance folder's meaning is prose kept in the README; its name and default are checked.
    assert got[0][0] == want[0][0] and got[0][2] == want[0][2], as_markdown
    assert got[1:] == want[1:], f"README.md's configuration rows should read:\n{as_markdown}"
    # The special rows are there: the instance folder and the database URL alias.
    variables = [row[0] for row in got]
    assert "`DOORSTEP_INSTANCE_PATH`" in variables
    assert "`DOORSTEP_DATABASE_URL`" in variables
    assert BY_NAME["SQLALCHEMY_DATABASE_URI"].env_var == "DOORSTEP_DATABASE_URL"


def test_every_setting_the_code_reads_is_declared():
    """Call sites read current_app.config["X"] for declared X, never .get() with a default."""
    flask_keys = set(Flask(__name__).config)
    read: set[str] = set()
    for path in (REPO_ROOT / "server").rglob("*.py"):
        if path.name == "config.py" and path.parent.name == "server":
            continue
        source = path.read_text("utf-8")
        assert not re.search(r"\bconfig\.get\(", source), f"{path}: config.get() at a call site"
        read |= set(re.findall(r"\bconfig\[\s*[\"']([A-Z0-9_]+)[\"']\s*\]", source))
    for path in (REPO_ROOT / "server" / "templates").rglob("*.html"):
        read |= set(re.findall(r"\bconfig\.([A-Z][A-Z0-9_]+)", path.read_text("utf-8")))
    undeclared = read - set(BY_NAME) - flask_keys
    assert not undeclared
    assert {"MAX_SUBMISSION_XML_BYTES", "INGEST_MAX_BATCH", "BASEMAP_TILE_URL"} <= read


def test_every_setting_has_its_default_and_type(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst")})
    for setting in SETTINGS:
        value = app.config[setting.name]
        assert isinstance(value, setting.type), setting.name
        if not isinstance(setting.default, InInstance):
            assert value == setting.default, setting.name
    assert app.config["STORAGE_DIR"] == str(tmp_path / "inst" / "storage")


def test_environment_values_take_the_declared_type(tmp_path, monkeypatch):
    monkeypatch.setenv(INSTANCE_PATH_ENV, str(tmp_path / "inst"))
    monkeypatch.setenv("DOORSTEP_MATCH_DISTANCE_M", "30")
    monkeypatch.setenv("DOORSTEP_MAX_SUBMISSION_XML_BYTES", "1048576")
    monkeypatch.setenv("DOORSTEP_PROCESS_IN_BACKGROUND", "false")
    monkeypatch.setenv("DOORSTEP_INGEST_GROUP_COMMIT", "No")
    monkeypatch.setenv("DOORSTEP_SECRET_KEY", "12345")
    monkeypatch.setenv("DOORSTEP_DEFAULT_LOCALE", "en")
    monkeypatch.setenv("DOORSTEP_SQLALCHEMY_ENGINE_OPTIONS", '{"pool_pre_ping": true}')
    config = create_app().config
    assert config["MATCH_DISTANCE_M"] == 30.0 and type(config["MATCH_DISTANCE_M"]) is float
    assert config["MAX_SUBMISSION_XML_BYTES"] == 1048576
    assert config["PROCESS_IN_BACKGROUND"] is False
    assert config["INGEST_GROUP_COMMIT"] is False
    assert config["SECRET_KEY"] == "12345"  # text, though JSON would read a number
    assert config["DEFAULT_LOCALE"] == "en"
    assert config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("DOORSTEP_MATCH_DISTANCE_M", "30m"),
        ("DOORSTEP_GPS_ACCURACY_M", "nan"),
        ("DOORSTEP_MAX_CONTENT_LENGTH", "64MB"),
        ("DOORSTEP_MAX_FORM_UPLOAD_BYTES", "1.5"),
        ("DOORSTEP_PROCESS_IN_BACKGROUND", "maybe"),
        ("DOORSTEP_SQLALCHEMY_ENGINE_OPTIONS", "[1]"),
    ],
)
def test_a_bad_environment_value_names_the_variable(tmp_path, monkeypatch, variable, raw):
    monkeypatch.setenv(INSTANCE_PATH_ENV, str(tmp_path / "inst"))
    monkeypatch.setenv(variable, raw)
    with pytest.raises(StartupError, match=rf"^{variable}='{re.escape(raw)}' is not "):
        create_app()


def test_instance_file_values_are_checked(tmp_path, monkeypatch):
    inst = tmp_path / "inst"
    inst.mkdir()
    monkeypatch.setenv(INSTANCE_PATH_ENV, str(inst))
    (inst / "config.py").write_text("MATCH_DISTANCE_M = 40\n")
    assert create_app().config["MATCH_DISTANCE_M"] == 40.0  # a whole number does for metres
    (inst / "config.py").write_text("MAX_CONTENT_LENGTH = '64 MB'\n")
    with pytest.raises(StartupError, match=r"MAX_CONTENT_LENGTH .*config\.py must be a whole"):
        create_app()


def test_shown_defaults():
    def of(default: object, kind: type) -> str:
        return shown(Setting("X", default, kind, ""))

    assert of(30.0, float) == "30"
    assert of(0.9, float) == "0.9"
    assert of(500, int) == "500"
    assert of(10 * MIB, int) == "10485760 (10 MiB)"
    assert of(True, bool) == "`true`"
    assert of("zh_CN", str) == "`zh_CN`"
    assert of("", str) == "none"
