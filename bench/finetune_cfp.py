"""Triplet fine-tuning of SFace on profiles, judged on people it never saw (CFP dev, LFW dev).

CFP's five official folds are identity-disjoint (50 people each). For each
held-back fold k the pretrained SFace is fine-tuned by ``engine.train``'s
``Trainer`` (the loop ``facealbum train`` runs: P x K batches, on-device
augmentation, triplet loss with semi-hard mining, AdamW under warm-up +
cosine) on the central faces of the other four folds' 200 people, and then
embeds fold k's photos. Every FP and FF distance is thus measured by a model
that never saw the people of its pair; the five folds' distances are scored
together as ``bench/cfp.py`` scores them (threshold chosen on the other
folds, a photo without a face makes its pair "different"). Each fold's model
also embeds the LFW dev photos (``bench/accuracy.py``'s landmarks and fold
rule): LFW must not drop. The pretrained network goes through the same code
path as the "before" row.

``--train-from`` freezes everything before the named module. The frozen
part's output is computed once per photo (it cannot change: the script
checks the frozen weights after training) and only the trained part runs in
the evaluations, which is what makes five folds plus LFW fit in CPU minutes.
``--balanced`` deals each person's K faces round-robin over frontal and
profile photos (CFP numbers them ``_0001``-``_0010`` and ``_0011``-``_0014``).

Crops are aligned once from the landmarks ``bench/cfp.py`` cached and kept
under ``--cache`` (default ``/tmp/facealbum-bench-cfp``).

Usage:

    .venv/bin/python bench/finetune_cfp.py [--folds 1,2,3,4,5] [--epochs 3]
        [--train-from features.conv_13_dw] [--balanced] [--lr 1e-4] [-P 16] [-K 4]
"""

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.accuracy import LFW, detect_all, fold_accuracy, load_rgb, read_pairs  # noqa: E402
from bench.cfp import CFP, FAR, detect_cfp  # noqa: E402
from engine.align import align_faces  # noqa: E402
from engine.imageio import decode, read_bytes  # noqa: E402
from engine.metrics import verification_accuracy  # noqa: E402
from engine.models.embedding import TorchEmbedder  # noqa: E402
from engine.models.registry import get_embedder  # noqa: E402
from engine.models.sface import SFaceNet  # noqa: E402
from engine.train.trainer import Trainer, TrainOptions  # noqa: E402

