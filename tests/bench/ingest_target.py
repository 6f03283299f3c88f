"""bench_ingest.py --target-url: the same client against another OpenRosa server on this machine.

Issue 13 asks for Doorstep beside ODK Central in one sitting, with the same client and the same
requests. Central is not ours to start or to write into, so this only takes its submission URL,
the PID whose process tree serves it (CPU per submission) and its database's name (the CPU of
its PostgreSQL backends); stored submissions are filled by posting, as a device would.
"""

from __future__ import annotations

import argparse
import base64
import re
import time
import uuid
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

LOOPBACK = {"127.0.0.1", "localhost"}


class ExternalTarget:
    """An OpenRosa submission URL on loopback (user:password@ in it means HTTP Basic)."""

    def __init__(self, url: str, pid: int, database: str | None = None):
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in LOOPBACK:
            raise SystemExit(f"--target-url must be http:// on loopback, not {url!r}")
        self.port = parts.port or 80
        self.path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.auth = ""
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            # Central takes Basic only over HTTPS; on loopback nothing terminates TLS for it,
            # so say what its TLS proxy would say.
            self.auth = ("Authorization: Basic " + base64.b64encode(pair.encode()).decode()
                         + "\r\nX-Forwarded-Proto: https\r\n")
        self.pid = pid
        self.database_url = f"postgresql://127.0.0.1/{database}" if database else None

    def request(self, xml: bytes) -> bytes:
        return multipart_post(self.port, self.path, self.auth, xml)


def multipart_post(port: int, path: str, auth: str, xml: bytes) -> bytes:
    """The raw bytes of an OpenRosa submission POST (auth: header lines or "")."""
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"xml_submission_file\"; "
        f"filename=\"submission.xml\"\r\nContent-Type: text/xml\r\n\r\n".encode()
        + xml + f"\r\n--{boundary}--\r\n".encode()
    )
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}"
        f"X-OpenRosa-Version: 1.0\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target-url", default="",
                        help="post to this OpenRosa submission URL instead of starting Doorstep")
    parser.add_argument("--target-pid", type=int, default=0,
                        help="the process serving --target-url (its children counted too)")
    parser.add_argument("--target-database", default="",
                        help="its PostgreSQL database's name (CPU of its backends)")
    parser.add_argument("--target-stored", type=int, default=0,
                        help="how many submissions the target already stores")


def run_target(args: argparse.Namespace, run_round: Callable[..., dict],
               figures: Callable[[dict], str]) -> None:
    """Warm up, then per --stored figure: post until that many are stored, measure a round."""
    if not args.target_pid:
        raise SystemExit("--target-url needs --target-pid (its CPU is half the comparison)")
    target = ExternalTarget(args.target_url, args.target_pid, args.target_database or None)
    stored = args.target_stored

    def post(n: int) -> dict:
        nonlocal stored
        r = run_round(None, args.clients, n, args.client_procs, url=target.database_url,
                      target=target)
        if set(r["statuses"]) != {201}:
            raise SystemExit(f"not all answers were 201: {r['statuses']}")
        stored += n
        return r

    post(min(500, args.posts))  # warm-up
    for goal in (int(t) for t in args.stored.split(",")):
        t0 = time.perf_counter()
        while stored < goal:
            post(min(10000, goal - stored))
        filled = time.perf_counter() - t0
        at = stored
        r = post(args.posts)
        print(f"stored {at:>9,} (filled by posting in {filled:.0f} s): {figures(r)}; "
              f"{args.clients} clients, {args.posts} posts, target :{target.port}"
              f"{re.sub('/key/[^/]+/', '/key/…/', target.path)}"
              f"{', HTTP Basic' if target.auth else ''}", flush=True)
