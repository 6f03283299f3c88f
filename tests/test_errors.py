"""Service errors: one type (server.services.errors), answered once per surface.

One row per kind of refusal: the page, the JSON API or the OpenRosa answer each give the
status the kind carries, their own body shape, and the message in Chinese by default and in
English with ?lang=en. The command line turns the same errors into one English line.
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import io
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from string import Formatter

import pytest
import sqlalchemy as sa
from defusedxml import ElementTree as DET

import server
from server.extensions import db
from server.i18n_tools import LOCALES, po_path, read_catalogue
from server.models import Role, Submission, SubmissionBlob
from server.services.errors import ServiceError
from tests.support.household_form import add_household_form as add_form
from tests.support.household_form import household_instance as instance

RESPONSE = "{http://openrosa.org/http/response}"
OR = {"X-OpenRosa-Version": "1.0"}


def _submission(client, make_user) -> Submission:
    """One stored submission, posted the way ODK Collect does."""
    add_form()
    coordinator = make_user(Role.COORDINATOR)
    data = {"xml_submission_file": (io.BytesIO(instance("uuid:err1")), "s.xml", "text/xml")}
    response = client.post(f"/o/{coordinator.device_token}/submission", data=data, headers=OR,
                           content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    return db.session.scalar(sa.select(Submission))


def _damaged(client, make_user) -> Submission:
    """A submission whose stored XML has gone missing."""
    sub = _submission(client, make_user)
    db.session.execute(sa.delete(SubmissionBlob))
    db.session.commit()
    return sub


@dataclass(frozen=True)
class Case:
    """A request that a service refuses, and what each language's answer must contain."""

    role: Role | None
    method: str
    url: str  # formatted with {token} (a coordinator's device token) and {id} (a submission)
    status: int
    shape: str  # page | json | json-bilingual | openrosa
    code: str | None  # the JSON "error"
    zh: str
    en: str
    data: Callable[[], dict] | None = None
    json_body: dict | None = None
    setup: Callable | None = None  # (client, make_user) -> Submission


def _a_round(client, make_user) -> None:
    """A round to filter in: without one the map answers "no round yet" first."""
    from datetime import date

    from server.models import Round

    db.session.add(Round(name="now", starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31)))
    db.session.commit()


