"""Static files as the ecosystem serves them (issue 12, item 1): compressed at build time and
negotiated by Accept-Encoding, content-hashed files immutable for a year, everything else and
the phone app's shell revalidated; the favicon is there."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from server.static_files import HASHED, YEAR, init_app
from tests.support.paths import REPO

BUILD = REPO / "server" / "static" / "app"
BODY = b"export const answer = 42;\n" * 200


def _static_app(root: Path):
    """A bare Flask app whose static folder is `root`, wrapped as create_app wraps ours."""
    from flask import Flask

    app = Flask(__name__, static_folder=str(root), static_url_path="/static")
    app.config["BASEMAP_TILE_URL"] = ""
    init_app(app)
    return app


@pytest.fixture
def built(tmp_path: Path) -> FlaskClient:
    """A build's output: a hashed chunk with its .br and .gz, and an unhashed stylesheet."""
    assets = tmp_path / "app" / "assets"
    assets.mkdir(parents=True)
    (assets / "phone-AbC_12-z.js").write_bytes(BODY)
    (assets / "phone-AbC_12-z.js.gz").write_bytes(gzip.compress(BODY))
    (assets / "phone-AbC_12-z.js.br").write_bytes(b"brotli bytes stand in here")
    (tmp_path / "site.css").write_text("body { margin: 0 }\n")
    return _static_app(tmp_path).test_client()


@pytest.mark.parametrize(("accepted", "encoding"), [
    ("gzip, deflate, br, zstd", "br"),  # what Chromium sends
    ("gzip", "gzip"),
    ("identity", None),
    ("", None),
])
def test_a_hashed_chunk_comes_compressed_as_asked_and_immutable(built, accepted, encoding):
    response = built.get("/static/app/assets/phone-AbC_12-z.js",
                         headers={"Accept-Encoding": accepted})
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == "max-age=31536000, public, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if encoding == "gzip":
        assert gzip.decompress(response.data) == BODY
    if encoding is None:
        assert response.data == BODY
    response.close()