BATCH = 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", default="1,2,3,4,5", help="CFP folds to hold back in turn")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--people-per-batch", "-P", type=int, default=16)
    parser.add_argument("--faces-per-person", "-K", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--margin", type=float, default=0.2)
    parser.add_argument("--mining", default="semi-hard")
    parser.add_argument("--train-from", default="features.conv_13_dw")
    parser.add_argument("--balanced", action="store_true", help="mix frontal and profile faces")
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--no-lfw", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/facealbum-bench-cfp"))
    args = parser.parse_args()
    if not (CFP / "pairs_fp.txt").is_file():
        print(f"skipped: CFP is not at {CFP}")
        return 0
    torch.set_num_threads(args.threads)
    args.cache.mkdir(parents=True, exist_ok=True)
    embedder, pristine = pretrained_sface()
    all_files, cfp_files, cfp_crops, cfp_row = cfp_crops_cached(args.cache, embedder)
    person = np.array([f.split("/")[0] for f in cfp_files])
    profile = np.array([int(f[-8:-4]) > 10 for f in cfp_files])
    fp = pairs_rows(CFP / "pairs_fp.txt", all_files, cfp_row)
    ff = pairs_rows(CFP / "pairs_ff.txt", all_files, cfp_row)
    fold_people = people_of_folds(CFP / "pairs_fp.txt")
    lfw_crops, lfw_pairs = (None, None) if args.no_lfw else lfw_crops_cached(args.cache, embedder)

    cut = cut_index(pristine, args.train_from)
    started = time.perf_counter()
    cfp_mid = prefix_cached(args.cache / f"cfp-mid-{cut}.npy", pristine, cut, embedder.scale,
                            cfp_crops)
    lfw_mid = None if lfw_crops is None else prefix_cached(
        args.cache / f"lfw-mid-{cut}.npy", pristine, cut, embedder.scale, lfw_crops)
    print(f"frozen part (before {args.train_from}) of {len(cfp_crops)} CFP and "
          f"{0 if lfw_crops is None else len(lfw_crops)} LFW crops in "
          f"{time.perf_counter() - started:.0f} s", flush=True)

    folds = [int(k) for k in args.folds.split(",")]
    before = tail_embed(pristine, cut, cfp_mid)
    after = before.copy()
    lfw_rows: list[tuple[str, float, float]] = []
    if lfw_mid is not None and lfw_pairs is not None:
        acc = lfw_scores(tail_embed(pristine, cut, lfw_mid), lfw_pairs)
        lfw_rows.append(("pretrained", float(np.mean(acc)), float(np.std(acc))))
    options = TrainOptions(
        epochs=args.epochs, people_per_batch=args.people_per_batch,
        faces_per_person=args.faces_per_person, margin=args.margin, mining=args.mining,
        lr=args.lr, augment=not args.no_augment, train_from=args.train_from, seed=args.seed,
        warmup_steps=10,
    )
    print(f"options: {options}; balanced={args.balanced}", flush=True)
    alone_rows: list[tuple[float, float, float, float]] = []  # FP before, after, FF before, after
    for k in folds:
        held = np.isin(person, sorted(fold_people[k]))
        names = sorted(set(person[~held]))
        label_of = {n: i for i, n in enumerate(names)}
        labels = np.array([-1 if h else label_of[p] for p, h in zip(person, held, strict=True)])
        net = copy.deepcopy(pristine)
        trainer = Trainer(net, embedder.scale, cfp_crops, labels, options,
                          groups=profile.astype(np.int64) if args.balanced else None)
        t0 = time.perf_counter()
        losses = []
        for progress in trainer.run():
            if progress.stage == "train":
                losses.append(float(progress.info["loss"]))
        seconds = time.perf_counter() - t0
        check_frozen(pristine, net)
        vectors = tail_embed(net, cut, cfp_mid)
        after[held] = vectors[held]
        fold_fp, fold_ff = fold_only(fp, k), fold_only(ff, k)
        alone = (fold_alone(before, fold_fp), fold_alone(vectors, fold_fp),
                 fold_alone(before, fold_ff), fold_alone(vectors, fold_ff))
        alone_rows.append(alone)
        print(
            f"fold {k}: trained on {len(names)} people ({int((labels >= 0).sum())} faces), "
            f"{trainer.step} steps in {seconds:.0f} s, loss {np.mean(losses[:10]):.4f} -> "
            f"{np.mean(losses[-10:]):.4f}; fold {k} FP pairs scored alone "
            f"{100 * alone[0]:.2f} % -> {100 * alone[1]:.2f} %, FF {100 * alone[2]:.2f} % -> "
            f"{100 * alone[3]:.2f} %",
            flush=True,
        )
        if lfw_mid is not None and lfw_pairs is not None:
            acc = lfw_scores(tail_embed(net, cut, lfw_mid), lfw_pairs)
            lfw_rows.append((f"without fold {k}", float(np.mean(acc)), float(np.std(acc))))
            print(f"  LFW of that model {100 * np.mean(acc):.2f} % ± {100 * np.std(acc):.2f}",
                  flush=True)

    print(f"\nCFP dev, folds {args.folds} held back in turn (other folds' pairs: pretrained)")
    for label, vectors in (("pretrained", before), ("fine-tuned", after)):
        a = verify(vectors, restrict(fp, folds))
        b = verify(vectors, restrict(ff, folds))
        print(f"{label:12s} FP {100 * a[0]:.2f} % ± {100 * a[1]:.2f}  "
              f"FF {100 * b[0]:.2f} % ± {100 * b[1]:.2f}")
    table = np.array(alone_rows)
    print("each held-back fold scored alone (threshold from 4/5 of its own pairs), "
          "mean ± std over folds:")
    for label, col in (("FP pretrained", 0), ("FP fine-tuned", 1), ("FF pretrained", 2),
                       ("FF fine-tuned", 3)):
        print(f"  {label:14s} {100 * table[:, col].mean():.2f} % ± {100 * table[:, col].std():.2f}"
              f"  (folds: {', '.join(f'{100 * v:.2f}' for v in table[:, col])})")
    for label, mean, spread in lfw_rows:
        print(f"LFW {label:16s} {100 * mean:.2f} % ± {100 * spread:.2f}")
    return 0


