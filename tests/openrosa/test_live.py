"""Against a real server process on loopback: parallel clients, and a SIGKILL mid-stream."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, new_id, post

CLIENTS = 20
PER_CLIENT = 50


@pytest.fixture
def server(tmp_path: Path):
    srv = LiveServer(tmp_path / "instance")
    srv.instance.mkdir()
    srv.prepare()
    srv.start()
    yield srv
    srv.stop()


def _rows(instance_dir: Path) -> dict[str, dict]:
    """Every stored submission read straight from the database file, with its attachments."""
    con = sqlite3.connect(instance_dir / "doorstep.sqlite3")
    try:
        subs = {
            iid: {"id": sid, "sha": sha, "key": key, "present": present, "atts": []}
            for sid, iid, sha, key, present in con.execute(
                "SELECT id, instance_id, xml_sha256, storage_key, attachments_present "
                "FROM submissions")
        }
        by_id = {s["id"]: s for s in subs.values()}
        for sid, name, sha, key in con.execute(
                "SELECT submission_id, name, sha256, storage_key FROM submission_attachments"):
            by_id[sid]["atts"].append((name, sha, key))
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    return subs


def _stored(instance_dir: Path, key: str) -> bytes:
    """Stored content read straight from disk: XML from the database table submission_blobs
    (key db:<sha256>, committed with its row), attachments from their files."""
    assert not key.startswith("tmp/")
    if key.startswith("db:"):
        con = sqlite3.connect(instance_dir / "doorstep.sqlite3")
        try:
            row = con.execute("SELECT xml FROM submission_blobs WHERE sha256 = ?",
                              (key[3:],)).fetchone()
        finally:
            con.close()
        assert row is not None, f"no stored XML for {key}"
        return bytes(row[0])
    return (instance_dir / "storage" / key).read_bytes()


def _client_plan(c: int) -> list[tuple[str, bytes, dict[str, bytes], str]]:
    """50 posts: mostly new, some repeated (same bytes), some contested (same instanceID,
    different XML across clients), some shared (identical bytes from every client)."""
    plan = []
    own: list[tuple[str, bytes, dict[str, bytes]]] = []
    for i in range(PER_CLIENT):
        if i % 10 == 3:
            iid = f"uuid:contested-{i // 10}"
            plan.append((iid, household_instance(iid, head=f"client {c}"), {}, "contested"))
        elif i % 10 == 6:
            iid = f"uuid:shared-{i // 10}"
            plan.append((iid, household_instance(iid, head="shared"), {"door.jpg": b"shared photo"},
                         "shared"))
        elif i % 10 == 8 and own:
            plan.append((*own[-1], "repeat"))
        else:
            iid = f"uuid:c{c}-{i}"
            xml = household_instance(iid, head=f"c{c} i{i}", persons=1 + i % 3)
            files = {"door.jpg": f"photo {c} {i}".encode()}
            own.append((iid, xml, files))
            plan.append((iid, xml, files, "new"))
    return plan


@pytest.mark.slow
def test_parallel_clients_exact_records_no_5xx(server):
    """20 clients x 50 POSTs in parallel -> exactly the expected records, no 5xx: repeats are
    201 and stored once, each contested instanceID is won by exactly one client (others 409),
    shared identical submissions are 201 for all and stored once."""
    outcomes: list[tuple[int, str, bytes, str, int]] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with requests.Session() as session:
            for iid, xml, files, kind in _client_plan(c):
                status = post(session, server.base, xml, files).status_code
                with lock:
                    outcomes.append((c, iid, xml, kind, status))

    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    elapsed = time.monotonic() - started
    statuses = Counter(o[4] for o in outcomes)
    assert len(outcomes) == CLIENTS * PER_CLIENT
    assert not [s for s in statuses if s >= 500], server.read_log()[-3000:]
    by_kind = Counter((o[3], o[4]) for o in outcomes)
    assert by_kind[("new", 201)] == CLIENTS * 35
    assert by_kind[("repeat", 201)] == CLIENTS * 5
    assert by_kind[("shared", 201)] == CLIENTS * 5
    assert by_kind[("contested", 201)] == 5 and by_kind[("contested", 409)] == CLIENTS * 5 - 5
    rows = _rows(server.instance)
    assert len(rows) == CLIENTS * 35 + 5 + 5
    for _c, iid, xml, _kind, status in outcomes:
        if status == 201:
            assert rows[iid]["sha"] == hashlib.sha256(xml).hexdigest()
            assert _stored(server.instance, rows[iid]["key"]) == xml
    print(f"\n{len(outcomes)} POSTs from {CLIENTS} clients in {elapsed:.1f} s "
          f"({len(outcomes) / elapsed:.0f}/s); statuses {dict(statuses)}")


@pytest.mark.slow
def test_sigkill_mid_stream_loses_nothing_acknowledged(server):
    """SIGKILL in the middle of a stream of posts: after a restart every submission that got
    a 201 is present and complete (XML checksum matches, attachments present), nothing
    half-written is visible (no row without its files, no temp file referenced), and phones
    can resend the unacknowledged ones (201)."""
    acked: dict[str, tuple[bytes, dict[str, bytes]]] = {}
    unacked: dict[str, tuple[bytes, dict[str, bytes]]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    surprises: list[int] = []

    def stream(c: int) -> None:
        with requests.Session() as session:
            i = 0
            while not stop.is_set():
                iid = new_id()
                xml = household_instance(iid, head=f"stream {c} {i}", persons=2)
                files = {"door.jpg": (f"photo {iid} ".encode()) * 200}
                try:
                    status = post(session, server.base, xml, files, timeout=10).status_code
                except requests.RequestException:
                    status = 0
                with lock:
                    (acked if status == 201 else unacked)[iid] = (xml, files)
                    if status not in (0, 201):
                        surprises.append(status)
                i += 1

    threads = [threading.Thread(target=stream, args=(c,)) for c in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # SIGKILL while the six streams are mid-request
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 150, server.read_log()[-3000:]
    assert surprises == []

    server.start()
    rows = _rows(server.instance)
    for iid, (xml, files) in acked.items():
        row = rows[iid]
        assert row["sha"] == hashlib.sha256(xml).hexdigest()
        assert _stored(server.instance, row["key"]) == xml
        assert row["present"] == 1
        (name, sha, key), = row["atts"]
        assert _stored(server.instance, key) == files[name]
        assert sha == hashlib.sha256(files[name]).hexdigest()
    for row in rows.values():  # nothing half-written: every row has its files, whole
        assert hashlib.sha256(_stored(server.instance, row["key"])).hexdigest() == row["sha"]
        for _name, sha, key in row["atts"]:
            if key is not None:
                assert hashlib.sha256(_stored(server.instance, key)).hexdigest() == sha
    with requests.Session() as session:
        for iid, (xml, files) in unacked.items():
            assert post(session, server.base, xml, files).status_code == 201, iid
    rows = _rows(server.instance)
    assert all(rows[i]["present"] == 1 for i in (*acked, *unacked))
    print(f"\nacknowledged before the kill: {len(acked)}; in flight, resent after: "
          f"{len(unacked)}")


def test_chunked_transfer_encoding_accepted(server):
    """Form Submission API: "The server MUST support HTTP 1.1 chunked transfer encoding for
    receiving the POST content" (a request without Content-Length)."""
    boundary = "doorstepboundary"
    iid = new_id()
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
        f"filename=\"s.xml\"\r\nContent-Type: text/xml\r\n\r\n".encode()
        + household_instance(iid) + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks():
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    r = requests.post(f"{server.base}/submission", data=chunks(), timeout=30, headers={
        "X-OpenRosa-Version": "1.0",
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert r.status_code == 201, r.text
    assert iid in _rows(server.instance)
