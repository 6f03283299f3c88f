"""Every response carries `nosniff` and a Content-Security-Policy that allows no inline script
or style without this response's nonce; templates hold no inline handler or style attribute
(issue 14, finding 2; the browser test tests/browser/test_csp.py runs every page under it)."""

from __future__ import annotations

import re

import pytest

from server.headers import policy, tile_source
from server.services.attachments import inline_type
from tests.support.paths import REPO

TEMPLATES = REPO / "server" / "templates"


def _directives(header: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in header.split("; ")}


@pytest.mark.parametrize("url", ["/login", "/healthz", "/static/site.css", "/no-such-page",
                                 "/api/v1/openapi.json", "/app/sw.js", "/app/icon-192.png"])
def test_every_response_has_nosniff_and_a_policy(client, url):
    response = client.get(url)
    response.close()
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]


def test_a_page_with_an_inline_block_gets_its_nonce(client, login, area_tree):
    login("supervisor", areas=["T"])
    from tests.support.coverage_scenario import ensure_round

    ensure_round()
    from server.extensions import db

    db.session.commit()
    response = client.get("/coverage/stats")
    nonce = re.search(r'<style nonce="([^"]+)">', response.get_data(as_text=True)).group(1)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert client.get("/coverage/stats").headers["Content-Security-Policy"] != \
        response.headers["Content-Security-Policy"]  # a new nonce for every response


def test_the_phone_app_shell_allows_what_web_forms_needs_and_no_more(client, login):
    login("coordinator")
    response = client.get("/app/")
    page = response.get_data(as_text=True)
    nonce = re.search(r'<script nonce="([^"]+)">window.DOORSTEP', page).group(1)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'", f"'nonce-{nonce}'", "'wasm-unsafe-eval'"]
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]


def test_basemap_tiles_are_allowed_as_images(app, client):
    app.config["BASEMAP_TILE_URL"] = "https://{a-c}.tile.example.org/{z}/{x}/{y}.png"
    csp = _directives(client.get("/login").headers["Content-Security-Policy"])
    assert csp["img-src"] == ["'self'", "data:", "blob:", "https://*.tile.example.org"]


@pytest.mark.parametrize(
    ("url", "source"),
    [("", ""), ("https://tile.example.org/{z}/{x}/{y}.png", "https://tile.example.org"),
     ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
     ("http://tiles.example.org:8080/{z}/{x}/{y}.png", "http://tiles.example.org:8080"),
     ("https://t{s}.example.org/{z}/{x}/{y}.png", "https://*.example.org"),
     ("https://tiles.{s}.example.org/{z}/{x}/{y}.png", "https:"),
     ("javascript:alert(1)", ""), ("/tiles/{z}/{x}/{y}.png", "")],
)
def test_tile_source(url, source):
    assert tile_source(url) == source


def test_policy_never_allows_inline_script_or_eval():
    for web_forms in (False, True):
        csp = _directives(policy("n0nce", "https://tile.example.org", web_forms))
        assert "'unsafe-inline'" not in csp["script-src"]
        assert "'unsafe-eval'" not in csp["script-src"]


INLINE = [
    (re.compile(r"<script(?![^>]*\b(src|nonce)=)[^>]*>"), "an inline <script> without a nonce"),
    (re.compile(r"<style(?![^>]*\bnonce=)[^>]*>"), "a <style> without a nonce"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "an inline event handler"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "a style attribute"),
    (re.compile(r"javascript:", re.IGNORECASE), "a javascript: URL"),
]
#: The phone app's shell runs under the relaxed policy (its style attribute is allowed there).
RELAXED = {"app/shell.html": {"a style attribute"}}


@pytest.mark.parametrize("name", sorted(
    str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")))
def test_templates_hold_nothing_the_policy_refuses(name):
    text = (TEMPLATES / name).read_text("utf-8")
    found = {what for pattern, what in INLINE if pattern.search(text)}
    assert found <= RELAXED.get(name, set()), found


@pytest.mark.parametrize(
    ("data", "shown_as"),
    [(b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png"), (b"\xff\xd8\xff\xe0" + b"\0" * 32,
                                                        "image/jpeg"),
     (b"GIF89a" + b"\0" * 32, "image/gif"), (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
     (b"<html><script>alert(1)</script>", None), (b"%PDF-1.7\n" + b"\0" * 32, None),
     (b"PK\x03\x04" + b"\0" * 32, None), (b"", None)],
)
def test_inline_types_come_from_the_bytes(data, shown_as):
    assert inline_type(data) == shown_as
