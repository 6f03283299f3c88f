"""Bad uploads get a clear 4xx message and leave nothing behind: no rows, no files."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from server.extensions import db
from server.models import AuditEvent, Form, FormMedia, FormVersion, Role
from tests.support.app import PASSWORD, make_app, upgrade
from tests.support.http import multipart


def _xlsx(sheets: dict[str, list[list[str]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


SURVEY_HEAD = ["type", "name", "label", "relevant"]


def no_survey() -> bytes:
    return _xlsx({"choices": [["list_name", "name", "label"], ["yn", "yes", "Yes"]]})


def unknown_list() -> bytes:
    return _xlsx({
        "survey": [SURVEY_HEAD, ["select_one colours", "c", "Colour", ""]],
        "choices": [["list_name", "name", "label"], ["yn", "yes", "Yes"]],
    })


def broken_formula() -> bytes:
    return _xlsx({
        "survey": [SURVEY_HEAD, ["text", "a", "A", ""], ["text", "b", "B", "${nosuch} = 'x'"]],
    })


def zip_bomb() -> bytes:
    """A real workbook plus one member that inflates 1000x (60 MB of zeros)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(broken_formula())) as src, zipfile.ZipFile(
        buf, "w", zipfile.ZIP_DEFLATED
    ) as out:
        for item in src.infolist():
            out.writestr(item, src.read(item))
        out.writestr("xl/media/padding.bin", b"\0" * (60 * 1024 * 1024))
    return buf.getvalue()


def fifty_mb() -> bytes:
    return b"PK\x03\x04" + os.urandom(1024) * (50 * 1024)


def renamed_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"x" * 2000


CASES = [
    # (case id, file factory, filename, status, error code, words the message must contain)
    ("no survey sheet", no_survey, "form.xlsx", 422, "DS101", "survey"),
    ("unknown choice list", unknown_list, "form.xlsx", 422, "DS111", "colours"),
    ("broken formula", broken_formula, "form.xlsx", 422, "DS120", "relevant"),
    ("zip bomb", zip_bomb, "form.xlsx", 422, "DS004", "zip bomb"),
    ("50 MB file", fifty_mb, "form.xlsx", 413, "DS001", "too large"),
    ("renamed pdf", renamed_pdf, "form.xlsx", 422, "DS005", "not an Excel"),
]


def _nothing_behind(app) -> None:
    for model in (Form, FormVersion, FormMedia, AuditEvent):
        count = db.session.scalar(sa.select(sa.func.count()).select_from(model))
        if model is AuditEvent:
            count = db.session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.action.like("form.%"))
            )
        assert count == 0, model.__name__
    storage = Path(app.config["STORAGE_DIR"])
    assert not storage.exists() or not any(p.is_file() for p in storage.rglob("*"))


@pytest.fixture(scope="module")
def payloads() -> dict[str, bytes]:
    return {case[0]: case[1]() for case in CASES}


@pytest.mark.parametrize(("case", "factory", "filename", "status", "code", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_upload_via_api(app, client, login, payloads, case, factory, filename, status,
                            code, words):
    login(Role.DESIGNER)
    response = client.post("/api/v1/forms", **multipart([("file", filename, payloads[case])]))
    assert response.status_code == status, response.json
    body = response.json
    assert body["code"] == code
    assert words in body["message"]["en"] + body["fix"]["en"] + (body["pyxform_message"] or "")
    assert body["message"]["zh"] and body["fix"]["zh"] and body["fix"]["en"]
    _nothing_behind(app)


@pytest.mark.parametrize(("case", "factory", "filename", "status", "code", "words"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_upload_via_page(app, client, login, payloads, case, factory, filename, status,
                             code, words):
    login(Role.DESIGNER)
    response = client.post("/forms/upload", **multipart([("file", filename, payloads[case])]))
    assert response.status_code == status
    page = response.data.decode("utf-8")
    assert 'id="upload-error"' in page and code in page
    assert words in page
    _nothing_behind(app)


def test_row_and_column_shown_with_pyxform_text(client, login, payloads):
    login(Role.DESIGNER)
    response = client.post("/forms/upload?lang=en",
                           **multipart([("file", "form.xlsx", payloads["broken formula"])]))
    page = response.data.decode("utf-8")
    assert "<code>survey</code>" in page and "<code>3</code>" in page
    assert "<code>relevant</code>" in page
    assert 'class="pyxform"' in page and "nosuch" in page
    assert "表达式" in page  # the Chinese text is shown beside the English one


def test_request_over_max_content_length_is_413_with_a_reason(tmp_path):
    app = make_app(tmp_path, MAX_CONTENT_LENGTH=1024 * 1024)
    upgrade(app)
    with app.app_context():
        from server.services import users

        users.create_user("d", Role.DESIGNER, password=PASSWORD)
        db.session.commit()
        client = app.test_client()
        client.post("/login", data={"username": "d", "password": PASSWORD})
        big = b"PK\x03\x04" + b"\1" * (2 * 1024 * 1024)
        for url in ("/api/v1/forms", "/forms/upload"):
            response = client.post(url, **multipart([("file", "big.xlsx", big)]))
            assert response.status_code == 413
            assert b"1 MB" in response.data
        _nothing_behind(app)
        db.session.remove()
        db.engine.dispose()


def test_missing_file_field(client, login):
    login(Role.DESIGNER)
    response = client.post("/api/v1/forms", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "file" in response.json["message"]["en"]
    assert client.post("/forms/upload", data={}).status_code == 400


def test_form_id_too_long_for_the_database(app, client, login):
    login(Role.DESIGNER)
    md = ("| survey |\n| | type | name | label |\n| | text | q | Q |\n"
          f"| settings |\n| | form_id | version |\n| | {'f' * 129} | 1 |\n").encode()
    response = client.post("/api/v1/forms", **multipart([("file", "long.md", md)]))
    assert response.status_code == 400 and "form_id" in response.json["message"]["en"]
    _nothing_behind(app)
