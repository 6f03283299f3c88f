"""Fixtures for the browser tests: a real Doorstep server process (temp instance, free port)
with the demo township, and Debian's Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, Server
from tests.support.liveserver import free_port
from tests.support.paths import REPO


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


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[Server]:
    """A real server over an empty, migrated database (the test sets up what it needs)."""
    if not (REPO / "server" / "static" / "app" / ".vite" / "manifest.json").exists():
        pytest.fail("the phone app is not built: run ./dev test (npm ci && npm run build)")
    instance = tmp_path / "instance"
    instance.mkdir()
    srv = Server(instance, free_port())
    srv.run("db", "upgrade")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def phone_profile(tmp_path: Path):
    """Opens a phone's Chromium on a profile kept on disk: closing it and opening it again is a
    phone whose tab was closed (or whose battery died); IndexedDB and the service worker stay."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:

        def open_phone(**options):
            return p.chromium.launch_persistent_context(
                str(tmp_path / "phone-profile"), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                locale="zh-CN", is_mobile=True, has_touch=True, permissions=["geolocation"],
                **options,
            )

        yield open_phone