NO_SURVEY = b"| choices |\n| | list_name | name | label |\n| | a | b | c |\n"
BAD_MULTIPART = b"--xyz\r\nbroken header\r\n\r\nv\r\n--xyz--"
CASES = {
    "filter on a page": Case(
        Role.SUPERVISOR, "GET", "/coverage/walklist?coordinator=nobody", 404, "page", None,
        "没有名为 'nobody' 的协管员", "no coordinator named 'nobody'", setup=_a_round),
    "filter in the API": Case(
        Role.SUPERVISOR, "GET", "/api/v1/coverage/buildings.geojson?coordinator=nobody", 404,
        "json", "unknown_filter", "没有名为 'nobody' 的协管员", "no coordinator named 'nobody'",
        setup=_a_round),
    "user refused, shown next to the form": Case(
        Role.ADMIN, "POST", "/admin/users", 400, "page", None,
        "未创建：未知角色 'boss'", "Not created: unknown role 'boss'",
        data=lambda: {"username": "x", "role": "boss"}),
    "import refused, shown next to the form": Case(
        Role.SUPERVISOR, "POST", "/imports/", 400, "page", None,
        "未导入任何数据", "Nothing was imported",
        data=lambda: {"kind": "buildings",
                      "file": (io.BytesIO(b"code,lon,lat\nQ1,abc,24.0\n"), "q.csv")}),
    "form refused in the API (both languages)": Case(
        Role.DESIGNER, "POST", "/api/v1/forms", 400, "json-bilingual", "no_file",
        "请在 file 字段上传 XLSForm 文件。", "Send the XLSForm in the multipart field 'file'.",
        data=dict),
    "invalid form in the API (both languages)": Case(
        Role.DESIGNER, "POST", "/api/v1/forms", 422, "json-bilingual", "invalid_form",
        "缺少名为“survey”的工作表。", "There is no sheet named 'survey'.",
        data=lambda: {"file": (io.BytesIO(NO_SURVEY), "bad.md")}),
    "review state in the API": Case(
        Role.ADMIN, "POST", "/api/v1/submissions/{id}/review", 400, "json",
        "invalid_review_state", "未知的审核状态 'bogus'", "unknown review state 'bogus'",
        json_body={"review_state": "bogus"}, setup=_submission),
    "damaged storage on a page": Case(
        Role.ADMIN, "GET", "/submissions/{id}", 500, "page", None,
        "已存储的 XML db:", "stored XML db:", setup=_damaged),
    "damaged storage in the API": Case(
        Role.ADMIN, "GET", "/api/v1/submissions/{id}", 500, "json", "storage_damaged",
        "缺失", "is missing", setup=_damaged),
    "unknown form over OpenRosa": Case(
        None, "POST", "/o/{token}/submission", 404, "openrosa", None,
        "服务器上没有表单 'nosuch'。", "Form 'nosuch' does not exist on this server.",
        data=lambda: {"xml_submission_file": (io.BytesIO(instance(form_id="nosuch")), "s.xml",
                                              "text/xml")}),
    "broken multipart over OpenRosa": Case(
        None, "POST", "/o/{token}/submission", 400, "openrosa", None,
        "POST 请求不是有效的 multipart/form-data：a part header line has no colon。",
        "The POST is not valid multipart/form-data: a part header line has no colon."),
    "dead draft link over OpenRosa": Case(
        None, "GET", "/o/draft/not-a-token/formList", 404, "openrosa", None,
        "未知的草稿测试链接", "Unknown draft test link"),
}


def _ask(client, case: Case, url: str):
    kwargs: dict = {"headers": OR}
    if case.json_body is not None:
        kwargs["json"] = case.json_body
    elif case.data is not None:
        kwargs.update(data=case.data(), content_type="multipart/form-data")
    elif case.shape == "openrosa" and case.method == "POST":
        kwargs.update(data=BAD_MULTIPART, content_type="multipart/form-data; boundary=xyz")
    return client.open(url, method=case.method, **kwargs)


def _message(response, case: Case) -> str:
    """The message, after checking the body has the surface's shape."""
    if case.shape == "page":
        assert response.mimetype == "text/html"
        return html.unescape(response.get_data(as_text=True))
    if case.shape == "openrosa":
        assert response.headers["X-OpenRosa-Version"] == "1.0"
        root = DET.fromstring(response.data)
        assert root.tag == f"{RESPONSE}OpenRosaResponse"
        (message,) = root.findall(f"{RESPONSE}message")
        assert message.get("nature") == "error"
        return message.text
    body = response.json
    assert (body["error"], body["status"]) == (case.code, case.status)
    if case.shape == "json-bilingual":  # the forms API keeps both languages side by side
        return json.dumps(body["message"], ensure_ascii=False)
    assert set(body) == {"error", "message", "status"}
    return body["message"]


@pytest.mark.parametrize("name", CASES)
def test_each_kind_answers_in_its_surface_and_language(client, login, make_user, name):
    case = CASES[name]
    sub = case.setup(client, make_user) if case.setup else None
    token = make_user(Role.COORDINATOR).device_token
    if case.role is not None:
        login(case.role)
    url = case.url.format(token=token, id=sub.id if sub else "")
    chinese = _ask(client, case, url)
    assert chinese.status_code == case.status, chinese.data
    zh = _message(chinese, case)
    assert case.zh in zh
    english = _ask(client, case, url + ("&" if "?" in url else "?") + "lang=en")
    assert english.status_code == case.status
    en = _message(english, case)
    assert case.en in en
    if case.shape != "json-bilingual":
        assert case.en not in zh and case.zh not in en


