#!/usr/bin/env bash
# Train on a CUDA GPU with fp16, then check GPU embeddings against CPU ones.
#
# 1. Trains SFace (fine-tuning, fp16 autocast + GradScaler) for STEPS steps of
#    P x K = 32 x 4 faces on LFW-dev crops (../shared/data/lfw-dev/images; random
#    crops when it is absent) and prints steps/s, images/s and peak GPU memory.
# 2. Embeds the faces of the demo album (resources/demo) with SFace and FaceNet on
#    the GPU and on the CPU, and checks every face's cosine similarity is above
#    0.999.
#
# Usage: bench/gpu_train.sh [STEPS]        (default 300)
#        DEVICE=cpu bench/gpu_train.sh 3   (dry run of the same code on the CPU)
#        LFW_DIR=other/images bench/gpu_train.sh   (another folder-per-identity set)
# Exit status 0 when both parts pass, 1 when the embeddings disagree, 2 without CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
export STEPS="${1:-300}" DEVICE="${DEVICE:-cuda}"
export FACEALBUM_CACHE_DIR="${FACEALBUM_CACHE_DIR:-/tmp/facealbum-gpu-bench}"

exec "$PY" - <<'EOF'
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from engine.align import align_faces
from engine.errors import ModelError
from engine.imageio import decode, is_photo_name, read_bytes
from engine.models.registry import get_detector, get_embedder
from engine.train.trainer import Trainer, TrainOptions

device = torch.device(os.environ["DEVICE"])
steps = int(os.environ["STEPS"])
if device.type == "cuda" and not torch.cuda.is_available():
    print("no CUDA GPU visible to torch: nothing measured (set DEVICE=cpu for a dry run)")
    sys.exit(2)
if device.type == "cuda":
    print(f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")

# -- 1. fp16 training speed -------------------------------------------------------
embedder = get_embedder("sface", device)
lfw = Path(os.environ.get("LFW_DIR", "../shared/data/lfw-dev/images"))
if lfw.is_dir():
    from engine.train.crops import load_crops, prepare_crops

    detector = get_detector("yunet")
    started = time.perf_counter()
    for _ in prepare_crops(lfw.resolve(), embedder, detector):
        pass
    data = load_crops(lfw.resolve(), embedder, detector)
    crops, labels = np.ascontiguousarray(data.crops), data.labels
    print(f"LFW-dev crops: {len(crops)} faces of {len(set(labels.tolist()))} people "
          f"(prepared in {time.perf_counter() - started:.1f} s)")
else:
    print(f"{lfw} is absent: timing on random crops of 200 made-up people")
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(2000, 112, 112, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(200), 10)

options = TrainOptions(epochs=1, people_per_batch=32, faces_per_person=4, steps_per_epoch=steps,
                       lr=1e-4, warmup_steps=min(50, steps), fp16=True)
trainer = Trainer(embedder.network, embedder.scale, crops, labels, options, device=device)
warm = min(10, steps // 5)
batches = iter(trainer.sampler)
for _ in range(warm):  # cudnn autotuning and allocator warm-up are not timed
    trainer.train_step(next(batches))
if device.type == "cuda":
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
started = time.perf_counter()
images = 0
losses = []
for batch in batches:
    loss, _ = trainer.train_step(batch)
    losses.append(loss)
    images += len(batch)
if device.type == "cuda":
    torch.cuda.synchronize(device)
seconds = time.perf_counter() - started
timed = len(losses)
peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
print(f"training: {timed} timed steps (after {warm} warm-up) of {images // max(timed, 1)} images,"
      f" fp16={trainer.amp}: {timed / seconds:.2f} steps/s, {images / seconds:.1f} images/s, "
      f"peak GPU memory {peak:.0f} MiB; loss {np.mean(losses[:10]):.4f} (first 10) -> "
      f"{np.mean(losses[-10:]):.4f} (last 10)")

# -- 2. GPU embeddings match CPU embeddings ----------------------------------------
detector = get_detector("yunet")
faces = {}
for photo in sorted(Path("resources/demo").iterdir()):
    if not is_photo_name(photo.name):
        continue
    image = decode(read_bytes(str(photo)), min_side=960, max_side=960).image
    found = detector.predict(image)
    if found:
        faces[photo.name] = (image, [d.landmarks for d in found])
worst_all = 1.0
for name in ("sface", "facenet"):
    cpu, gpu = get_embedder(name, "cpu"), get_embedder(name, device)
    try:
        cpu.load()
    except ModelError as exc:  # FaceNet's carrier (94 MB) may be left off a bench machine
        if name == "sface":
            raise
        print(f"{name}: not compared, its weights are not installed here ({exc})")
        continue
    crops = np.concatenate([align_faces(img, marks, cpu) for img, marks in faces.values()])
    a, b = cpu.predict(crops), gpu.predict(crops)
    cosine = (a * b).sum(1)
    worst_all = min(worst_all, float(cosine.min()))
    print(f"{name}: {len(crops)} demo faces, cosine(GPU, CPU) min {cosine.min():.5f} "
          f"mean {cosine.mean():.5f}")
ok = worst_all > 0.999
print("embeddings match (all cosines > 0.999)" if ok else "MISMATCH: some cosine <= 0.999")
sys.exit(0 if ok else 1)
EOF
