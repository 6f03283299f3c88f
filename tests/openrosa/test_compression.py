"""Dynamic answers come compressed when the client asks (issue 12, items 1 and 8): a form's XML,
and the phone app's shell; a client that does not ask gets them plain, and a
streamed answer goes as it is."""

from __future__ import annotations

import gzip

import brotli
import pytest
from flask import Response

CHROMIUM = "gzip, deflate, br, zstd"


def _base(user) -> str:
    return f"/o/{user.device_token}"


@pytest.mark.parametrize(("accepted", "encoding", "decode"), [
    (CHROMIUM, "br", brotli.decompress),
    ("gzip", "gzip", gzip.decompress),
])
def test_a_forms_xml_comes_compressed_as_asked(client, form, coordinator, accepted, encoding,
                                               decode):
    url = f"{_base(coordinator)}/forms/hh/form.xml"
    plain = client.get(url, headers={"X-OpenRosa-Version": "1.0"})
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain.headers
    packed = client.get(url, headers={"X-OpenRosa-Version": "1.0", "Accept-Encoding": accepted})
    assert packed.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert decode(packed.data) == plain.data
    assert len(packed.data) < len(plain.data) / 2


def test_the_phone_shell_comes_compressed(client, login):
    login("coordinator")
    shell = client.get("/app/", headers={"Accept-Encoding": CHROMIUM})
    assert shell.headers["Content-Encoding"] == "br"
    assert b"window.DOORSTEP" in brotli.decompress(shell.data)
    assert shell.headers["Cache-Control"] == "no-cache"  # still revalidated
    assert "Content-Encoding" not in client.get("/app/").headers  # not asked, not packed


def test_a_streamed_answer_goes_as_it_is():
    """Our settings on a bare app: a streamed CSV export plain, the same CSV held whole packed."""
    from flask import Flask

    from server import compression

    bare = Flask(__name__)
    compression.init_app(bare)
    rows = b"a,b\n" * 1000
    bare.add_url_rule("/streamed", "streamed",
                      lambda: Response((r for r in [rows]), mimetype="text/csv"))
    bare.add_url_rule("/held", "held", lambda: Response(rows, mimetype="text/csv"))
    web = bare.test_client()
    streamed = web.get("/streamed", headers={"Accept-Encoding": CHROMIUM})
    assert "Content-Encoding" not in streamed.headers
    assert streamed.data == rows
    held = web.get("/held", headers={"Accept-Encoding": "gzip"})
    assert held.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(held.data) == rows
