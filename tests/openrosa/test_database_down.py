"""A real server process on PostgreSQL whose database goes away and comes back (issue 14,
findings 12 and 15): a TCP proxy between them is cut, so every pooled connection breaks and
every new one is refused. While it is cut: 503 for a device-token submission (the token is
looked up before ingest), for the phone's other requests, for a page and for the API, never a
201 nor a 500; once it is back, the same requests succeed in the same process, and what was
stored is processed without anyone running reprocess."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from defusedxml import ElementTree as DET

from tests.support.app import PASSWORD
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, new_id, post
from tests.support.tcpproxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

RESPONSE = "{http://openrosa.org/http/response}"
ADMIN = f"""
from server import create_app
from server.extensions import db
from server.services import users
app = create_app()
with app.app_context():
    users.create_user("boss", "admin", password={PASSWORD!r})
    db.session.commit()
"""


@pytest.fixture
def through_proxy(postgres_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, TcpProxy]]:
    url = sa.engine.make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    srv = LiveServer(tmp_path / "instance", threads=4, database_url=proxied, env={
        "DOORSTEP_PROCESSING_RETRY_FIRST_S": "0.5", "DOORSTEP_PROCESSING_RETRY_MAX_S": "2"})
    srv.instance.mkdir()
    try:
        srv.prepare()
        srv.run("-c", ADMIN)
        srv.start()
        yield srv, proxy
    finally:
        srv.stop()
        proxy.stop()


def _states(postgres_url: str) -> dict[str, str]:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(
                "SELECT instance_id, processing_state FROM submissions")).all())
    finally:
        engine.dispose()


def _ask(srv: LiveServer, phone: requests.Session, boss: requests.Session,
         xml: bytes) -> dict[str, requests.Response]:
    return {
        "submission": post(phone, srv.base, xml),
        "formList": phone.get(f"{srv.base}/formList", headers={"X-OpenRosa-Version": "1.0"}),
        "page": boss.get(f"{srv.url}/submissions?lang=en"),
        "api": boss.get(f"{srv.url}/api/v1/me?lang=en"),
    }


def test_database_gone_is_503_everywhere_then_recovers(through_proxy, postgres_url):
    srv, proxy = through_proxy
    phone, boss = requests.Session(), requests.Session()
    assert boss.post(f"{srv.url}/login", data={"username": "boss", "password": PASSWORD},
                     allow_redirects=False).status_code == 302
    before = [household_instance(new_id(), photo="") for _ in range(20)]
    assert {post(phone, srv.base, xml).status_code for xml in before} == {201}
    pid = srv.proc.pid

    proxy.stop()
    cut = time.monotonic()
    xml = household_instance(new_id(), photo="")
    down = [_ask(srv, phone, boss, xml) for _ in range(3)]  # broken pooled, then refused
    down_s = time.monotonic() - cut
    for answers in down:
        assert {k: r.status_code for k, r in answers.items()} == {
            "submission": 503, "formList": 503, "page": 503, "api": 503}
        submission = answers["submission"]
        assert submission.headers["Retry-After"] == "5"
        assert submission.headers["X-OpenRosa-Version"] == "1.0"
        message = DET.fromstring(submission.content).find(f"{RESPONSE}message")
        assert message.get("nature") == "error"
        assert answers["page"].headers["Content-Type"].startswith("text/html")
        assert b"database cannot be reached" in answers["page"].content
        assert answers["api"].json()["error"] == "database_unavailable"

    proxy.start()
    back = time.monotonic()
    deadline = back + 30
    while True:  # a pooled connection that broke answers 503 once, then the pool renews
        answers = _ask(srv, phone, boss, xml)
        codes = {k: r.status_code for k, r in answers.items()}
        if set(codes.values()) <= {200, 201} or time.monotonic() > deadline:
            break
        assert set(codes.values()) <= {200, 201, 503}, codes
        time.sleep(0.2)
    recovered_s = time.monotonic() - back
    assert codes == {"submission": 201, "formList": 200, "page": 200, "api": 200}
    assert srv.proc.poll() is None and srv.proc.pid == pid

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = _states(postgres_url)
        if set(states.values()) == {"done"}:
            break
        time.sleep(0.2)
    assert len(states) == len(before) + 1 and set(states.values()) == {"done"}, states
    log = srv.read_log()
    print(f"\n[PostgreSQL cut] 3 rounds of 4 requests: all 503 in {down_s:.2f} s; back: "
          f"all answered in {recovered_s:.2f} s; {len(states)} processed; worker rounds "
          f"paused: {log.count('processing paused')}")
