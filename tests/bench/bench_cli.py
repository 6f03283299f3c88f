"""How long the `doorstep` command takes to answer, with `python -c pass` as the floor.

    .venv/bin/python tests/bench/bench_cli.py [--runs 5] [--repo PATH ...] [--pyc]

Runs each command as a fresh `python -m server …` process (what the `doorstep` script does)
in each checkout given with --repo (default: this one; give another checkout, e.g. the code
before a change, to compare in the same run), over a fresh instance folder whose database is
upgraded first, and prints per command and checkout the median of --runs runs: wall time, and
the process's CPU time (user + system), which a busy machine inflates far less, and the load
average before and after. --pyc caches bytecode in a temporary folder (as an installed copy
has it) even when PYTHONDONTWRITEBYTECODE is set, as it is in the sessions' shell.
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
    # Light commands: they build the app (without its web side) and read a few rows.
    ["rounds", "list"],
    ["phases", "list"],
    ["forms", "list"],
)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


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
    parser.add_argument("--pyc", action="store_true", help="cache bytecode (a temporary folder)")
    args = parser.parse_args()
    repos = args.repo or [HERE]
    with tempfile.TemporaryDirectory() as instance, tempfile.TemporaryDirectory() as pyc:
        env = {**os.environ, "DOORSTEP_INSTANCE_PATH": instance}
        if args.pyc:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pyc
        subprocess.run([sys.executable, "-m", "server", "db", "upgrade"], cwd=repos[0],
                       env=env, check=True, capture_output=True)
        rows = [("python -c pass", [[sys.executable, "-c", "pass"]] * len(repos))]
        rows += [("doorstep " + " ".join(c), [[sys.executable, "-m", "server", *c]] * len(repos))
                 for c in COMMANDS]
        print(f"median of {args.runs} runs, seconds, wall / CPU; load average "
              f"{_load()}; pyc {'cached' if args.pyc else 'as the environment says'}; "
              "columns: " + " | ".join(str(r) for r in repos))
        for label, argvs in rows:
            cells = []
            for repo, argv in zip(repos, argvs, strict=True):
                _seconds(argv, repo, env)  # warm the file cache
                runs = [_seconds(argv, repo, env) for _ in range(args.runs)]
                wall = statistics.median(w for w, _ in runs)
                cpu = statistics.median(c for _, c in runs)
                cells.append(f"{wall:>7.3f} / {cpu:.3f}")
            print(f"{label:<34}" + "".join(f"{c:>18}" for c in cells))
        print(f"load average after: {_load()}")


if __name__ == "__main__":
    main()
