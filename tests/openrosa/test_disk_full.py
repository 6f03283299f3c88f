"""A real server process whose disk fills up, then frees (issue 14, findings 12 and 15): no 201
while a submission cannot be stored, 507 (or 503) in OpenRosa's format, no 500 on any page, no
`.part` left behind, and — once there is room again, without a restart — the same submissions
accepted and every stored one processed (interrupted processing retried by itself).

Two ways to fill a disk: a small tmpfs holding the instance folder (needs root to mount), and
a file-size limit (RLIMIT_FSIZE, set on the running server with prlimit: a write past it fails
with EFBIG, which CPython gets instead of SIGXFSZ)."""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from defusedxml import ElementTree as DET

from tests.support.app import PASSWORD
from tests.support.household_form import household_instance
from tests.support.liveserver import LiveServer, child_pids, new_id, post

pytestmark = pytest.mark.slow

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
FILE_SIZE_LIMIT = 256 * 1024
#: Never fits while the disk is full (the POST stays small: under waitress, which served before
#: Granian, a body past its 512 KiB buffer was spooled to a temporary file a full disk refused).
PHOTO = os.urandom(320 * 1024)
PAGES = ["/", "/submissions", "/forms", "/api/v1/me", "/api/v1/submissions"]


class FullDisk:
    """A live server over an instance folder whose disk `fill()` fills and `free()` frees."""

    def __init__(self, how: str, tmp_path: Path):
        self.how = how
        self.root = tmp_path / "disk"
        self.root.mkdir()
        self.mounted = False
        self.filler = self.root / "filler"
        if how == "tmpfs":
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs",
                                   str(self.root)], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
            self.mounted = True
        instance = self.root / "instance"
        instance.mkdir()
        self.server = LiveServer(instance, threads=4, log_dir=tmp_path, env={
            "DOORSTEP_PROCESSING_RETRY_FIRST_S": "0.5", "DOORSTEP_PROCESSING_RETRY_MAX_S": "2"})

    def fill(self) -> None:
        if self.how == "tmpfs":
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:  # until not one more byte fits
                for size in (1 << 20, 1 << 12, 1):
                    with contextlib.suppress(OSError):
                        while True:
                            os.write(fd, b"\0" * size)
            finally:
                os.close(fd)
        else:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            for pid in self._serving():
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, hard))

    def free(self) -> None:
        if self.how == "tmpfs":
            self.filler.unlink()
        else:
            hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
            for pid in self._serving():
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))

    def _serving(self) -> set[int]:
        """The server's processes: Granian's parent and the worker that serves."""
        return {self.server.proc.pid} | child_pids(self.server.proc.pid)

    def close(self) -> None:
        self.server.stop()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.root)], check=False)


@pytest.fixture(params=["tmpfs", "file-size limit"])
def disk(request, tmp_path: Path) -> Iterator[FullDisk]:
    full = FullDisk(request.param, tmp_path)
    try:
        full.server.prepare()
        full.server.run("-c", ADMIN)
        full.server.start()
        yield full
    finally:
        full.close()


def _rows(instance: Path) -> dict[str, tuple[str, int, int]]:
    """instance_id: (processing state, attachments present, processing attempts)."""
    con = sqlite3.connect(instance / "doorstep.sqlite3")
    try:
        return {iid: (state, present, attempts) for iid, state, present, attempts in con.execute(
            "SELECT instance_id, processing_state, attachments_present, processing_attempts "
            "FROM submissions")}
    finally:
        con.close()


def _parts(instance: Path) -> list[str]:
    tmp = instance / "storage" / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def test_no_201_while_full_507_and_recovery_without_restart(disk: FullDisk):
    srv = disk.server
    phone, boss = requests.Session(), requests.Session()
    assert boss.post(f"{srv.url}/login", data={"username": "boss", "password": PASSWORD},
                     allow_redirects=False).status_code == 302
    assert post(phone, srv.base, household_instance(new_id()), {"door.jpg": b"jpeg"}
                ).status_code == 201
    pid = srv.proc.pid
    # A burst just before the disk fills: the worker is still processing some of it when
    # the disk is full, and retries those by itself afterwards.
    burst = [household_instance(new_id(), photo="") for _ in range(40)]
    with ThreadPoolExecutor(4) as pool:
        assert {r.status_code for r in pool.map(lambda x: post(requests, srv.base, x),
                                                burst)} == {201}

    disk.fill()
    with_photo = {iid: household_instance(iid) for iid in (new_id() for _ in range(8))}
    xml_only = {iid: household_instance(iid, photo="") for iid in (new_id() for _ in range(8))}
    answers: dict[str, requests.Response] = {}
    for iid, xml in with_photo.items():
        answers[iid] = post(phone, srv.base, xml, {"door.jpg": PHOTO})
    for iid, xml in xml_only.items():
        answers[iid] = post(phone, srv.base, xml)
    pages = {path: boss.get(f"{srv.url}{path}?lang=en").status_code for path in PAGES}
    statuses = Counter(r.status_code for r in answers.values())
    leftovers = _parts(srv.instance)
    disk.free()

    # While full: a photo never fits, so never a 201; every refusal is the phone's format.
    assert {answers[iid].status_code for iid in with_photo} <= {503, 507}, statuses
    assert statuses[507] >= 1, statuses
    assert set(statuses) <= {201, 503, 507}, statuses  # XML alone may still fit: then stored
    for response in answers.values():
        if response.status_code != 201:
            message = DET.fromstring(response.content).find(f"{RESPONSE}message")
            assert message.get("nature") == "error"
    assert 500 not in pages.values(), pages
    assert leftovers == []  # a failed write removes its own .part

    # Room again: the same submissions are accepted by the same process, and all processed.
    freed = time.monotonic()
    again = {iid: post(phone, srv.base, xml, {"door.jpg": PHOTO} if iid in with_photo else None)
             for iid, xml in {**with_photo, **xml_only}.items()}
    first_201_s = time.monotonic() - freed
    assert {r.status_code for r in again.values()} == {201}, {
        iid: r.status_code for iid, r in again.items()}
    assert srv.proc.poll() is None and srv.proc.pid == pid
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rows = _rows(srv.instance)
        if all(state == "done" for state, _, _ in rows.values()):
            break
        time.sleep(0.2)
    all_done_s = time.monotonic() - freed
    assert set(with_photo) | set(xml_only) <= set(rows)
    assert {state for state, _, _ in rows.values()} == {"done"}, rows
    assert all(rows[iid][1] == 1 for iid in with_photo)  # the photo is there
    assert _parts(srv.instance) == []
    retried = sum(1 for _, _, attempts in rows.values() if attempts)
    log = srv.read_log()
    print(f"\n[{disk.how}] while full: {dict(statuses)}; pages {pages}; after freeing: "
          f"{len(again)} resent 201 in {first_201_s:.2f} s, all {len(rows)} processed in "
          f"{all_done_s:.2f} s; submissions retried: {retried}, worker rounds paused: "
          f"{log.count('processing paused')}")


def test_errno_of_a_file_size_limit_is_efbig():
    """The premise of the second way: past RLIMIT_FSIZE a Python process gets EFBIG."""
    code = ("import resource, os, errno\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
            "fd = os.open('f', os.O_WRONLY | os.O_CREAT)\n"
            "os.write(fd, b'x' * 4096)\n"
            "try:\n    os.write(fd, b'x')\nexcept OSError as e:\n    print(e.errno)\n")
    with tempfile.TemporaryDirectory() as where:
        done = subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True,
                              text=True, check=True)
    assert int(done.stdout) == errno.EFBIG
