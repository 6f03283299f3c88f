"""Fixtures for the OpenRosa tests: the household form published, a coordinator, a phone's POST."""

from __future__ import annotations

import pytest

from server.services import logins
from tests.support.household_form import add_household_form


@pytest.fixture
def form(app):
    return add_household_form()


@pytest.fixture
def coordinator(make_user, area_tree):
    return make_user("coordinator", areas=["T01-01"])


@pytest.fixture
def post(client, coordinator):
    """POST a submission the way ODK Collect does (multipart, OpenRosa header)."""
    import io

    def do_post(xml: bytes, files: dict[str, bytes] | None = None, *, token: str | None = None,
                headers: dict[str, str] | None = None, incomplete: bool = False):
        data = {"xml_submission_file": (io.BytesIO(xml), "submission.xml", "text/xml")}
        for name, content in (files or {}).items():
            data[name] = (io.BytesIO(content), name, "image/jpeg")
        if incomplete:
            data["*isIncomplete*"] = "yes"
        hdrs = {"X-OpenRosa-Version": "1.0"} if headers is None else headers
        return client.post(f"/o/{token or coordinator.device_token}/submission", data=data,
                           headers=hdrs, content_type="multipart/form-data")

    return do_post


@pytest.fixture
def scrypt_calls(monkeypatch) -> list[str]:
    """Every password-hash check, by the hash it checked against."""
    calls: list[str] = []
    real = logins.check_password_hash
    monkeypatch.setattr(logins, "check_password_hash",
                        lambda h, p: calls.append(h) or real(h, p))
    return calls
