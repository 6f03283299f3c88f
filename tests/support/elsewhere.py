"""Code run by another process on the test app's database and instance folder: what a second
server or worker commits, which this process's kept copies must notice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from flask import Flask

from tests.support.paths import REPO


def run_in_another_process(app: Flask, body: str, imports: str = "") -> None:
    """`body` run inside an app context of a new process (`imports` above it)."""
    script = (f"{textwrap.dedent(imports)}\nfrom server import create_app\n"
              "app = create_app()\nwith app.app_context():\n"
              + textwrap.indent(textwrap.dedent(body), "    "))
    env = {**os.environ, "DOORSTEP_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "DOORSTEP_INSTANCE_PATH": app.instance_path, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, check=True, timeout=120)
