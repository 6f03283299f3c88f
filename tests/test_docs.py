"""The project's docs name real places: every path in docs/ARCHITECTURE.md exists and every
`function()` it names after a file is defined in that file."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.paths import REPO

ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
TOKEN = re.compile(r"`([^`\s]+)`")


def _references(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(paths, [(file, name)]): a `name()` refers to the last file named before it."""
    paths, names, last_file = [], [], None
    for token in TOKEN.findall(text):
        if "/" in token and "<" not in token and not token.startswith(("/", "http")):
            paths.append(token)
            last_file = token if token.endswith(".py") else None
        elif token.endswith("()") and last_file is not None:
            names.append((last_file, token[:-2]))
    return paths, names


def _defined(path: Path) -> set[str]:
    """Top-level functions and classes, and Class.method, defined in a module."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            found.add(node.name)
        if isinstance(node, ast.ClassDef):
            found.update(f"{node.name}.{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef))
    return found


PATHS, NAMES = _references(ARCHITECTURE.read_text(encoding="utf-8"))


def test_the_architecture_names_places():
    assert len(PATHS) > 40 and len(NAMES) > 20


@pytest.mark.parametrize("path", sorted(set(PATHS)))
def test_every_named_path_exists(path):
    assert (REPO / path.rstrip("/")).exists(), f"docs/ARCHITECTURE.md names {path}"


@pytest.mark.parametrize(("path", "name"), sorted(set(NAMES)))
def test_every_named_function_is_defined_there(path, name):
    assert name in _defined(REPO / path), f"{name}() is not defined in {path}"


@pytest.mark.parametrize("question", ["where a submission becomes a visit",
                                      "the coverage state rule"])
def test_the_two_questions_are_answered_with_a_file_and_function(question):
    text = ARCHITECTURE.read_text(encoding="utf-8")
    paragraph = next(p for p in text.split("\n   - ") + text.split("\n4. ") if question in p)
    paths, names = _references(paragraph)
    assert paths and names, paragraph


def test_a_missing_function_would_be_caught():
    _paths, names = _references("`gis/coverage.py` `no_such_rule()`")
    assert names == [("gis/coverage.py", "no_such_rule")]
    assert "no_such_rule" not in _defined(REPO / "gis/coverage.py")


def test_nothing_points_outside_the_repository():
    """A clone has only the repository: design notes live in docs/, not in a folder beside it."""
    outside = "../" + "shared"
    files = subprocess.run(["git", "ls-files", "*.py", "*.md", "*.toml", "*.html", "*.js"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    offending = [name for name in files if not name.startswith("tests/corpus/")
                 and outside in (REPO / name).read_text(encoding="utf-8", errors="replace")]
    assert offending == []


# --- docs/CAPACITY.md: every figure traceable to a measurement -----------------------------------

CAPACITY = REPO / "docs" / "CAPACITY.md"
RESULTS = REPO / "tests" / "bench" / "RESULTS.md"
RESULTS_LINK = re.compile(r"\]\(\.\./tests/bench/RESULTS\.md#([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _results_anchors() -> set[str]:
    return {_slug(line.lstrip("#")) for line in RESULTS.read_text(encoding="utf-8").splitlines()
            if line.startswith("#")}


def _figures_table(text: str) -> list[str]:
    """The rows of the first table: the measured figures the model is built on."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_a_results_heading_gives_githubs_anchor():
    assert _slug(" Durable OpenRosa ingest (`bench_ingest.py`)") == \
        "durable-openrosa-ingest-bench_ingestpy"


def test_capacity_cites_results_sections_that_exist():
    anchors = RESULTS_LINK.findall(CAPACITY.read_text(encoding="utf-8"))
    missing = sorted(set(anchors) - _results_anchors())
    assert len(set(anchors)) >= 4 and missing == [], missing


def test_capacity_cites_bench_scripts_that_exist():
    paths, _ = _references(CAPACITY.read_text(encoding="utf-8"))
    scripts = {p for p in paths if p.startswith("tests/bench/")}
    assert any(p.endswith(".py") for p in scripts)
    assert sorted(p for p in scripts if not (REPO / p).exists()) == []


def test_every_measured_figure_names_its_section_and_script():
    rows = _figures_table(CAPACITY.read_text(encoding="utf-8"))
    assert len(rows) >= 8
    for row in rows:
        assert RESULTS_LINK.search(row) and "tests/bench/bench_" in row, row


def test_the_readme_links_the_capacity_page():
    assert "(docs/CAPACITY.md)" in (REPO / "README.md").read_text(encoding="utf-8")
