"""A submission's CPU in its request thread, in-process: no HTTP server, no client, no other
thread's CPU (the committer's batch is not counted; the request waits for it).

    .venv/bin/python tests/bench/bench_ingest_cpu.py [--basic] [--posts 3000] [--runs 5]
        [--profile FILE]

Prepares an instance as bench_ingest.py does (SQLite, a coordinator, the household form), then
calls the app's WSGI callable from one thread with the same ~3 KB requests bench_ingest.py
sends, and prints the thread's CPU time per submission (time.thread_time) for each run of
posts/runs submissions, and their median. The figure moves far less with the machine's load than
a server's CPU under 50 clients does: code changes to the request path show in it. --profile
writes a cProfile of one more run (sorted by cumulative time) to FILE.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.bench_ingest import BASIC_SETUP, household, http_request
from tests.support.liveserver import LiveServer


def environ(raw: bytes) -> dict:
    """The WSGI environ of a raw HTTP/1.1 request."""
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split()
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": "",
           "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1",
           "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
           "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
           "wsgi.run_once": False, "wsgi.version": (1, 0), "wsgi.input_terminated": True}
    for line in lines[1:]:
        key, _, value = line.partition(": ")
        key = key.upper().replace("-", "_")
        env[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--basic", action="store_true", help="HTTP Basic instead of the token")
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    server = LiveServer(Path(tempfile.mkdtemp()) / "instance")
    server.instance.mkdir()
    server.prepare()
    if args.basic:
        server.run("-c", BASIC_SETUP)
    os.environ.update({k: v for k, v in server.env.items() if k.startswith("DOORSTEP_")})
    os.environ["DOORSTEP_PROCESS_IN_BACKGROUND"] = "false"
    from server import create_app
    from server.serving import freeze_startup

    app = create_app()
    freeze_startup()
    token = None if args.basic else server.token

    def batch(count: int) -> list[dict]:
        return [environ(http_request(5000, token, household(f"uuid:{uuid.uuid4()}")))
                for _ in range(count)]

    def call(env: dict) -> None:
        said: list[str] = []
        answer = app(env, lambda status, headers, exc=None: said.append(status))
        b"".join(answer)
        answer.close()
        if not said[0].startswith("201"):
            raise SystemExit(f"answered {said[0]}")

    for env in batch(300):  # warm-up
        call(env)
    per_run = []
    for _ in range(args.runs):
        envs = batch(args.posts // args.runs)
        started = time.thread_time()
        for env in envs:
            call(env)
        per_run.append((time.thread_time() - started) * 1000 / len(envs))
    print(f"{'HTTP Basic' if args.basic else 'token URL'}: request thread CPU per submission "
          f"{' '.join(f'{ms:.3f}' for ms in per_run)} ms; median "
          f"{statistics.median(per_run):.3f} ms; load {os.getloadavg()[0]:.1f}")
    if args.profile:
        profile = cProfile.Profile()
        envs = batch(args.posts // args.runs)
        profile.enable()
        for env in envs:
            call(env)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(80)
        Path(args.profile).write_text(out.getvalue())


if __name__ == "__main__":
    main()
