from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Area, Building, Role, User


def test_users_create_prints_password_once(runner, app, area_tree):
    result = runner.invoke(args=["users", "create", "li", "--role", "coordinator",
                                 "--area", "T01-01", "--name", "李协管"])
    assert result.exit_code == 0, result.output
    password = result.output.strip().rsplit(" ", 1)[-1]
    user = db.session.scalar(sa.select(User).where(User.username == "li"))
    assert user.role == Role.COORDINATOR and user.check_password(password)
    assert password not in user.password_hash
    assert [a.area.code for a in user.assignments] == ["T01-01"]
    assert user.device_links == []  # the coordinator links a phone; its token is shown once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "create", "x", "--role", "boss"], "unknown role 'boss'"),
        (["users", "create", "x", "--role", "supervisor", "--area", "NOPE"], "unknown area code"),
    ],
)
def test_users_create_errors(runner, app, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_duplicate_user(runner, app):
    assert runner.invoke(args=["users", "create", "a", "--role", "admin"]).exit_code == 0
    result = runner.invoke(args=["users", "create", "a", "--role", "admin"])
    assert "already exists" in result.output


def test_demo_loads_once(runner, app):
    result = runner.invoke(args=["demo", "--no-serve", "--buildings", "300"])
    assert result.exit_code == 0, result.output
    assert "admin" in result.output
    admin_password = next(
        line.split()[-1] for line in result.output.splitlines() if line.strip().startswith("admin")
    )
    assert db.session.scalar(sa.select(User).where(User.username == "admin")).check_password(
        admin_password
    )
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 300
    assert db.session.scalar(sa.select(sa.func.count(Area.id)).where(Area.level == "village")) >= 3
    again = runner.invoke(args=["demo", "--no-serve", "--buildings", "300"])
    assert "already loaded" in again.output
    assert db.session.scalar(sa.select(sa.func.count(Building.id))) == 300


def _doorstep(tmp_path, *args, **env):
    environment = {**os.environ, "DOORSTEP_INSTANCE_PATH": str(tmp_path / "inst"), **env}
    return subprocess.run(
        [sys.executable, "-m", "server", *args], capture_output=True, text=True,
        env=environment, timeout=60,
    )


def test_unreachable_database_is_one_line(tmp_path):
    result = _doorstep(
        tmp_path, "serve", DOORSTEP_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none"
    )
    assert result.returncode == 2
    assert result.stderr.startswith("doorstep: cannot reach database postgresql+psycopg://")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unwritable_instance_folder_is_one_line(tmp_path):
    (tmp_path / "blocker").write_text("a file, not a folder")
    result = _doorstep(
        tmp_path, "db", "upgrade", DOORSTEP_INSTANCE_PATH=str(tmp_path / "blocker" / "inst")
    )
    assert result.returncode == 2
    assert "is not writable" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_in_the_environment_is_one_line(tmp_path):
    result = _doorstep(tmp_path, "db", "upgrade", DOORSTEP_MATCH_DISTANCE_M="30m")
    assert result.returncode == 2
    assert result.stderr.startswith("doorstep: DOORSTEP_MATCH_DISTANCE_M='30m' is not a number")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_upgrade_from_the_command_line(tmp_path):
    result = _doorstep(tmp_path, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'inst' / 'doorstep.sqlite3'}")
    assert "buildings" in sa.inspect(engine).get_table_names()
    engine.dispose()



# Imported only by the commands and requests that use them (issue 9: the CLI answers fast).
HEAVY = ("geopandas", "pyogrio", "pyproj", "pyxform", "openpyxl", "xlsxwriter", "PIL",
         "mapbox_vector_tile")
# What building the app imports: help must not (issue 9: `doorstep --help` in under 1 s).
# Flask itself (with Werkzeug and Jinja) is most of what is left: help does without it too.
APP = ("flask", "werkzeug", "jinja2", "sqlalchemy", "flask_sqlalchemy", "flask_migrate",
       "alembic", "mako", "numpy", "shapely", "limits", "server.models", "server.services",
       "server.web", "server.access", "gis")


# `doorstep ARGS`, then the names of every module loaded, on stderr after a line "--". (A
# `-X importtime` log misses modules loaded with importlib.import_module, as commands are.)
_MODULES_AT_EXIT = ("import atexit, sys\n"
                    "atexit.register(lambda: print('--', *sys.modules, file=sys.stderr))\n"
                    "from server.cli.main import main\n"
                    "sys.argv[0] = 'doorstep'\n"
                    "main()\n")


def _with_modules(tmp_path, *args, **env) -> tuple[subprocess.CompletedProcess, set[str]]:
    environment = {**os.environ, "DOORSTEP_INSTANCE_PATH": str(tmp_path / "inst"), **env}
    result = subprocess.run([sys.executable, "-c", _MODULES_AT_EXIT, *args],
                            capture_output=True, text=True, env=environment, timeout=60)
    return result, set(result.stderr.rsplit("-- ", 1)[-1].split())


def _any_of(imported: set[str], prefixes) -> list[str]:
    return sorted({p for p in prefixes for m in imported if m == p or m.startswith(p + ".")})


@pytest.mark.parametrize(("args", "shown"), [
    (["--help"], ["coverage", "users", "rounds", "db  ", "routes"]),
    (["rounds", "--help"], ["create", "list", "edit", "close"]),
    (["users", "--help"], ["create", "reset-password", "handover"]),
    (["rounds", "list", "--help"], ["newest first"]),
    (["serve", "--help"], ["--workers"]),
    (["phases", "--help"], ["create", "list", "edit"]),
    (["coverage", "export", "--help"], ["--format"]),
])
def test_help_imports_neither_the_app_nor_its_engines(tmp_path, args, shown):
    """Help is answered from the command modules alone. Structural, so it holds on a busy
    machine; timings are in tests/bench/RESULTS.md (tests/bench/bench_cli.py)."""
    result, imported = _with_modules(tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert all(text in result.stdout for text in shown), result.stdout
    assert {"click", "server.cli.rounds", "server.cli.serve"} <= imported  # the list is complete
    assert _any_of(imported, APP + HEAVY) == []


def test_db_help_loads_flask_migrate_but_not_the_app(tmp_path):
    result, imported = _with_modules(tmp_path, "db", "--help")
    assert result.returncode == 0, result.stderr
    assert "upgrade" in result.stdout and "Perform database migrations." in result.stdout
    assert "flask_migrate.cli" in imported
    assert _any_of(imported, ("server.models", "server.web", "numpy", "shapely", *HEAVY)) == []


# What a light command (one that reads or writes a few rows) must not load: the web side of the
# app (every blueprint, the OData engine, request hooks), the geo, form, spreadsheet and PDF
# engines, numpy and shapely, and the migration engine (issue 9: light commands under 1 s).
NOT_FOR_LIGHT_COMMANDS = (*HEAVY, "weasyprint", "odata_query", "pandas", "numpy", "shapely",
                          "flask_migrate", "alembic", "mako", "limits", "whitenoise", "flask_babel",
                          "server.web", "server.api", "server.odata", "server.openrosa",
                          "server.services.odata", "gis.coverage")


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory):
    """One instance folder with a migrated SQLite database, shared by the light commands."""
    folder = tmp_path_factory.mktemp("light")
    result = _doorstep(folder, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return folder


@pytest.mark.parametrize(("args", "shown"), [
    (["rounds", "list"], "no rounds yet"),
    (["phases", "list"], "targets 90% / 100%"),
    (["forms", "list"], ""),
    (["users", "create", "first-admin", "--role", "admin"], "created admin first-admin"),
    (["users", "reset-password", "first-admin"], "new password for first-admin"),
])
def test_a_light_command_builds_the_app_without_its_web_side_or_engines(upgraded, args, shown):
    """The command builds the app and reads the database (sqlalchemy and the models are
    loaded), but not the pages, APIs or engines: `create_app(web=False)`, and the services it
    calls import numpy, shapely and the coverage engine only where a job or an index runs."""
    result, imported = _with_modules(upgraded, *args)
    assert result.returncode == 0, result.stderr
    assert shown in result.stdout
    assert {"flask", "sqlalchemy", "server.models"} <= imported  # it did build the app
    assert _any_of(imported, NOT_FOR_LIGHT_COMMANDS) == []


def test_the_command_lists_every_command_of_the_app_and_of_flask_without_loading_them(app):
    from flask.cli import FlaskGroup

    from server.cli.main import LazyCommand, group

    listed = group().commands
    flask_own = FlaskGroup().commands  # run, shell, routes
    assert set(listed) == set(app.cli.commands) | set(flask_own) | {"db"}  # db: Flask-Migrate's
    for name, command in {**app.cli.commands, **flask_own}.items():
        if name == "db":  # Flask-Migrate's group, binding Flask-Migrate before it runs
            assert listed[name].load().commands == command.commands
            assert listed[name].get_short_help_str() == command.get_short_help_str()
        elif isinstance(listed[name], LazyCommand):  # run, shell, routes
            assert listed[name].load() is command
            assert listed[name].get_short_help_str() == command.get_short_help_str()
        else:
            assert listed[name] is command


def test_flasks_options_and_commands_still_work(tmp_path):
    version = _doorstep(tmp_path, "--version")
    assert version.returncode == 0 and "Flask 3." in version.stdout
    shell = ["-c", "import sys; from server.cli.main import main; sys.argv[0] = 'doorstep'; "
             "sys.stdin = __import__('io').StringIO('print(\"debug\", app.debug)'); main()"]
    for flag, expected in [("--debug", "debug True"), ("--no-debug", "debug False")]:
        result = subprocess.run([sys.executable, *shell, flag, "shell"], capture_output=True,
                                text=True, timeout=60,
                                env={**os.environ, "DOORSTEP_INSTANCE_PATH": str(tmp_path)})
        assert expected in result.stdout + result.stderr, result.stderr
    missing = _doorstep(tmp_path, "--env-file", str(tmp_path / "none.env"), "routes")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_building_the_app_loads_no_geo_or_form_engine(tmp_path):
    """`doorstep routes` builds the whole app (every blueprint) yet loads no geo or form engine:
    those wait for the commands and requests that use them."""
    result, imported = _with_modules(tmp_path, "routes")
    assert result.returncode == 0, result.stderr
    assert "/api/v1/openapi.json" in result.stdout
    imported = {m.split(".")[0] for m in imported}
    assert {"server", "gis", "forms"} <= imported  # the log covers the blueprints' imports
    assert sorted(imported & set(HEAVY)) == []


def test_serve_gets_the_whole_app_and_other_commands_its_command_side(tmp_path, monkeypatch):
    """`serve` and `demo` ask for the web side (with_appcontext(web=True)); a command that does
    not gets create_app(web=False): no blueprints, no request hooks."""
    import click
    from click.testing import CliRunner
    from flask import current_app

    from server.cli import serve as serve_module
    from server.cli.appcontext import with_appcontext

    monkeypatch.setenv("DOORSTEP_INSTANCE_PATH", str(tmp_path / "inst"))
    seen = {}
    monkeypatch.setattr(serve_module, "check_database", lambda: None)
    monkeypatch.setattr(serve_module, "serve", lambda *args: seen.setdefault(
        "serve", (set(current_app.blueprints), current_app.before_request_funcs)))

    @click.command()
    @with_appcontext
    def light() -> None:
        seen["light"] = (set(current_app.blueprints), current_app.before_request_funcs)

    for command in (serve_module.serve_command, light):
        result = CliRunner().invoke(command, [])
        assert result.exit_code == 0, result.output
    assert {"auth", "openrosa", "odata"} <= seen["serve"][0]
    assert seen["light"][0] == set()
    assert len(seen["light"][1].get(None, [])) < len(seen["serve"][1][None])
