"""The translators' tools: Babel's extraction, update and compile for Doorstep's two catalogues,
and the fold of the old JSON catalogues into the .po.

    python -m server.i18n_tools extract     # translations/<domain>.pot from the sources
    python -m server.i18n_tools update      # extract, merge into every locale's .po, compile
    python -m server.i18n_tools compile     # every .po to its .mo (committed: see server/i18n.py)
    python -m server.i18n_tools fold-json   # translations/<locale>/*.json into the .po, deleted

The same as `pybabel extract -F babel.cfg -o server/translations/messages.pot .` (and
`babel-app.cfg` → app.pot), `pybabel update -D messages -i … -d server/translations`, `pybabel
compile -d server/translations --use-fuzzy` left out: a fuzzy entry counts as untranslated.

Besides `_()`, `gettext()`, `translate()` and the `N_()` marker, Doorstep's Python extractor
(`extract_python`, named in babel.cfg) takes the message of every ServiceError raised with a
literal: `UserError("no user {username!r}", username=…)` is a catalogue entry like `_()`.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.extract import extract_python as babel_extract_python
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

SERVER = Path(__file__).parent
ROOT = SERVER.parent
CATALOGUE_DIR = SERVER / "translations"
#: domain → its extraction config (repository root); JSON file stem → domain, for fold-json.
DOMAINS = {"messages": ROOT / "babel.cfg", "app": ROOT / "babel-app.cfg"}
JSON_DOMAIN = {"app": "app"}  # every other <feature>.json holds pages' strings: "messages"
#: The locales with a catalogue: the folder Babel reads ("zh_CN" parses as zh_Hans_CN).
LOCALES = ("zh_Hans_CN",)
_MESSAGE_PARAMS = ("message", "template")  # a ServiceError's first parameter, when it is one
_HEADER = {"project": "Doorstep", "version": "0.1", "copyright_holder": "the Doorstep authors",
           "charset": "utf-8"}
#: {catalogue folder: {English: (translation, the domain its JSON file stood for)}}
JsonStrings = dict[str, dict[str, tuple[str, str]]]


# --- extraction -------------------------------------------------------------------------------


@cache
def service_error_classes() -> frozenset[str]:
    """Names of the ServiceError classes whose first parameter is the message, read from the
    server's sources (no import: the extractor runs inside pybabel)."""
    classes: dict[str, tuple[list[str], str | None]] = {}
    for path in SERVER.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [getattr(b, "id", None) or getattr(b, "attr", "") for b in node.bases]
                classes.setdefault(node.name, (bases, _first_param(node)))

    def derives(name: str, seen: frozenset[str] = frozenset()) -> bool:
        if name == "ServiceError":
            return True
        bases = classes.get(name, ([], None))[0]
        return any(b not in seen and derives(b, seen | {name}) for b in bases)

    def first_param(name: str) -> str | None:
        bases, param = classes.get(name, ([], None))
        if param is not None or name == "ServiceError":
            return param
        return next((p for b in bases if (p := first_param(b))), None)

    return frozenset(n for n in classes if derives(n) and first_param(n) in _MESSAGE_PARAMS)


def _first_param(cls: ast.ClassDef) -> str | None:
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args.posonlyargs + item.args.args
            return args[1].arg if len(args) > 1 else ""
    return None


def _service_error_messages(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Literal messages of ServiceErrors made in this module, and the literals that error
    classes pass to super().__init__ (a class that words its own message)."""
    takes_message = service_error_classes()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = getattr(func, "id", None) or getattr(func, "attr", None)
        is_super_init = (name == "__init__" and isinstance(func, ast.Attribute)
                         and isinstance(func.value, ast.Call)
                         and getattr(func.value.func, "id", None) == "super")
        first = node.args[0]
        if ((name in takes_message or is_super_init) and isinstance(first, ast.Constant)
                and isinstance(first.value, str) and first.value.strip()):
            yield node.lineno, first.value


def extract_python(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel's Python extractor, plus the messages of ServiceErrors (module docstring)."""
    source = fileobj.read()
    yield from babel_extract_python(io.BytesIO(source), keywords, comment_tags, options)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # Babel's extractor has said what it could
        return
    for lineno, text in _service_error_messages(tree):
        yield lineno, None, text, []


def extract(domain: str) -> Catalog:
    """A template catalogue of every string of `domain` in the sources, with their places."""
    with DOMAINS[domain].open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg, str(DOMAINS[domain]))
    template = Catalog(domain=domain, fuzzy=False, **_HEADER)
    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS, comment_tags=("NOTE:",),
            strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


# --- the catalogue files ----------------------------------------------------------------------


def pot_path(domain: str) -> Path:
    return CATALOGUE_DIR / f"{domain}.pot"


def po_path(locale: str, domain: str) -> Path:
    return CATALOGUE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"