def test_busy_answers_503_with_retry_after(app, client, make_user, monkeypatch):
    """The one status that adds a header: Collect retries later."""
    from sqlalchemy.exc import OperationalError

    from server.services.ingest import accept

    def locked(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(accept, "_ingest", locked)
    token = make_user(Role.COORDINATOR).device_token
    data = {"xml_submission_file": (io.BytesIO(instance()), "s.xml", "text/xml")}
    response = client.post(f"/o/{token}/submission?lang=en", data=data, headers=OR,
                           content_type="multipart/form-data")
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert b"The server is busy" in response.data


def test_the_command_line_says_it_in_one_english_line(runner):
    result = runner.invoke(args=["users", "reset-password", "nobody"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: no user 'nobody'"


def test_message_is_a_template_with_params():
    err = ServiceError("no round with id {round_id}", status=404, code="x", round_id=7)
    assert (err.message, err.params, err.status, err.code) == (
        "no round with id {round_id}", {"round_id": 7}, 404, "x")
    assert str(err) == err.english() == "no round with id 7"


# --- every message has its Chinese translation, with the same placeholders --------------


def _service_errors() -> list[type[ServiceError]]:
    for module in pkgutil.walk_packages(server.__path__, "server."):
        if module.name != "server.__main__":
            importlib.import_module(module.name)
    found, todo = [], [ServiceError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def _templates() -> list[tuple[str, str]]:
    """(where, template) of every message a ServiceError is made with: the first argument of
    the classes taking a `message`, and what the others pass to super().__init__."""
    classes = _service_errors()
    takes_message = {c.__name__ for c in classes
                     if list(inspect.signature(c.__init__).parameters)[1] == "message"}
    owners = {c.__name__ for c in classes}
    root = Path(server.__file__).parent
    out = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        calls = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if name in takes_message:
                    calls.append(node)
            if isinstance(node, ast.ClassDef) and node.name in owners:
                calls += [c for c in ast.walk(node) if isinstance(c, ast.Call)
                          and getattr(c.func, "attr", None) == "__init__"
                          and getattr(getattr(c.func, "value", None), "func", None) is not None
                          and getattr(c.func.value.func, "id", None) == "super"]
        for call in calls:
            first = call.args[0] if call.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                out.append((f"{path.relative_to(root.parent)}:{call.lineno}", first.value))
    return out


def _words(text: str) -> str:
    """The template without its placeholders: nothing to translate when empty ("{reason}")."""
    return "".join(literal for literal, *_ in Formatter().parse(text)).strip()


def _fields(text: str) -> set[str]:
    return {f"{name}!{conv}" for _, name, _, conv in Formatter().parse(text) if name}


def test_every_message_has_a_chinese_translation():
    po = read_catalogue(po_path(LOCALES[0], "messages"))
    catalogue = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    templates = _templates()
    assert len(templates) > 40  # the scan finds the raise sites
    missing = [f"{where}: {text}" for where, text in templates
               if text not in catalogue and _words(text)]
    assert not missing, "\n".join(missing)
    wrong = [f"{where}: {text}" for where, text in templates
             if text in catalogue and _fields(catalogue[text]) != _fields(text)]
    assert not wrong, "\n".join(wrong)


HTTP_CODES = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503)


@pytest.mark.parametrize("code", HTTP_CODES)
def test_every_http_error_page_explains_itself_in_chinese(app, code):
    from werkzeug.exceptions import default_exceptions

    from server.i18n import translate

    error = default_exceptions[code]
    assert translate(error.description, "zh_CN") != error.description
    assert translate(error().name, "zh_CN") != error().name


def test_a_missing_page_speaks_chinese(client):
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "找不到这个网址" in page and "The requested URL" not in page
    english = client.get("/no-such-page?lang=en").get_data(as_text=True)
    assert "The requested URL was not found" in english
