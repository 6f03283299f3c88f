"""The phone app (PWA): its HTML shell at /app/, service worker, web manifest and icons.

The JavaScript is built by Vite (server/client) into static/app/ with a manifest; `vite_tags`
turns a Vite entry name into <script>/<link> tags for any template (the map pages use it too),
and the service worker precaches every built file so the app opens with no network.
"""

from __future__ import annotations

import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, render_template, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from gis.states import for_client as state_table
from server.access import PUBLIC, allow
from server.headers import relax_for_web_forms
from server.i18n import APP_DOMAIN, catalogue, current_locale
from server.i18n import gettext as _
from server.models import Role
from server.services.coverage import rounds
from server.web.home import add_home_link

bp = Blueprint("app", __name__, url_prefix="/app")

# Network-first pages the service worker keeps for offline use, besides the built assets.
SHELL_URLS = ("/app/", "/app/manifest.webmanifest", "/app/icon-192.png", "/app/icon-512.png")
#: the form engine's chunk in Vite's manifest (imported on demand: server/client/src/app/engine.js)
ENGINE_CHUNK = "src/app/formview.js"


def _manifest_path() -> Path:
    return Path(current_app.static_folder) / "app" / ".vite" / "manifest.json"


@lru_cache(maxsize=4)
def _read_manifest(path: str, mtime: float) -> dict:
    return json.loads(Path(path).read_text("utf-8"))


def vite_manifest() -> dict:
    """The build's manifest, re-read when a rebuild changes it; {} before the first build."""
    path = _manifest_path()
    try:
        return _read_manifest(str(path), path.stat().st_mtime)
    except FileNotFoundError:
        return {}


def vite_tags(entry: str) -> Markup:
    """<link>/<script> tags for a Vite entry ('phone', 'coverage'), imports and CSS included."""
    manifest = vite_manifest()
    entries = (k for k, v in manifest.items() if v.get("name") == entry and v.get("isEntry"))
    chunk_key = next(entries, None)
    if chunk_key is None:
        return Markup(f"<!-- client entry {escape(entry)} not built: run ./dev start -->")
    css: list[str] = []
    preload: list[str] = []
    seen: set[str] = set()

    def walk(key: str) -> None:
        if key in seen:
            return
        seen.add(key)
        chunk = manifest[key]
        css.extend(c for c in chunk.get("css", []) if c not in css)
        for dep in chunk.get("imports", []):
            preload.append(manifest[dep]["file"])
            walk(dep)

    walk(chunk_key)
    base = url_for("static", filename="app/")
    tags = [f'<link rel="stylesheet" href="{base}{escape(c)}">' for c in css]
    tags += [f'<link rel="modulepreload" href="{base}{escape(p)}">' for p in preload]
    main = escape(manifest[chunk_key]["file"])
    tags.append(f'<script type="module" src="{base}{main}"></script>')
    return Markup("\n".join(tags))


def engine_files() -> list[str]:
    """URLs of the form engine's chunk, its stylesheet and what it imports (not the app's entry):
    the app fetches them after its first screen without running them
    (server/client/src/app/engine.js)."""
    manifest = vite_manifest()
    files: list[str] = []

    def walk(key: str) -> None:
        chunk = manifest.get(key)
        if not chunk or chunk.get("isEntry") or chunk["file"] in files:
            return
        files.append(chunk["file"])
        files.extend(c for c in chunk.get("css", []) if c not in files)
        for dep in chunk.get("imports", []):
            walk(dep)

    walk(ENGINE_CHUNK)
    # its XPath parser, written as .wasm files by the build (server/client/vite.config.js)
    files += sorted(c["file"] for c in manifest.values() if c["file"].endswith(".wasm"))
    base = url_for("static", filename="app/")
    return [base + f for f in files]


