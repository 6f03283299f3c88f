"""Browser tests' helpers: a real Doorstep server process the test can kill and start again,
Debian's Chromium, the phone's viewport and the folder for screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.paths import REPO

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


def wait_until(page, script: str, arg=None, timeout: float = 30) -> None:
    """Wait until `script` is true, asked from here: Playwright's wait_for_function polls with an
    eval that the pages' CSP forbids, so it fails whenever the answer is not true at once."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(script, arg):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not true after {timeout} s: {script}")
        time.sleep(0.05)


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

#: Script counting painted pixels of the coverage map (more than 0: footprints are drawn).
PAINTED = """() => {
  let n = 0;
  for (const c of document.querySelectorAll('#coverage-map canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 16) if (d[i] > 0) n++;
  }
  return n;
}"""