def test_a_file_without_a_hash_is_revalidated(built):
    response = built.get("/static/site.css")
    assert response.headers["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    etag = response.headers["ETag"]
    response.close()
    again = built.get("/static/site.css", headers={"If-None-Match": etag})
    assert again.status_code == 304


@pytest.mark.parametrize(("url", "hashed"), [
    ("/static/app/assets/index-DlGh9P5C-CxZ0fTmt.js", True),
    ("/static/app/assets/phone-D1ulfO18.css", True),
    ("/static/app/assets/preload-helper-0ogHOCDB.js", True),
    ("/static/app/.vite/manifest.json", False),
    ("/static/site.css", False),
    ("/static/rounds.js", False),
])
def test_which_names_carry_a_hash(url, hashed):
    assert bool(HASHED.match(url)) is hashed


def test_the_shell_is_revalidated_and_the_favicon_is_there(client, login):
    login("coordinator")
    shell = client.get("/app/")
    assert shell.status_code == 200 and shell.headers["Cache-Control"] == "no-cache"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/x-icon"
    assert icon.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert YEAR == 31536000


def _manifest() -> dict:
    path = BUILD / ".vite" / "manifest.json"
    if not path.exists():
        pytest.skip("the phone app is not built (./dev test builds it)")
    return json.loads(path.read_text())


def _closure(manifest: dict, key: str, dynamic: bool) -> set[str]:
    files, todo, seen = set(), [key], set()
    while todo:
        k = todo.pop()
        if k in seen:
            continue
        seen.add(k)
        chunk = manifest[k]
        files.add(chunk["file"])
        files.update(chunk.get("css", []))
        todo += chunk.get("imports", []) + (chunk.get("dynamicImports", []) if dynamic else [])
    return files


def test_the_build_writes_every_script_and_stylesheet_compressed_beside_it():
    manifest = _manifest()
    built = {f for chunk in manifest.values() for f in [chunk["file"], *chunk.get("css", [])]}
    for name in built:
        size = (BUILD / name).stat().st_size
        if size > 1024:
            assert (BUILD / f"{name}.br").exists() and (BUILD / f"{name}.gz").exists(), name


def test_the_first_screen_is_small_and_the_engine_apart():
    """The phone's first screen loads its entry and static imports only (brotli, as sent); the
    form engine (formview.js: Web Forms, Vue) is a dynamic import, not among them."""
    manifest = _manifest()
    entry = next(k for k, v in manifest.items() if v.get("name") == "phone" and v.get("isEntry"))
    first = _closure(manifest, entry, dynamic=False)
    engine = _closure(manifest, "src/app/formview.js", dynamic=False) - first

    def sent(files: set[str]) -> int:
        return sum((BUILD / f"{f}.br").stat().st_size if (BUILD / f"{f}.br").exists()
                   else (BUILD / f).stat().st_size for f in files)

    assert "src/app/formview.js" in manifest[entry]["dynamicImports"]
    assert not any("formview" in f or "index-" in f for f in first), first
    assert sent(first) <= 30 * 1024, sent(first)
    assert sent(engine) <= 600 * 1024, sent(engine)  # without Web Forms' inlined Roboto


def test_the_xpath_parser_ships_as_wasm_files_served_as_application_wasm(client, login):
    """Web Forms inlines web-tree-sitter and its XPath grammar as base64; the build writes them as
    .wasm files so the browser compiles them as they stream in and keeps the compiled code. The
    shell names them among the engine's files (fetched ahead) and the worker precaches them."""
    manifest = _manifest()
    wasm = sorted(c["file"] for c in manifest.values() if c["file"].endswith(".wasm"))
    assert len(wasm) == 2, wasm
    engine = next(c["file"] for c in manifest.values() if c.get("name") == "index-DlGh9P5C")
    assert b"data:application/wasm;base64,AGFzbQ" not in (BUILD / engine).read_bytes()  # \0asm
    login("coordinator")
    for name in wasm:
        served = client.get(f"/static/app/{name}", headers={"Accept-Encoding": "br"})
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "application/wasm"
        assert served.headers["Cache-Control"] == "max-age=31536000, public, immutable"
        served.close()
    shell = client.get("/app/").get_data(as_text=True)
    worker = client.get("/app/sw.js").get_data(as_text=True)
    for name in wasm:
        assert f"/static/app/{name}" in shell and f"/static/app/{name}" in worker


def test_web_forms_styles_and_primevue_theme_are_built_into_the_engine_stylesheet(client, login):
    """PrimeVue built its theme's CSS (the ODK preset's variables, every component's CSS) at
    every start of the engine, and Web Forms inserted its own CSS from a string in its
    JavaScript: the build writes both into the engine's stylesheet (server/client/plugins/
    web_forms_styles.js), PrimeVue is installed with no theme to compute, and the shell names
    the stylesheet among the engine's files (fetched ahead, precached by the worker)."""
    manifest = _manifest()
    styles = manifest["src/app/formview.js"].get("css", [])
    assert len(styles) == 1, styles
    css = (BUILD / styles[0]).read_text("utf-8")
    assert "--p-primary-500:#3e9fcc;" in css  # the ODK preset's primary colour, as a variable
    assert ".p-button{" in css and ".p-datepicker" in css and ".p-dialog" in css  # components
    assert "--odk-primary-text-color" in css  # Web Forms' own CSS
    assert "@font-face{font-family:Roboto" not in css
    engine = (BUILD / next(c["file"] for c in manifest.values()
                           if c.get("name") == "index-DlGh9P5C")).read_text("utf-8")
    assert "vite-plugin-css-injected-by-js" not in engine
    assert 'theme:"none"' in engine and "darkModeSelector:!1" not in engine
    login("coordinator")
    shell = client.get("/app/").get_data(as_text=True)
    worker = client.get("/app/sw.js").get_data(as_text=True)
    assert f"/static/app/{styles[0]}" in shell and f"/static/app/{styles[0]}" in worker
