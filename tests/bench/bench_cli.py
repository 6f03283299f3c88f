"""How long the `doorstep` command takes to answer, with `python -c pass` as the floor.

    .venv/bin/python tests/bench/bench_cli.py [--runs 5] [--repo PATH ...]

Runs each command as a fresh `python -m server …` process (what the `doorstep` script does)
in each checkout given with --repo (default: this one; give another checkout, e.g. the code
before a change, to compare in the same run), over a fresh instance folder whose database is
upgraded first, and prints per command and checkout the median of --runs runs: wall time, and
the process's CPU time (user + system), which a busy machine inflates far less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
COMMANDS = (
    ["--help"],
    ["rounds", "--help"],
    ["users", "--help"],
    ["rounds", "list", "--help"],
    ["db", "--help"],
    ["rounds", "list"],  # a light command: builds the app and reads the database
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _seconds(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run."""
    started, cpu = time.perf_counter(), _cpu()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, action="append", help="checkout to run (repeat)")
    args = parser.parse_args()
    repos = args.repo or [HERE]
    with tempfile.TemporaryDirectory() as instance:
        env = {**os.environ, "DOORSTEP_INSTANCE_PATH": instance}
        subprocess.run([sys.executable, "-m", "server", "db", "upgrade"], cwd=repos[0],
                       env=env, check=True, capture_output=True)
        rows = [("python -c pass", [[sys.executable, "-c", "pass"]] * len(repos))]
        rows += [("doorstep " + " ".join(c), [[sys.executable, "-m", "server", *c]] * len(repos))
                 for c in COMMANDS]
        print(f"median of {args.runs} runs, seconds, wall / CPU; columns: "
              + " | ".join(str(r) for r in repos))
        for label, argvs in rows:
            cells = []
            for repo, argv in zip(repos, argvs, strict=True):
                _seconds(argv, repo, env)  # warm the file cache
                runs = [_seconds(argv, repo, env) for _ in range(args.runs)]
                wall = statistics.median(w for w, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                cells.append(f"{wall:>7.3f} / {cpu:.3f}")
            print(f"{label:<34}" + "".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    main()