# -- networks ------------------------------------------------------------------


def pretrained_sface() -> tuple[TorchEmbedder, SFaceNet]:
    """SFace's embedder and its network in float32, as training takes it."""
    embedder = get_embedder("sface")
    if not isinstance(embedder, TorchEmbedder):
        raise RuntimeError("sface is expected to be a torch embedder")
    network = embedder.network.float().to(memory_format=torch.contiguous_format)
    if not isinstance(network, SFaceNet):
        raise RuntimeError("sface is expected to run SFaceNet")
    return embedder, network


def cut_index(net: SFaceNet, module: str) -> int:
    """How many of ``net.features``' layers come before ``module`` (all of them for the head)."""
    names = [f"features.{n}" for n, _ in net.features.named_children()]
    return names.index(module) if module in names else len(names)


def prefix_cached(path: Path, net: SFaceNet, cut: int, scale: object, crops: np.ndarray
                  ) -> torch.Tensor:
    """``prefix_features``, kept on disk: the pretrained frozen layers give the same each run."""
    if path.is_file():
        mid = np.load(path)
        if len(mid) == len(crops):
            return torch.from_numpy(mid)
    features = prefix_features(net, cut, scale, crops)
    np.save(path, features.numpy())
    return features


@torch.inference_mode()
def prefix_features(net: SFaceNet, cut: int, scale: object, crops: np.ndarray) -> torch.Tensor:
    """The frozen layers' output for every crop, kept as float16 to fit in memory."""
    net.eval()
    out = []
    for start in range(0, len(crops), BATCH):
        x = torch.from_numpy(np.ascontiguousarray(crops[start : start + BATCH]))
        x = scale(x.permute(0, 3, 1, 2).float())  # type: ignore[operator]
        out.append(net.features[:cut](x).half())
    return torch.cat(out)


@torch.inference_mode()
def tail_embed(net: SFaceNet, cut: int, mid: torch.Tensor) -> np.ndarray:
    net.eval()
    out = []
    for start in range(0, len(mid), BATCH):
        y = net.forward_head(net.features[cut:](mid[start : start + BATCH].float()))
        out.append(nn.functional.normalize(y, dim=1).numpy())
    return np.concatenate(out)


def check_frozen(pristine: nn.Module, net: nn.Module) -> None:
    """Raise if training moved a weight it was told to leave alone."""
    before = dict(pristine.named_parameters())
    for name, value in net.named_parameters():
        if not value.requires_grad and not torch.equal(value, before[name]):
            raise RuntimeError(f"{name} changed although it was frozen")


# -- data ----------------------------------------------------------------------