def engine_shared_chunks() -> list[str]:
    """URLs of the engine's chunks that hold no app code (Web Forms with Vue; Vite names shared
    chunks "_…"): the app runs them once in a hidden frame from the service worker's copies, so
    that Chromium's code cache for them is made before the next visit (src/app/engine.js)."""
    manifest = vite_manifest()
    chunk = manifest.get(ENGINE_CHUNK, {})
    base = url_for("static", filename="app/")
    return [base + manifest[k]["file"] for k in chunk.get("imports", [])
            if k.startswith("_") and manifest[k]["file"].endswith(".js")]


def _built_files() -> list[str]:
    manifest = vite_manifest()
    files: set[str] = set()
    for chunk in manifest.values():
        files.add(chunk["file"])
        files.update(chunk.get("css", []))
        files.update(chunk.get("assets", []))
    base = url_for("static", filename="app/")
    return sorted(base + f for f in files)


def _app_catalogue() -> dict[str, str]:
    """The phone app's strings in the reader's language (the "app" catalogue; English: none)."""
    return catalogue(current_locale(), APP_DOMAIN)


@bp.route("/")
@allow(Role.COORDINATOR, Role.SUPERVISOR)
def shell():
    """The app shell: no personal data in it, so the service worker may keep it."""
    relax_for_web_forms()
    config = {
        "locale": current_locale(),
        # the one accuracy limit: today's round over the user's streets, else the setting
        "gpsAccuracyM": rounds.accuracy_limit(current_user),
        "basemapUrl": current_app.config["BASEMAP_TILE_URL"],
        "swUrl": url_for("app.service_worker"),
        "engine": engine_files(),
        "engineShared": engine_shared_chunks(),
        "i18n": _app_catalogue(),
        # the map's colours and names, from gis/states.py; cached offline with the shell
        "states": state_table(current_locale(), phone=True),
    }
    resp = Response(render_template("app/shell.html", config=config))
    resp.headers["Cache-Control"] = "no-cache"  # revalidated: it names this build's hashed files
    return resp


@bp.route("/sw.js")
@allow(PUBLIC)
def service_worker():
    """The worker is versioned by the build it precaches, so a new build replaces it."""
    files = _built_files()
    version = hashlib.sha256(json.dumps([files, SHELL_URLS]).encode()).hexdigest()[:16]
    body = render_template("app/sw.js", version=version, precache=list(SHELL_URLS) + files)
    resp = Response(body, mimetype="text/javascript")
    resp.headers["Service-Worker-Allowed"] = "/"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/manifest.webmanifest")
@allow(PUBLIC)
def web_manifest():
    body = {
        "name": _("Doorstep door-to-door registration"),
        "short_name": _("Doorstep"),
        "lang": "zh-CN" if current_locale() == "zh_CN" else "en",
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "background_color": "#f6f7f5",
        "theme_color": "#0b6e4f",
        "icons": [
            {"src": "/app/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {
                "src": "/app/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "any maskable",
            },
        ],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@lru_cache(maxsize=2)
def _icon(size: int) -> bytes:
    """A plain icon drawn once: a house on the app's green, no binary files in the repo."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "#0b6e4f")
    d = ImageDraw.Draw(img)
    s = size / 16
    d.polygon([(3 * s, 8 * s), (8 * s, 3.5 * s), (13 * s, 8 * s)], fill="white")
    d.rectangle([4.5 * s, 8 * s, 11.5 * s, 12.5 * s], fill="white")
    d.rectangle([7 * s, 9.5 * s, 9 * s, 12.5 * s], fill="#0b6e4f")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@bp.route("/icon-<int:size>.png")
@allow(PUBLIC)
def icon(size: int):
    if size not in (192, 512):
        return Response(status=404)
    resp = Response(_icon(size), mimetype="image/png")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@allow(PUBLIC)
def favicon():
    """/favicon.ico, which browsers ask for on every site: the app's icon, not a 404."""
    resp = Response(_favicon(), mimetype="image/x-icon")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


@lru_cache(maxsize=1)
def _favicon() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(_icon(192))).save(out, "ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    return out.getvalue()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/favicon.ico", "favicon", favicon)
    app.jinja_env.globals["vite_tags"] = vite_tags

    add_home_link(app, "app.shell", "Phone app")
