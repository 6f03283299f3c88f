"""A real Doorstep server process on loopback for load and crash tests."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from tests.support.paths import REPO

SETUP = """
from server import create_app
from server.extensions import db
from server.services import device_links, users
from tests.support.household_form import add_household_form
app = create_app()
with app.app_context():
    user, _ = users.create_user("collector", "coordinator")
    token = device_links.create(user, device_links.COLLECT)
    db.session.commit()
    add_household_form("1")
    print(token)
"""


def child_pids(pid: int) -> set[int]:
    """Processes whose parent is pid (Linux /proc): the workers of `serve --workers N`."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`python -m server serve` in its own process over a temp instance folder."""

    def __init__(self, instance: Path, threads: int = 8, workers: int = 1, *,
                 database_url: str | None = None, log_dir: Path | None = None,
                 env: dict[str, str] | None = None):
        """SQLite in the instance folder unless `database_url`; the log in the instance
        folder unless `log_dir` (a test that fills the instance's disk keeps it elsewhere)."""
        self.instance = instance
        self.threads = threads
        self.workers = workers
        self.log_dir = log_dir or instance
        self.env = {**os.environ, "DOORSTEP_INSTANCE_PATH": str(instance),
                    "PYTHONPATH": str(REPO), **(env or {})}
        self.env.pop("DOORSTEP_DATABASE_URL", None)
        if database_url is not None:
            self.env["DOORSTEP_DATABASE_URL"] = database_url
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.token = ""

    def run(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run([sys.executable, *args], env=self.env, cwd=REPO, text=True,
                              capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def prepare(self) -> None:
        """Database upgrade through the CLI, then a coordinator and a published form."""
        self.run("-m", "server", "db", "upgrade")
        self.token = self.run("-c", SETUP).strip().splitlines()[-1]

    def start(self) -> None:
        self.port = free_port()
        self.log = open(self.log_dir / f"server-{self.port}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(self.port),
             "--threads", str(self.threads), "--workers", str(self.workers)],
            env=self.env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.wait_healthy()

    def wait_healthy(self) -> None:
        """Until /healthz answers 200 (30 s at most)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError("server did not start: " + self.read_log())

    def read_log(self) -> str:
        return (self.log_dir / f"server-{self.port}.log").read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.url}/o/{self.token}"

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


def post(session: requests.Session, base: str, xml: bytes,
         files: dict[str, bytes] | None = None, timeout: float = 30) -> requests.Response:
    parts = {"xml_submission_file": ("submission.xml", io.BytesIO(xml), "text/xml")}
    for name, content in (files or {}).items():
        parts[name] = (name, io.BytesIO(content), "image/jpeg")
    return session.post(f"{base}/submission", files=parts,
                        headers={"X-OpenRosa-Version": "1.0"}, timeout=timeout)


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"
