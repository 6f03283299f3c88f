"""The lean request cycle of a submission POST (server.lean) answers as the full cycle does."""

from __future__ import annotations

import base64
import functools
import io

import pytest

from server import lean
from tests.conftest import PASSWORD
from tests.support.household_form import household_instance


def _calls(app, monkeypatch) -> list[str]:
    """Wrap every app-wide hook so that the test sees which ran (names kept: server.lean
    recognises hooks by name)."""
    seen: list[str] = []

    def wrap(func):
        @functools.wraps(func)
        def counted(*args):
            seen.append(func.__qualname__)
            return func(*args)
        return counted

    for funcs in (app.before_request_funcs, app.after_request_funcs):
        monkeypatch.setitem(funcs, None, [wrap(f) for f in funcs[None]])
    return seen


def test_the_app_wide_hooks_are_those_the_lean_cycle_accounts_for(app):
    assert lean.hooks_known(app)


def test_a_submission_runs_only_the_locale_refresh_of_the_app_wide_hooks(app, form, post,
                                                                          monkeypatch):
    seen = _calls(app, monkeypatch)
    assert post(household_instance("uuid:lean-1", persons=1)).status_code == 201
    assert seen == ["_fresh_locale"]


def test_a_hook_it_does_not_know_turns_it_off(app, form, post, monkeypatch):
    extra = []
    monkeypatch.setitem(app.before_request_funcs, None,
                        [*app.before_request_funcs[None], lambda: extra.append(1)])
    monkeypatch.setattr(app, "_lean_on", None)
    assert not lean.hooks_known(app)
    assert post(household_instance("uuid:lean-2", persons=1)).status_code == 201
    assert extra == [1]


@pytest.mark.parametrize("extra", [
    {"Origin": "http://elsewhere.example"},  # refused by the CSRF check
    {"Referer": "http://elsewhere.example/page"},
])
def test_a_request_from_a_page_takes_every_hook(app, form, post, extra, monkeypatch):
    seen = _calls(app, monkeypatch)
    answer = post(household_instance("uuid:lean-3", persons=1),
                  headers={"X-OpenRosa-Version": "1.0", **extra})
    assert "_check_origin" in seen
    assert answer.status_code == 403


def test_a_request_with_a_cookie_takes_every_hook(app, form, post, client, monkeypatch):
    seen = _calls(app, monkeypatch)
    client.set_cookie("lang", "zh_CN")
    assert post(household_instance("uuid:lean-5", persons=1)).status_code == 201
    assert "_check_origin" in seen


def test_a_query_string_takes_every_hook(app, form, client, coordinator, monkeypatch):
    seen = _calls(app, monkeypatch)
    answer = client.post(f"/o/{coordinator.device_token}/submission?lang=zh_CN",
                         data=_parts(household_instance("uuid:lean-4", persons=1)),
                         headers={"X-OpenRosa-Version": "1.0"},
                         content_type="multipart/form-data")
    assert answer.status_code == 201
    assert "_remember_locale" in seen
    assert "lang=zh_CN" in answer.headers["Set-Cookie"]


def _parts(xml: bytes) -> dict:
    return {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


CASES = {
    "accepted": ("token", {}, "new"),
    "again": ("token", {}, "same"),
    "no OpenRosa header": ("token", {"X-OpenRosa-Version": None}, "new"),
    "revoked token": ("bad-token", {}, "new"),
    "Basic accepted": ("basic", {}, "new"),
    "Basic wrong password": ("basic-wrong", {}, "new"),
    "no Basic credentials": ("none", {}, "new"),
    "malformed XML": ("token", {}, "broken"),
    "unknown form": ("token", {}, "unknown"),
}


@pytest.mark.parametrize("case", CASES)
def test_both_cycles_answer_alike(app, form, client, coordinator, case, monkeypatch):
    auth, header_changes, body = CASES[case]

    def send(serial: int):
        xml = {
            "new": household_instance(f"uuid:lean-{case}-{serial}", persons=1),
            "same": household_instance("uuid:lean-same", persons=1),
            "broken": b"<data id='hh'><unclosed></data>",
            "unknown": household_instance(f"uuid:lean-u{serial}", persons=1).replace(
                b'id="hh"', b'id="nope"'),
        }[body]
        hdrs = {"X-OpenRosa-Version": "1.0", "Accept-Encoding": "gzip, br"}
        hdrs.update(header_changes)
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        path = "/o/submission"
        if auth in ("token", "bad-token"):
            token = coordinator.device_token if auth == "token" else "x" * 32
            path = f"/o/{token}/submission"
        elif auth.startswith("basic"):
            password = PASSWORD if auth == "basic" else "wrong"
            hdrs["Authorization"] = _basic(coordinator.username, password)
        client._cookies.clear()
        return client.post(path, data=_parts(xml), headers=hdrs,
                           content_type="multipart/form-data")

    if body == "same":
        assert send(0).status_code == 201  # the duplicate of a stored one
    lean_answer = send(1)
    assert app._lean_on
    monkeypatch.setattr(app, "_lean_on", False)
    full_answer = send(2)
    assert lean_answer.status_code == full_answer.status_code
    assert lean_answer.get_data() == full_answer.get_data()
    assert _headers(lean_answer) == _headers(full_answer)


def _headers(answer) -> list[tuple[str, str]]:
    return [(k, v) for k, v in answer.headers.items() if k != "Date"]
