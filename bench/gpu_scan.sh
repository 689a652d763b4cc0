#!/usr/bin/env bash
# Scan speed on a CUDA machine: the LFW images and the demo album with
# --device cuda, printing photos/s, faces/s, GPU utilisation and the seconds
# spent per stage (read, decode, detect, align, embed, write).
#
#   bench/gpu_scan.sh            # from the repository root, after `make test` set up .venv
#
# GPU utilisation is sampled by nvidia-smi every 200 ms while each scan runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
LFW=../shared/data/lfw-dev/images
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

scan() {
    local name=$1 folder=$2
    local log
    log=$(mktemp)
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$log" &
    local sampler=$!
    "$PY" - "$name" "$folder" <<'PY'
import json, sys, tempfile, time
from pathlib import Path
from engine.catalog import Catalog
from engine.models.registry import get_detector, get_embedder, resolve_device
from engine.scan import ScanOptions, ScanSummary, scan_folder

name, folder = sys.argv[1], Path(sys.argv[2])
device = resolve_device("cuda")
det, emb = get_detector("yunet", device=device), get_embedder("sface", device=device)
det.load(); emb.load()
summary = ScanSummary()
with tempfile.TemporaryDirectory() as tmp, Catalog(Path(tmp) / "c.sqlite") as cat:
    start = time.perf_counter()
    for _ in scan_folder(cat, folder, ScanOptions(device="cuda", import_xmp=False),
                         summary=summary, detector=det, embedder=emb):
        pass
    seconds = time.perf_counter() - start
print(f"{name}: {summary.scanned} photos, {summary.faces} faces in {seconds:.1f} s: "
      f"{summary.scanned / seconds:.1f} photos/s, {summary.faces / seconds:.1f} faces/s on {device}")
print(f"{name}: seconds per stage " + json.dumps({k: round(v, 2) for k, v in summary.stage_seconds.items()}))
PY
    kill "$sampler" 2>/dev/null || true
    awk -v n="$name" '{s+=$1; c++; if ($1>m) m=$1} END {if (c) printf "%s: GPU utilisation mean %.0f %%, max %d %% (%d samples)\n", n, s/c, m, c}' "$log"
    rm -f "$log"
}

scan demo_album resources/demo
if [ -d "$LFW" ]; then scan lfw "$LFW"; else echo "LFW not found at $LFW: skipped"; fi
