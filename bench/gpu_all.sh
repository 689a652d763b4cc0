#!/usr/bin/env bash
# Every GPU check in one run, for a machine lent for a few minutes:
# bench/gpu_scan.sh (scan speed, YuNet's port against OpenCV), bench/gpu_train.sh
# (fp16 triplet training speed, GPU embeddings against CPU ones) and
# bench/jpeg_decode.py (the 12 MP JPEG decode floor: Pillow on the cores,
# nvJPEG on the GPU). Each part runs even when one before it failed; the exit
# status is 1 when any failed.
#
#   bench/gpu_all.sh                      # after `make test` set up .venv
#   PY=python3 bench/gpu_all.sh           # another interpreter that has the dependencies
#   DEVICE=cpu LIMIT=2 COPIES=2 LFW=none STEPS=3 DECODE_LIMIT=2 bench/gpu_all.sh   # a dry run
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export PY
failed=0
part() {
    local name=$1
    shift
    echo "== $name"
    local start=$SECONDS
    "$@" || { echo "== $name FAILED (exit $?)"; failed=1; }
    echo "== $name took $((SECONDS - start)) s"
}
"$PY" -c "import sys, torch, cv2, numpy; print('python', sys.version.split()[0], '| torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), '| opencv', cv2.__version__, '| numpy', numpy.__version__, '|', __import__('os').cpu_count(), 'cores')"
part "bench/gpu_scan.sh" bash bench/gpu_scan.sh
part "bench/gpu_train.sh" bash bench/gpu_train.sh "${STEPS:-300}"
part "bench/jpeg_decode.py" "$PY" bench/jpeg_decode.py --limit "${DECODE_LIMIT:-16}" --device "${DEVICE:-cuda}"
exit $failed
