"""Large request bodies against a real server process: how fast the refusal, how much memory.

    .venv/bin/python tests/bench/bench_bodies.py [--parallel 8] [--mib 60,100] [--repo PATH]

Starts `python -m server serve` (waitress, 8 threads, default MAX_CONTENT_LENGTH of 64 MiB)
over a fresh instance folder, then for each size posts that many bytes to `/login` from
--parallel raw-socket clients at once (Content-Length announced, body streamed in 64 KiB
writes, the answer read as soon as it comes). Prints per size: statuses, the slowest answer,
bytes the clients got to send before the answer, and the server's resident memory before and
at its peak (VmHWM). --repo runs another checkout's server (e.g. the code before a change).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
CHUNK = b"x" * 65536
MIB = 1024 * 1024


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024  # MiB
    return 0


def _post(port: int, size: int, out: list) -> None:
    started = time.monotonic()
    sent = 0
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(300)
    try:
        sock.sendall((f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Content-Type: application/x-www-form-urlencoded\r\n"
                      f"Content-Length: {size}\r\n\r\n").encode())
        sock.setblocking(False)
        answer = b""
        while sent < size and not answer:
            try:
                sent += sock.send(CHUNK[: size - sent])
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
            with contextlib.suppress(BlockingIOError):
                answer = sock.recv(4096)
        sock.setblocking(True)
        while b"\r\n" not in answer:
            got = sock.recv(4096)
            if not got:
                break
            answer += got
    except OSError as err:
        answer = str(err).encode()
    finally:
        sock.close()
    out.append((answer.split(b"\r\n", 1)[0].decode(errors="replace"), sent,
                time.monotonic() - started))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--mib", default="60,100")
    ap.add_argument("--repo", type=Path, default=HERE)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DOORSTEP_INSTANCE_PATH": tmp, "PYTHONPATH": str(args.repo)}
        env.pop("DOORSTEP_DATABASE_URL", None)
        subprocess.run([sys.executable, "-m", "server", "db", "upgrade"], env=env,
                       cwd=args.repo, check=True, capture_output=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen([sys.executable, "-m", "server", "serve", "--port", str(port),
                                 "--threads", "8"], env=env, cwd=args.repo,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port)).close()
                    break
                except OSError:
                    time.sleep(0.2)
            for mib in (int(m) for m in args.mib.split(",")):
                before = _status(proc.pid, "VmRSS")
                out: list = []
                threads = [threading.Thread(target=_post, args=(port, mib * MIB, out))
                           for _ in range(args.parallel)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                time.sleep(1)
                statuses = sorted({o[0] for o in out})
                print(f"{args.parallel} x {mib} MiB: {statuses}; slowest answer "
                      f"{max(o[2] for o in out):.2f} s; sent before the answer "
                      f"{min(o[1] for o in out) / MIB:.1f}–{max(o[1] for o in out) / MIB:.1f} "
                      f"MiB; server RSS {before} MiB before, peak {_status(proc.pid, 'VmHWM')} "
                      f"MiB, after {_status(proc.pid, 'VmRSS')} MiB", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
