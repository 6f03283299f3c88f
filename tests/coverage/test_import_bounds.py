"""A small GIS file cannot take the server down (issue 14, finding 3).

One self-intersecting ring of 20,000 vertices (0.7 MB) once took 159 s and 1.6 GB to repair
inside the request; a million vertices passed 10 GB. Now vertices and features are counted
before any repair (IMPORT_MAX_*), each repair has a time budget (IMPORT_REPAIR_BUDGET_S), and
the import runs in a helper process with a memory cap and a time limit: whatever the file
asks, the refusal is a clear message naming the feature or the limit, and the server answers on.
Limits are made small here through the app's settings, as an operator would.
"""

from __future__ import annotations

import io
import json
import os
import resource
import tempfile
import threading
import time

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from server.extensions import db
from server.models import Building
from server.services import import_process, imports
from tests.support.import_files import (
    AREAS,
    bbox_polygon,
    bowtie_ring,
    polygon,
    zigzag_ring,
)

GOOD = ({"code": "G1"}, bbox_polygon(102.01, 24.01, 102.0101, 24.0101))


def _file(*features: tuple[dict, dict]) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]}).encode()


@pytest.fixture
def town(app):
    imports.import_areas(AREAS.encode(), "areas.geojson")


def _upload(client, data: bytes, name: str = "b.geojson", **flags: str):
    # Encoded here: the test client spools a body over 500 kB to a file it never closes.
    boundary, body = encode_multipart(
        {"kind": "buildings", "file": FileStorage(io.BytesIO(data), name), **flags})
    return client.post("/imports/?lang=en", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _cli(runner, tmp_path, data: bytes, *options: str):
    path = tmp_path / "b.geojson"
    path.write_bytes(data)
    return runner.invoke(args=["buildings", "import", str(path), *options])


def _codes() -> set[str]:
    return set(db.session.scalars(sa.select(Building.code)))


def test_a_bowtie_over_the_vertex_limit_is_refused_naming_feature_and_limit(
        app, town, runner, client, login, tmp_path):
    app.config["IMPORT_MAX_VERTICES_PER_FEATURE"] = 1000
    data = _file(GOOD, ({"code": "BOW"}, polygon(bowtie_ring(4000))))
    result = _cli(runner, tmp_path, data)
    assert result.exit_code == 1
    assert ("nothing imported: b.geojson: row 2 (code 'BOW'): 4,001 vertices in one geometry, "
            "more than the limit of 1,000 per feature") in result.output
    login("admin")
    page = _upload(client, data)
    assert page.status_code == 400
    assert "row 2 (code &#39;BOW&#39;): 4,001 vertices" in page.get_data(as_text=True)
    assert _codes() == set()


def test_a_file_over_the_features_limit_is_refused(app, town, runner, client, login, tmp_path):
    app.config["IMPORT_MAX_FEATURES"] = 2
    data = _file(GOOD, *[({"code": f"H{i}"}, bbox_polygon(102.01 + i * 0.001, 24.02,
                                                         102.0105 + i * 0.001, 24.0205))
                         for i in range(2)])
    result = _cli(runner, tmp_path, data)
    assert result.exit_code == 1 and "more than 2 features (at most 2)" in result.output
    login("admin")
    page = _upload(client, data)
    assert page.status_code == 400
    assert "more than 2 features (at most 2)" in page.get_data(as_text=True)
    app.config["IMPORT_MAX_FEATURES"] = 3
    assert _cli(runner, tmp_path, data).exit_code == 0 and _codes() == {"G1", "H0", "H1"}


def test_the_total_of_vertices_per_import_is_bounded(app, town, runner, tmp_path):
    app.config["IMPORT_MAX_VERTICES"] = 1000
    data = _file(*[({"code": f"B{i}"}, polygon(bowtie_ring(400, x0=102.01 + i * 0.002)))
                   for i in range(3)])
    result = _cli(runner, tmp_path, data)
    assert result.exit_code == 1
    assert "1,203 vertices in the layer, more than the limit of 1,000 per import" in result.output


def test_a_repair_over_its_budget_refuses_the_file_or_is_skipped(
        app, town, runner, client, login, tmp_path):
    """The ring takes GEOS most of a minute to repair; with a budget of 0.05 s it is stopped
    within a second: a clear refusal naming it, or with skip-invalid one more skipped row."""
    app.config["IMPORT_REPAIR_BUDGET_S"] = 0.05
    data = _file(GOOD, ({"code": "ZIG"}, polygon(zigzag_ring(20000))))
    result = _cli(runner, tmp_path, data)
    assert result.exit_code == 1
    assert ("row 2 (code 'ZIG'): invalid Polygon (20,001 vertices) not repaired within the time "
            "budget of 0.05 s per feature (import with --skip-invalid") in result.output
    login("admin")
    page = _upload(client, data)
    assert page.status_code == 400 and "time budget of 0.05 s" in page.get_data(as_text=True)
    assert _codes() == set()
    page = _upload(client, data, skip_invalid="1")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "1 created" in text
    assert ("1 skipped (geometry beyond repair): row 2 ZIG (invalid Polygon (20,001 vertices) "
            "not repaired within the time budget of 0.05 s per feature)") in text
    assert _codes() == {"G1"}


def test_an_import_over_its_memory_cap_is_stopped_and_the_server_answers_on(
        app, town, runner, client, login, tmp_path):
    """GDAL needs a few hundred MB to parse a 300,000-vertex GeoJSON ring; the helper may take
    32 MB more than its libraries. The helper fails an allocation or dies of one (GDAL does not
    always check); the server, whose own address space was never capped, answers the refusal
    and then imports the next file."""
    app.config.update(IMPORT_MAX_VERTICES_PER_FEATURE=10**6, IMPORT_MEMORY_LIMIT_MB=32)
    big = _file(GOOD, ({"code": "BIG"}, polygon(bowtie_ring(300_000))))
    login("admin")
    page = _upload(client, big)
    text = page.get_data(as_text=True)
    assert page.status_code == 413, text
    assert "32 MB" in text and "IMPORT_MEMORY_LIMIT_MB" in text and "Nothing was imported" in text
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY
    result = _cli(runner, tmp_path, big)
    assert result.exit_code == 1 and "32 MB" in result.output
    assert "IMPORT_MEMORY_LIMIT_MB" in result.output and "nothing imported" in result.output
    assert client.get("/imports/").status_code == 200
    page = _upload(client, _file(GOOD))
    assert page.status_code == 200 and "1 created" in page.get_data(as_text=True)


def test_an_import_over_its_time_limit_is_stopped(app, town, runner, tmp_path):
    app.config.update(IMPORT_REPAIR_BUDGET_S=0.0, IMPORT_TIME_LIMIT_S=1.0)  # no budget
    result = _cli(runner, tmp_path, _file(GOOD, ({"code": "ZIG"}, polygon(zigzag_ring(20000)))))
    assert result.exit_code == 1
    assert ("The import took longer than the time limit of 1 s (IMPORT_TIME_LIMIT_S) and was "
            "stopped. Nothing was imported.") in result.output
    app.config["IMPORT_TIME_LIMIT_S"] = 60.0
    assert _cli(runner, tmp_path, _file(GOOD)).exit_code == 0 and _codes() == {"G1"}


def test_one_import_at_a_time(app, town, client, login, monkeypatch):
    running = threading.BoundedSemaphore(1)
    monkeypatch.setattr(import_process, "_busy", running)
    running.acquire()  # as an import in another request thread would
    login("admin")
    page = _upload(client, _file(GOOD))
    assert page.status_code == 503
    assert "Another import is running" in page.get_data(as_text=True)
    running.release()
    assert _upload(client, _file(GOOD)).status_code == 200 and _codes() == {"G1"}


@pytest.mark.parametrize(("job", "args", "seconds", "message"), [
    (bytearray, (512 * 2**20,), 30, r"needed more memory than the limit of 64 MB"),
    (time.sleep, (30,), 0.5, r"took longer than the time limit of 0.5 s"),
    (os.abort, (), 30, r"stopped without an answer \(exit code -6\)"),
])
def test_the_helper_process_fails_clearly_and_alone(app, job, args, seconds, message):
    with pytest.raises(import_process.ImportAborted, match=message) as caught:
        import_process.run(job, *args, memory_mb=64, time_limit_s=seconds)
    assert caught.value.status == 413
    assert import_process.run(os.getpid, memory_mb=64, time_limit_s=30) != os.getpid()
    assert import_process.run(bytearray, 3, memory_mb=64, time_limit_s=30) == bytearray(3)


def test_an_error_in_the_helper_is_raised_in_the_server(app):
    with pytest.raises(ValueError, match="invalid literal for int"):
        import_process.run(int, "not a number", memory_mb=64, time_limit_s=30)


def test_the_helpers_temporary_files_are_removed_however_it_ended(app, tmp_path, monkeypatch):
    """The helper's temporary folder is one the server made and removes after the helper ended
    (a helper killed mid-read once left its copy of the file in /tmp)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    used = import_process.run(tempfile.gettempdir, memory_mb=64, time_limit_s=30)
    assert os.path.dirname(used) == str(scratch) and "doorstep-import-" in used
    with pytest.raises(import_process.ImportAborted, match="exit code -6"):
        import_process.run(os.abort, memory_mb=64, time_limit_s=30)
    assert list(scratch.iterdir()) == []
