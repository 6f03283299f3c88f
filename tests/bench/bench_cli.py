"""How long the `doorstep` command takes to answer, with `python -c pass` as the floor.

    .venv/bin/python tests/bench/bench_cli.py [--runs 5] [--repo PATH ...]

Runs each command as a fresh `python -m server …` process (what the `doorstep` script does)
in each checkout given with --repo (default: this one; give another checkout, e.g. the code
before a change, to compare in the same run), over a fresh instance folder whose database is
upgraded first, and prints the median wall time of --runs runs per command and checkout.
"""

from __future__ import annotations

import argparse
import os
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


def _seconds(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


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
        print(f"median of {args.runs} runs, seconds; columns: "
              + " | ".join(str(r) for r in repos))
        for label, argvs in rows:
            medians = []
            for repo, argv in zip(repos, argvs, strict=True):
                _seconds(argv, repo, env)  # warm the file cache
                medians.append(statistics.median(
                    _seconds(argv, repo, env) for _ in range(args.runs)))
            print(f"{label:<34}" + "".join(f"{m:>10.3f}" for m in medians))


if __name__ == "__main__":
    main()
