"""GIS imports through the command line: wall time and peak memory of the server-side process
and of the import's helper process (issue 14, finding 3).

    .venv/bin/python tests/bench/bench_imports.py [--cases bowtie:20000,bowtie:1000000,...]
        [--city 100000] [--repo PATH] [--cap-gb 8] [--timeout 600]

Each case is one GeoJSON file with one building (code BOW) whose ring crosses itself: `bowtie`
is a figure eight with each side cut into n/4 points (one crossing), `zigzag` crosses itself
about n times (GEOS make_valid takes seconds for 20,000 vertices), `scribble` joins n random
points (crossings grow as n squared), `square` is a harmless footprint (the command's fixed
cost). `--city N` adds a plain township of N generated footprints (gis.demo) as a GeoPackage,
to show what a real import costs. Every case runs `python -m server buildings import FILE`
over a fresh SQLite instance (areas imported first) and samples /proc every 20 ms for the
high-water RSS (VmHWM) of the command's own process and of the helper (a grandchild: the fork
server's child). --repo runs another checkout (e.g. the code before the change, which repairs
inside the process); that process is capped at --cap-gb of address space so the machine survives it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from tests.support.import_files import (  # noqa: E402 (the repository on the path first)
    AREAS,
    bbox_polygon,
    bowtie_ring,
    zigzag_ring,
)


def square_ring(n: int) -> list:
    """A plain footprint (n is ignored): what the command costs when the file is harmless."""
    return bbox_polygon(102.01, 24.01, 102.0101, 24.0101)["coordinates"][0]


def scribble_ring(n: int) -> list:
    """n random vertices in a 100 m square, joined in order: crossings grow as n squared, and
    GEOS make_valid does not finish 500 of them in five minutes."""
    rng = random.Random(2016)
    ring = [[round(102.01 + rng.random() / 1000, 10), round(24.01 + rng.random() / 1000, 10)]
            for _ in range(n)]
    return [*ring, ring[0]]


SHAPES = {"bowtie": bowtie_ring, "zigzag": zigzag_ring, "scribble": scribble_ring,
          "square": square_ring}


def _status(pid: int) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        return [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except OSError:
        return []


def _mib(status: dict[str, str], field: str) -> int:
    return int(status.get(field, "0 kB").split()[0]) // 1024


class Sampler(threading.Thread):
    """High-water RSS of the command (`server`) and of its grandchildren (`helper`)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.server, self.helper, self.done = pid, 0, 0, False

    def run(self) -> None:
        while not self.done:
            self.server = max(self.server, _mib(_status(self.pid), "VmHWM"))
            for fork_server in _children(self.pid):
                for helper in _children(fork_server):
                    self.helper = max(self.helper, _mib(_status(helper), "VmHWM"))
            time.sleep(0.02)


def _doorstep(repo: Path, env: dict, *args: str, cap_gb: float, timeout: float) -> dict:
    def cap() -> None:
        limit = int(cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "server", *args], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=cap)
    sampler = Sampler(proc.pid)
    sampler.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        out += f"\n(stopped by the benchmark after {timeout:g} s)"
    sampler.done = True
    sampler.join()
    return {"seconds": round(time.perf_counter() - started, 1), "exit": proc.returncode,
            "server_mib": sampler.server, "helper_mib": sampler.helper,
            "output": out.strip().splitlines()[-1][:300] if out.strip() else ""}


def _ring_file(shape: str, n: int, path: Path) -> None:
    ring = SHAPES[shape](n)
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "BOW"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))


def _city_files(n: int, tmp: Path) -> tuple[Path, Path]:
    import geopandas as gpd

    from gis.demo import generate_township

    town = generate_township(seed=2016, buildings=n)
    areas = gpd.GeoDataFrame(
        {"code": [a.code for a in town.areas], "name": [a.name_zh for a in town.areas],
         "level": [a.level for a in town.areas], "parent": [a.parent_code for a in town.areas]},
        geometry=[a.boundary for a in town.areas], crs=4326)
    buildings = gpd.GeoDataFrame(
        {"code": [b.code for b in town.buildings],
         "expected_units": [b.expected_units for b in town.buildings]},
        geometry=[b.footprint for b in town.buildings], crs=4326)
    areas_path, path = tmp / f"city{n}_areas.geojson", tmp / f"city{n}.gpkg"
    areas.to_file(areas_path, driver="GeoJSON")
    buildings.to_file(path, driver="GPKG")
    return areas_path, path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases",
                        default="square:5,bowtie:20000,zigzag:20000,scribble:20000,"
                                "bowtie:1000000")
    parser.add_argument("--city", type=int, default=0)
    parser.add_argument("--repo", type=Path, default=HERE)
    parser.add_argument("--cap-gb", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp_name:
        tmp = Path(tmp_name)
        cases: list[tuple[str, Path, Path]] = []
        town = tmp / "areas.geojson"
        town.write_text(AREAS)
        for case in filter(None, args.cases.split(",")):
            shape, n = case.split(":")
            path = tmp / f"{shape}{n}.geojson"
            _ring_file(shape, int(n), path)
            cases.append((f"{shape} {int(n):,} vertices ({path.stat().st_size / 2**20:.1f} MiB)",
                          town, path))
        if args.city:
            areas, path = _city_files(args.city, tmp)
            cases.append((f"city of {args.city:,} footprints "
                          f"({path.stat().st_size / 2**20:.1f} MiB GeoPackage)", areas, path))
        for label, areas, path in cases:
            instance = tempfile.mkdtemp(dir=tmp)
            env = {**os.environ, "DOORSTEP_INSTANCE_PATH": instance,
                   "PYTHONPATH": str(args.repo)}
            kw = {"cap_gb": args.cap_gb, "timeout": args.timeout}
            for step in (["db", "upgrade"], ["areas", "import", str(areas)]):
                done = _doorstep(args.repo, env, *step, **kw)
                assert done["exit"] == 0, done
            got = _doorstep(args.repo, env, "buildings", "import", str(path), **kw)
            print(json.dumps({"case": label, **got}, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