def cfp_crops_cached(
    cache: Path, embedder: object
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(every photo, photos with a face, their central faces' crops, crop row of each photo)."""
    faces = detect_cfp(cache / "cfp-faces.npz")
    row = np.full(len(faces.files), -1, np.int64)
    have = np.flatnonzero(faces.central >= 0)
    row[have] = np.arange(len(have))
    path = cache / "cfp-central-crops-112.npy"
    if path.is_file():
        crops = np.load(path)
    else:
        crops = np.stack([
            align_faces(decode(read_bytes(str(CFP / "images" / faces.files[p]))).image,
                        [faces.landmarks[faces.central[p]]], embedder)[0]  # type: ignore[arg-type]
            for p in have
        ])
        np.save(path, crops)
    return faces.files, [faces.files[p] for p in have], crops, row


def lfw_crops_cached(
    cache: Path, embedder: object
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
    folds, pairs = read_pairs(LFW / "pairs.txt")
    files = sorted({f for a, b, _ in pairs for f in (a, b)})
    path = cache / "lfw-crops-112.npy"
    if path.is_file():
        crops = np.load(path)
    else:
        landmarks, _misses, _rate, _cpu = detect_all(files, cache / "lfw-landmarks.npz")
        crops = np.stack([
            align_faces(load_rgb(LFW / "images" / f), [landmarks[f]], embedder)[0]  # type: ignore[arg-type]
            for f in files
        ])
        np.save(path, crops)
    row = {f: i for i, f in enumerate(files)}
    a = np.array([row[p] for p, _, _ in pairs])
    b = np.array([row[q] for _, q, _ in pairs])
    same = np.array([s for _, _, s in pairs])
    return crops, (a, b, same, folds)


def lfw_scores(vectors: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray, int]
               ) -> list[float]:
    a, b, same, folds = pairs
    return fold_accuracy(np.sum((vectors[a] - vectors[b]) ** 2, axis=1), same, folds)


Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]  # crop rows (P, 2), same, fold (1-based)


def pairs_rows(path: Path, files: list[str], row: np.ndarray) -> Pairs:
    """Crop rows of each pair (-1: no face), same person, fold (1-based), in file order."""
    folds, pairs = read_pairs(path)
    index = {f: i for i, f in enumerate(files)}
    rows = np.array([[row[index[a]], row[index[b]]] for a, b, _ in pairs])
    same = np.array([s for _, _, s in pairs])
    fold = np.arange(len(pairs)) * folds // len(pairs) + 1
    return rows, same, fold


def people_of_folds(path: Path) -> dict[int, set[str]]:
    """The people named in each fold's pairs; refuses folds that share a person."""
    folds, pairs = read_pairs(path)
    people: dict[int, set[str]] = {}
    for i, (a, b, _) in enumerate(pairs):
        people.setdefault(i * folds // len(pairs) + 1, set()).update(
            {a.split("/")[0], b.split("/")[0]})
    for k, named in people.items():
        for j, other in people.items():
            if j != k and named & other:
                raise RuntimeError(f"folds {k} and {j} share {sorted(named & other)[:3]}")
    return people


def restrict(pairs: Pairs, folds: list[int]) -> Pairs:
    rows, same, fold = pairs
    keep = np.isin(fold, folds) if len(folds) > 1 else np.ones(len(fold), bool)
    return rows[keep], same[keep], fold[keep]


def fold_only(pairs: Pairs, k: int) -> Pairs:
    rows, same, fold = pairs
    keep = fold == k
    return rows[keep], same[keep], fold[keep]


def verify(vectors: np.ndarray, pairs: Pairs) -> tuple[float, float]:
    rows, same, fold = pairs
    found = (rows >= 0).all(axis=1)
    diff = vectors[rows[:, 0]] - vectors[rows[:, 1]]
    distances = np.where(found, np.sum(diff * diff, axis=1), FAR)
    return verification_accuracy(distances, same, fold)


def fold_alone(vectors: np.ndarray, pairs: Pairs) -> float:
    """One fold's accuracy in 5-way cross-validation inside it (a quick, noisier look)."""
    rows, same, _fold = pairs
    inner = np.concatenate([np.arange(n) * 5 // n for n in (int(same.sum()), int((~same).sum()))])
    order = np.concatenate([np.flatnonzero(same), np.flatnonzero(~same)])
    sub = np.empty(len(same), np.int64)
    sub[order] = inner
    return verify(vectors, (rows, same, sub))[0]


if __name__ == "__main__":
    sys.exit(main())