def read_catalogue(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def write_catalogue(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, sort_output=False, ignore_obsolete=False,
             omit_header=False, include_previous=True)
    path.write_bytes(buffer.getvalue())


def compiled(catalog: Catalog) -> bytes:
    """The .mo of a catalogue: translated, not fuzzy entries only."""
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def write_templates() -> dict[str, Catalog]:
    """The .pot files from the sources; an unchanged one keeps its date (no churn in git)."""
    templates = {domain: extract(domain) for domain in DOMAINS}
    for domain, template in templates.items():
        path = pot_path(domain)
        if path.exists():
            old = read_catalogue(path)
            if _entries(old) == _entries(template):
                template.creation_date = old.creation_date
        write_catalogue(template, path)
    return templates


def _entries(catalog: Catalog) -> list[tuple]:
    return [(m.id, m.context, tuple(m.locations), tuple(m.flags)) for m in catalog if m.id]


def update(templates: dict[str, Catalog], json_strings: JsonStrings | None = None,
           prefer_json: bool = False) -> list[str]:
    """Every locale's .po merged with the templates (new ids in, gone ids kept as obsolete),
    the JSON strings folded in, then compiled. Returns what the translators should look at."""
    notes: list[str] = []
    for locale in LOCALES:
        leftovers = (json_strings or {}).get(locale, {})
        for domain, template in templates.items():
            path = po_path(locale, domain)
            if path.exists():
                catalog = read_catalogue(path, locale)
            else:
                catalog = Catalog(locale=locale, domain=domain, fuzzy=False, **_HEADER)
            for msgid in [m for m in catalog.obsolete if template.get(m) is not None]:
                catalog[msgid] = catalog.obsolete.pop(msgid)  # used again: back in, translated
            catalog.update(template, no_fuzzy_matching=True)
            catalog.project, catalog.version = _HEADER["project"], _HEADER["version"]
            # A JSON string goes where the sources use it (the old JSON files were one
            # catalogue for the server); one the sources no longer use, to its file's domain.
            strings = {msgid: text for msgid, (text, hint) in leftovers.items()
                       if template.get(msgid) is not None
                       or (hint == domain and all(t.get(msgid) is None
                                                  for t in templates.values()))}
            notes += _fold(catalog, strings, prefer_json, f"{locale}/{domain}")
            write_catalogue(catalog, path)
            path.with_suffix(".mo").write_bytes(compiled(catalog))
            notes += [f"{locale}/{domain}: untranslated: {m.id!r}" for m in catalog
                      if m.id and _has_words(m.id) and (not m.string or m.fuzzy)]
    return notes


def _has_words(msgid: str | tuple) -> bool:
    """Something to translate besides placeholders ("{reason}" has nothing)."""
    text = msgid if isinstance(msgid, str) else msgid[0]
    return bool("".join(literal for literal, *_ in Formatter().parse(text)).strip())


def _fold(catalog: Catalog, strings: dict[str, str], prefer_json: bool, where: str) -> list[str]:
    notes = []
    for msgid, text in strings.items():
        message = catalog.get(msgid)
        if message is None:  # not in the sources (any more): kept, as obsolete, not lost
            obsolete = catalog.obsolete.get(msgid)
            if obsolete is None or not obsolete.string:
                catalog.obsolete[msgid] = Message(msgid, text)
            notes.append(f"{where}: not found in the sources, kept as obsolete (#~): {msgid!r}")
        elif not message.string or message.fuzzy or prefer_json:
            message.string = text
            message.flags.discard("fuzzy")
        elif message.string != text:
            notes.append(f"{where}: kept the .po's {message.string!r} for {msgid!r}, "
                         f"not the JSON's {text!r} (--prefer-json takes the JSON's)")
    return notes


def compile_all() -> None:
    for path in sorted(CATALOGUE_DIR.glob("*/LC_MESSAGES/*.po")):
        path.with_suffix(".mo").write_bytes(compiled(read_catalogue(path)))


def json_catalogues() -> JsonStrings:
    """{catalogue folder: {English: (translation, its file's domain)}} of the JSON files left
    over from before the .po (translations/zh_CN/<feature>.json, keyed by the English text)."""
    found: JsonStrings = {}
    for path in sorted(CATALOGUE_DIR.glob("*/*.json")):
        domain = JSON_DOMAIN.get(path.stem, "messages")
        strings = json.loads(path.read_text("utf-8"))
        found.setdefault(_catalogue_folder(path.parent.name), {}).update(
            {msgid: (text, domain) for msgid, text in strings.items()})
    return found


def _catalogue_folder(name: str) -> str:
    return {"zh_CN": "zh_Hans_CN"}.get(name, name)


def fold_json(prefer_json: bool = False) -> list[str]:
    """Fold every leftover JSON catalogue into the .po files (extracting first), compile, and
    delete the JSON files: after it the app reads only the .po's compiled .mo."""
    strings = json_catalogues()
    notes = update(write_templates(), strings, prefer_json)
    for path in sorted(CATALOGUE_DIR.glob("*/*.json")):
        path.unlink()
        notes.append(f"folded and deleted {path}")
        if not any(path.parent.iterdir()):
            path.parent.rmdir()
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.i18n_tools", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("extract", "update", "compile", "fold-json"))
    parser.add_argument("--prefer-json", action="store_true",
                        help="fold-json: a JSON translation replaces a different one in the .po")
    args = parser.parse_args(argv)
    notes: list[Any] = []
    if args.command == "extract":
        write_templates()
    elif args.command == "update":
        notes = update(write_templates())
    elif args.command == "compile":
        compile_all()
    else:
        notes = fold_json(args.prefer_json)
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
