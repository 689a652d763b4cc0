"""Self-training on a library's own groups: does SFace learn profiles from them? (CFP dev)

No identity label is used for training. The central faces of CFP dev's
3,500 photos are embedded by the pretrained SFace and grouped by
``engine.people.cluster`` (poses counted, as the app groups them); each
group of two faces or more becomes a pseudo-person, faces left alone take no
part. ``engine.train``'s ``Trainer`` (the loop ``facealbum train`` runs:
P x K batches, augmentation, triplet loss with semi-hard mining) then
fine-tunes SFace's last blocks (``--train-from``) on those groups, and the
library is embedded and grouped again.

Printed for the pretrained and the self-trained network: FP and FF
verification over CFP's official folds (transductive: the pairs' faces are
the library the network trained on, so a pair the grouping had already put
together is pulled nearer by the training itself), BCubed F1 of grouping
the library again with the same parameters (scored against the true
identities), and LFW dev verification (held out: none of its people is in
CFP).

Crops and the frozen layers' output come from ``bench/finetune_cfp.py``'s
cache under ``--cache`` (default ``/tmp/facealbum-bench-cfp``).

Usage:

    .venv/bin/python bench/selftrain_cfp.py [--epochs 3] [--threads 2]
        [--train-from features.conv_13_dw]
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import finetune_cfp as tune  # noqa: E402
from bench.cfp import CFP, detect_cfp  # noqa: E402
from engine.metrics import cluster_scores  # noqa: E402
from engine.models.sface import SFaceNet  # noqa: E402
from engine.people.cluster import cluster  # noqa: E402
from engine.quality import face_quality  # noqa: E402
from engine.train.trainer import Trainer, TrainOptions  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--train-from", default="features.conv_13_dw")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facealbum-bench-cfp"))
    args = parser.parse_args()
    if not (CFP / "pairs_fp.txt").is_file():
        print(f"skipped: CFP is not at {CFP}")
        return 0
    if not (tune.LFW / "pairs.txt").is_file():
        print(f"skipped: LFW is not at {tune.LFW}")
        return 0
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    embedder, pristine = tune.pretrained_sface()
    all_files, cfp_files, crops, row = tune.cfp_crops_cached(args.cache, embedder)
    faces = detect_cfp(args.cache / "cfp-faces.npz")
    poses = face_quality.yaws(faces.landmarks[faces.central[faces.central >= 0]])
    person = [f.split("/")[0] for f in cfp_files]
    fp = tune.pairs_rows(CFP / "pairs_fp.txt", all_files, row)
    ff = tune.pairs_rows(CFP / "pairs_ff.txt", all_files, row)
    cut = tune.cut_index(pristine, args.train_from)
    mid = tune.prefix_cached(args.cache / f"cfp-mid-{cut}.npy", pristine, cut, embedder.scale,
                             crops)
    lfw_crops, lfw_pairs = tune.lfw_crops_cached(args.cache, embedder)
    lfw_mid = tune.prefix_cached(args.cache / f"lfw-mid-{cut}.npy", pristine, cut,
                                 embedder.scale, lfw_crops)

    def report(label: str, net: SFaceNet) -> np.ndarray:
        vectors = tune.tail_embed(net, cut, mid)
        groups = cluster(vectors, None, poses=poses)
        scores = cluster_scores(list(groups), person)
        a, b = tune.verify(vectors, fp), tune.verify(vectors, ff)
        lfw = float(np.mean(tune.lfw_scores(tune.tail_embed(net, cut, lfw_mid), lfw_pairs)))
        print(f"{label:12s} FP {100 * a[0]:.2f} % ± {100 * a[1]:.2f}  FF {100 * b[0]:.2f} %  "
              f"BCubed F1 {scores.bcubed_f1:.4f} (P {scores.bcubed_precision:.4f} "
              f"R {scores.bcubed_recall:.4f})  LFW {100 * lfw:.2f} %", flush=True)
        return groups

    pseudo = report("pretrained", pristine)
    print(f"pseudo-people: {len(set(pseudo[pseudo >= 0].tolist()))} groups holding "
          f"{int((pseudo >= 0).sum())} of {len(pseudo)} faces", flush=True)
    options = TrainOptions(
        epochs=args.epochs, people_per_batch=16, faces_per_person=4, margin=0.2, lr=args.lr,
        augment=True, train_from=args.train_from, warmup_steps=10,
    )
    net = copy.deepcopy(pristine)
    trainer = Trainer(net, embedder.scale, crops, pseudo.astype(np.int64), options)
    started = time.perf_counter()
    losses = [float(p.info["loss"]) for p in trainer.run() if p.stage == "train"]
    tune.check_frozen(pristine, net)
    print(f"trained {trainer.step} steps in {time.perf_counter() - started:.0f} s, loss "
          f"{np.mean(losses[:10]):.4f} -> {np.mean(losses[-10:]):.4f}", flush=True)
    report("self-trained", net)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
