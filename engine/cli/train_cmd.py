"""``facealbum train`` and ``facealbum adapter``: training embedders and the corrections head.

``train`` fine-tunes (or trains from scratch) an embedder on a
folder-per-identity dataset and registers the result under a name that
``scan --embedder NAME`` accepts. ``adapter`` trains, shows, switches and
resets the projection head learned from the catalog's facts. Torch and the
training modules are imported inside the commands, so ``facealbum --help``
stays quick.
"""

import argparse
import time
from dataclasses import asdict
from pathlib import Path

from engine.cli.common import add_command, open_catalog, stop_on_interrupt
from engine.cli.output import ProgressBar, emit, emit_json, table
from engine.progress import CancelToken


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = add_command(sub, "train", "train or fine-tune an embedder on DATA_DIR/<person>/<photo>")
    p.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    p.add_argument("--arch", choices=["sface", "facenet"], default="sface")
    p.add_argument("--name", default=None,
                   help="name to register the result under (default: <arch>-<data folder>)")
    p.add_argument("--scratch", action="store_true",
                   help="start from a fresh initialisation instead of the pretrained weights")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--people-per-batch", "-P", type=int, default=32)
    p.add_argument("--faces-per-person", "-K", type=int, default=4)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--margin", type=float, default=0.2)
    p.add_argument("--mining", choices=["semi-hard", "batch-hard", "batch-all"],
                   default="semi-hard")
    p.add_argument("--optimiser", choices=["adamw", "adagrad"], default="adamw")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: 1e-4 fine-tuning, 1e-3 from scratch)")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--schedule", choices=["cosine", "step", "constant"], default="cosine")
    p.add_argument("--warmup-steps", type=int, default=50)
    p.add_argument("--no-fp16", action="store_true", help="train in fp32 on CUDA too")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--train-from", default=None, metavar="MODULE",
                   help="freeze the layers before MODULE and train it and the rest, e.g. "
                        "features.conv_13_dw for sface's last blocks and head (default: all)")
    p.add_argument("--pose-balanced", action="store_true",
                   help="give each person in a batch both profile and frontal faces when "
                        "they have both (pose read from the landmarks)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pairs", type=Path, default=None,
                   help="LFW-style pairs file to score after every epoch")
    p.add_argument("--pairs-images", type=Path, default=None,
                   help="folder the pairs refer to (default: DATA_DIR)")
    p.add_argument("--train-on-pair-people", action="store_true",
                   help="also train on people named in the pairs (by default they are held out)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the checkpoint (default: <models folder>/runs/<name>)")
    p.add_argument("--fresh", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--crops-cache", type=Path, default=None,
                   help="folder for the aligned crops (default: the user cache folder)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: default)")
    p.add_argument("--json", action="store_true", help="print one JSON summary at the end")
    p.set_defaults(func=cmd_train)

    p = add_command(sub, "adapter", "learn from your corrections: train, show or reset the head")
    p.add_argument("action", choices=["status", "train", "reset", "enable", "disable"])
    p.add_argument("--model", default=None, help="embedder the head belongs to (default: active)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--if-needed", action="store_true",
                   help="train only when enough new facts arrived since the last training")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_adapter)


def cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from engine.models.embedding import TorchEmbedder
    from engine.models.registry import get_detector, get_embedder
    from engine.train.crops import load_crops, pair_set, prepare_crops
    from engine.train.errors import TrainingError
    from engine.train.pairs import read_pairs
    from engine.train.registered import models_dir, save_trained
    from engine.train.trainer import Trainer, TrainOptions, resolve_device

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data_dir = args.data_dir.resolve()
    name = args.name or f"{args.arch}-{data_dir.name.lower()}".replace(" ", "-")
    embedder = get_embedder(args.arch, device)
    if not isinstance(embedder, TorchEmbedder):
        raise TrainingError(f"{args.arch} is not a torch embedder; train sface or facenet")
    detector = get_detector("yunet")
    cache = args.crops_cache
    cancel = CancelToken()
    with stop_on_interrupt(cancel, "step"):
        ProgressBar(unit="photos").drive(prepare_crops(data_dir, embedder, detector,
                                                       cache_root=cache, cancel=cancel))
    crops = load_crops(data_dir, embedder, detector, cache)
    images, labels = crops.crops, crops.labels.copy()
    groups = crops.pose_groups() if args.pose_balanced else None
    pairs, missing_pairs, held_out = None, 0, 0
    if args.pairs is not None:
        pair_list, folds = read_pairs(args.pairs)
        pairs_dir = (args.pairs_images or data_dir).resolve()
        if pairs_dir != data_dir:
            with stop_on_interrupt(cancel, "step"):
                ProgressBar(unit="photos").drive(prepare_crops(pairs_dir, embedder, detector,
                                                               cache_root=cache, cancel=cancel))
            extra = load_crops(pairs_dir, embedder, detector, cache)
            images = np.concatenate([images, extra.crops])
            labels = np.concatenate([labels, np.full(len(extra.labels), -1)])
            if groups is not None:
                groups = np.concatenate([groups, np.zeros(len(extra.labels), np.int64)])
            shifted = type(extra)(extra.crops, extra.labels, extra.identities,
                                  [""] * len(crops.paths) + extra.paths, extra.skipped)
            pairs, missing_pairs = pair_set(shifted, pair_list, folds)
        else:
            pairs, missing_pairs = pair_set(crops, pair_list, folds)
            if not args.train_on_pair_people:
                named = {p.first.split("/")[0] for p in pair_list}
                named |= {p.second.split("/")[0] for p in pair_list}
                out = np.isin(np.array(crops.identities)[crops.labels], sorted(named))
                labels[out] = -1
                held_out = int(out.sum())
    options = TrainOptions(
        epochs=args.epochs, people_per_batch=args.people_per_batch,
        faces_per_person=args.faces_per_person, steps_per_epoch=args.steps_per_epoch,
        margin=args.margin, mining=args.mining, optimiser=args.optimiser,
        lr=args.lr or (1e-3 if args.scratch else 1e-4), weight_decay=args.weight_decay,
        schedule=args.schedule, warmup_steps=args.warmup_steps, fp16=not args.no_fp16,
        augment=not args.no_augment, freeze_batchnorm=not args.scratch,
        train_from=args.train_from, seed=args.seed,
    )
    net = embedder.build(weights=None) if args.scratch else embedder.network
    out_dir = args.out or models_dir() / "runs" / name
    checkpoint = out_dir / "checkpoint.pt"
    if args.fresh and checkpoint.exists():
        checkpoint.unlink()
    trainer = Trainer(net, embedder.scale, images, labels, options, device=device,
                      checkpoint=checkpoint, pairs=pairs, groups=groups)
    started = time.perf_counter()
    with stop_on_interrupt(cancel, "step"):
        ProgressBar(unit="steps").drive(trainer.run(cancel))
    seconds = time.perf_counter() - started
    history = [asdict(h) for h in trainer.history]
    model = save_trained(name, args.arch, trainer.net, {
        "trained_at": time.time(), "data": str(data_dir), "start": (
            "scratch" if args.scratch else "pretrained"),
        "faces": int((labels >= 0).sum()), "people": len(np.unique(labels[labels >= 0])),
        "options": asdict(options), "pose_balanced": args.pose_balanced,
        "pairs_before": trainer.baseline, "history": history,
    })
    report = {
        "name": model.name, "arch": args.arch, "path": str(model.path), "device": str(device),
        "faces": len(crops.paths), "skipped_photos": len(crops.skipped),
        "held_out_faces": held_out, "pairs_without_faces": missing_pairs,
        "steps": trainer.step, "seconds": round(seconds, 1),
        "pairs_before": trainer.baseline, "epochs": history,
    }
    if args.json:
        emit_json(report)
        return 0
    emit(f"{len(crops.paths)} faces of {len(crops.identities)} people in {data_dir} "
         f"({len(crops.skipped)} photos without a usable face, {held_out} faces of pair "
         f"people held out); {trainer.step} steps on {device} in {seconds:.1f} s")
    if trainer.baseline:
        emit(f"pairs before training: accuracy {trainer.baseline['accuracy']:.4f}"
             f" ({missing_pairs} pairs without a face skipped)")
    table([[str(h["epoch"]), f"{h['loss']:.4f}", f"{h['active']:.2f}",
            f"{h['images_per_second']:.1f}",
            f"{h['pairs'].get('accuracy', float('nan')):.4f}" if h["pairs"] else "-"]
           for h in history], ["epoch", "loss", "active", "images/s", "pair accuracy"])
    emit(f"registered {model.name} ({model.path}); use it with "
         f"`facealbum scan FOLDER --embedder {model.name}`")
    return 0


def cmd_adapter(args: argparse.Namespace) -> int:
    from engine.people.update import active_embedder
    from engine.train.adapter import (
        AdapterOptions,
        adapter_status,
        reset_adapter,
        retrain_if_needed,
        set_adapter_enabled,
        train_adapter,
    )

    with open_catalog(args) as catalog:
        model = args.model or active_embedder(catalog)
        if args.action == "train":
            options = AdapterOptions() if args.steps is None else AdapterOptions(steps=args.steps)
            cancel = CancelToken()
            work = (retrain_if_needed(catalog, model, options, cancel=cancel) if args.if_needed
                    else train_adapter(catalog, model, options, cancel=cancel))
            with stop_on_interrupt(cancel, "step"):
                ProgressBar(unit="steps").drive(work)
        elif args.action == "reset":
            if not reset_adapter(catalog, model):
                emit(f"There was no adapter for {model}; nothing changed.")
        elif args.action in ("enable", "disable"):
            set_adapter_enabled(catalog, model, args.action == "enable")
        status = adapter_status(catalog, model)
    if args.json:
        emit_json(asdict(status))
    elif not status.exists:
        emit(f"No adapter for {model}: embeddings are used as the model made them. "
             f"{status.facts_now} facts could train one (`facealbum adapter train`).")
    else:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(status.created_at or 0))
        emit(f"Adapter for {model}: {'enabled' if status.enabled else 'disabled'}, trained "
             f"{when} on {status.facts} facts ({status.new_facts} new since).")
        if not status.enabled:
            emit("  It is not used until `facealbum adapter enable`: on LFW it did not improve "
                 "assignment of the confirmed people's other faces (bench/adapter_eval.py).")
        for key in ("nn_accuracy_before", "nn_accuracy_after", "loss_before", "loss_after",
                    "seconds"):
            if key in status.metrics:
                emit(f"  {key}: {status.metrics[key]}")
    return 0
