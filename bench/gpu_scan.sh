#!/usr/bin/env bash
# Scan speed on a CUDA machine: the LFW images, the demo album and the demo
# album enlarged to 12 MP JPEGs with --device cuda, printing photos/s,
# faces/s, GPU utilisation and the seconds spent per stage (read, decode,
# detect, align, embed, write); then whether YuNet on the device finds the
# same faces as OpenCV's YuNet on the CPU.
#
#   bench/gpu_scan.sh            # from the repository root, after `make test` set up .venv
#
# DEVICE (default cuda) picks the scan's device; WORKERS the decode threads
# (default 0: the scan's own choice, one per core up to 4, and then the 12 MP
# files again with one per core where there are more than 4); LIMIT (default all) how many
# demo photos are enlarged to 12 MP and COPIES (default 10) how many copies of
# each are scanned; LFW the LFW image folder. A quick try on a CPU:
#
#   DEVICE=cpu LIMIT=2 COPIES=2 LFW=none bench/gpu_scan.sh
#
# GPU utilisation is sampled by nvidia-smi every 200 ms while each scan runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-0}
LIMIT=${LIMIT:-0}
COPIES=${COPIES:-10}
LFW=${LFW:-../shared/data/lfw-dev/images}
SMI=$(command -v nvidia-smi || true)
if [ -n "$SMI" ]; then
    "$SMI" --query-gpu=name,memory.total,driver_version --format=csv,noheader
fi

scan() {
    local name=$1 folder=$2 workers=${3:-$WORKERS}
    local log sampler=""
    log=$(mktemp)
    if [ -n "$SMI" ]; then
        "$SMI" --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$log" &
        sampler=$!
    fi
    "$PY" - "$name" "$folder" "$DEVICE" "$workers" <<'PY'
import json, sys, tempfile, time
from pathlib import Path
from engine.catalog import Catalog
from engine.models.age import AgeEstimator
from engine.models.registry import get_detector, get_embedder, resolve_device
from engine.scan import ScanOptions, ScanSummary, scan_folder

name, folder, device_name, workers = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
device = resolve_device(device_name)
det, emb = get_detector("yunet", device=device), get_embedder("sface", device=device)
ages = AgeEstimator(device)
det.load(); emb.load(); ages.load()
summary = ScanSummary()
with tempfile.TemporaryDirectory() as tmp, Catalog(Path(tmp) / "c.sqlite") as cat:
    start = time.perf_counter()
    for _ in scan_folder(cat, folder, ScanOptions(device=device_name, workers=workers, import_xmp=False),
                         summary=summary, detector=det, embedder=emb, ages=ages):
        pass
    seconds = time.perf_counter() - start
print(f"{name}: {summary.scanned} photos, {summary.faces} faces in {seconds:.1f} s: "
      f"{summary.scanned / seconds:.1f} photos/s, {summary.faces / seconds:.1f} faces/s "
      f"on {device} ({type(det).__name__}, {workers or 'default'} decode threads)")
print(f"{name}: seconds per stage " + json.dumps({k: round(v, 2) for k, v in summary.stage_seconds.items()}))
PY
    if [ -n "$sampler" ]; then
        kill "$sampler" 2>/dev/null || true
        awk -v n="$name" '{s+=$1; c++; if ($1>m) m=$1} END {if (c) printf "%s: GPU utilisation mean %.0f %%, max %d %% (%d samples)\n", n, s/c, m, c}' "$log"
    fi
    rm -f "$log"
}

# 12 MP JPEGs (quality 90) made from the demo album by bench/camera_files.py.
camera=$(mktemp -d)
trap 'rm -rf "$camera"' EXIT
"$PY" - "$camera/jpeg" "$LIMIT" "$COPIES" <<'PY'
import shutil, sys
from pathlib import Path
sys.path.insert(0, "bench")
from camera_files import DEMO, make_files

folder, limit, copies = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
photos = sorted(DEMO.glob("*.jpg"))[: limit or None]
make_files(photos, folder, "jpeg")
for made in sorted(folder.iterdir()):
    for k in range(1, copies):
        shutil.copy(made, made.with_name(f"{made.stem}_{k}{made.suffix}"))
total = sum(f.stat().st_size for f in folder.iterdir())
print(f"camera_jpeg_12mp: {len(photos)} demo photos enlarged to about 12 MP, {copies} copies "
      f"each: {total / 1e6:.0f} MB")
PY

scan demo_album resources/demo
scan camera_jpeg_12mp "$camera/jpeg"
cores=$(nproc)
if [ "$WORKERS" = 0 ] && [ "$cores" -gt 4 ]; then
    scan camera_jpeg_12mp_all_cores "$camera/jpeg" "$cores"  # the decode pool as wide as the machine
fi
if [ -d "$LFW" ]; then scan lfw "$LFW"; else echo "LFW not found at $LFW: skipped"; fi

# YuNet's torch port on the device against OpenCV's YuNet on the CPU, every demo photo.
"$PY" - "$DEVICE" <<'PY'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
from engine.detect import FLOOR
from engine.models.registry import resolve_device
from engine.models.yunet import YuNetDetector
from engine.models.yunet_torch import YuNetTorchDetector

device = resolve_device(sys.argv[1])
ours, reference = YuNetTorchDetector(device), YuNetDetector()
faces = differ = 0
box = landmarks = score = 0.0
for path in sorted(Path("resources/demo").glob("*.jpg")):
    with Image.open(path) as im:
        image = np.asarray(im.convert("RGB"))
    a, b = reference.candidates(image, FLOOR), ours.candidates(image, FLOOR)
    if len(a) != len(b):
        differ += 1
        continue
    for x, y in zip(a, b):
        faces += 1
        box = max(box, float(np.abs(np.subtract(x.box, y.box)).max()))
        landmarks = max(landmarks, float(np.abs(x.landmarks - y.landmarks).max()))
        score = max(score, abs(x.score - y.score))
print(f"yunet in torch on {device} against OpenCV on the cpu: {faces} faces, "
      f"{differ} photos with another count; max difference box {box:.2g} px, "
      f"landmarks {landmarks:.2g} px, score {score:.2g}")
PY
