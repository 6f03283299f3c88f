"""A real Doorstep server process (temp instance, free port) and Debian's Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m server serve` as a child process that the test can kill and start again."""

    def __init__(self, instance: Path, port: int) -> None:
        self.instance, self.port = instance, port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "DOORSTEP_INSTANCE_PATH": str(instance),
            "DOORSTEP_PROCESS_IN_BACKGROUND": "true",
        }
        self.proc: subprocess.Popen | None = None
        self.log = None

    def run(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "server", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        return out.stdout

    def start(self) -> None:
        self.log = open(self.instance / "serve.log", "a")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=REPO,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError((self.instance / "serve.log").read_text())

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    if not (REPO / "server" / "static" / "app" / ".vite" / "manifest.json").exists():
        pytest.fail("the phone app is not built: run ./dev test (npm ci && npm run build)")
    instance = tmp_path / "instance"
    instance.mkdir()
    srv = Server(instance, free_port())
    srv.run("db", "upgrade")
    out = srv.run("demo", "--no-serve", "--buildings", "60")
    passwords = dict(re.findall(r"^\s+\w+\s+(\S+)\s+(\S+)\s*$", out, re.M))
    srv.start()
    try:
        yield srv, passwords
    finally:
        srv.stop()


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
