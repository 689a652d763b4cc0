"""Scan throughput on a Ray cluster of this machine, with 1 and 2 workers, beside a local scan.

    .venv/bin/python bench/ray_scan.py                    # 600 LFW photos, workers 1 and 2
    .venv/bin/python bench/ray_scan.py --photos 2000 --workers 1 2
    .venv/bin/python bench/ray_scan.py --folder ~/Pictures/some-folder

For each worker count a Ray head is started on 127.0.0.1 alone with that many
CPUs (``ray start --head --num-cpus N``), the folder is scanned into a fresh
catalog with ``facealbum scan --ray``, and the head is stopped. The local scan
is ``facealbum scan`` of the same folder. Photos per second are over the
whole command (connecting, starting the workers and loading their networks
included) and over the scan's own seconds; the faces found must agree.
The photos come from ../shared/data/lfw-dev/images (linked, never copied)
unless ``--folder`` is given.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LFW = REPO.parent / "shared" / "data" / "lfw-dev" / "images"
BIN = Path(sys.executable).parent


def photos_folder(count: int, into: Path) -> Path:
    if not LFW.is_dir():
        sys.exit(f"LFW photos not found at {LFW}; pass --folder")
    into.mkdir()
    names = sorted(p for p in LFW.rglob("*.jpg"))[:count]
    for path in names:
        (into / path.name).symlink_to(path)
    return into


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scan(folder: Path, catalog: Path, *extra: str) -> tuple[dict, float]:
    command = [str(BIN / "facealbum"), "--catalog", str(catalog), "scan", str(folder),
               "--no-people", "--json", *extra]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"scan failed: {done.stderr.strip()}")
    return json.loads(done.stdout), wall


def with_head(cpus: int, work):
    temp = tempfile.mkdtemp(prefix="fa-bench-ray-", dir="/tmp")
    port = free_port()
    # Every process of this head inherits the marker, whatever it renames itself.
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", FACEALBUM_BENCH_RAY_HEAD=temp)
    subprocess.run(
        [str(BIN / "ray"), "start", "--head", "--num-cpus", str(cpus), "--node-ip-address",
         "127.0.0.1", "--port", str(port), "--include-dashboard=false",
         "--disable-usage-stats", "--temp-dir", temp],
        env=env, capture_output=True, check=True,
    )
    try:
        return work(f"127.0.0.1:{port}")
    finally:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    environ = (entry / "environ").read_bytes()
                except OSError:
                    continue
                if f"FACEALBUM_BENCH_RAY_HEAD={temp}".encode() in environ:
                    os.kill(int(entry.name), signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--no-local", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fa-bench-") as tmp:
        folder = args.folder or photos_folder(args.photos, Path(tmp) / "photos")
        rows = []
        if not args.no_local:
            report, wall = scan(folder, Path(tmp) / "local.sqlite")
            rows.append(("local", report, wall))
        for workers in args.workers:
            catalog = Path(tmp) / f"ray{workers}.sqlite"
            report, wall = with_head(
                workers, lambda address, c=catalog: scan(folder, c, "--ray", address)
            )
            rows.append((f"ray, {workers} worker{'s' if workers > 1 else ''}", report, wall))
        print(f"{'how':<16} {'photos':>7} {'faces':>6} {'wall s':>8} {'photos/s':>9} "
              f"{'scan s':>8} {'photos/s':>9} {'write s':>8} {'wait s':>7}  load")
        for how, report, wall in rows:
            stages = report["stage_seconds"]
            print(f"{how:<16} {report['scanned']:>7} {report['faces']:>6} {wall:>8.1f} "
                  f"{report['scanned'] / wall:>9.2f} {report['seconds']:>8.1f} "
                  f"{report['photos_per_second']:>9.2f} {stages['write']:>8.2f} "
                  f"{stages['wait']:>7.1f}  {os.getloadavg()[0]:.1f}")
        faces = {report["faces"] for _, report, _ in rows}
        if len(faces) > 1:
            print(f"faces differ between the scans: {sorted(faces)}")


if __name__ == "__main__":
    main()
