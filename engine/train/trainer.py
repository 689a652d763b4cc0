"""The training loop: FaceNet's triplet training of a whole embedder.

``Trainer`` fine-tunes (or trains from scratch) a torch embedder whose
``forward`` ends in L2 normalisation, on aligned crops grouped by identity:
P x K batches, on-device augmentation, triplet loss with online mining,
AdamW or Adagrad under a warm-up + cosine / step / constant schedule, fp16
autocast with a gradient scaler on CUDA. ``train_from`` freezes every
parameter registered before the named module: the early layers, whose
generic features a small dataset should not move, and whose backward pass
is then skipped, which is what makes fine-tuning on a CPU affordable.
``groups`` (a pose bin per face, say) makes each person's faces in a batch
come from all of that person's groups. After each epoch it scores
verification pairs (when given) and writes a checkpoint from which ``run``
resumes exactly where it stopped.

``run`` is a generator of ``Progress`` that checks its ``CancelToken``
between steps; a cancelled run keeps its last checkpoint. This module never
detects or aligns faces, and never registers the model it trained (the
caller decides whether the result is worth keeping).
"""

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.errors import Cancelled
from engine.progress import CancelToken, Progress
from engine.train.augment import Augment
from engine.train.errors import TrainingError
from engine.train.pairs import PairScore, score_pairs
from engine.train.sampler import PKSampler
from engine.train.triplet import DEFAULT_MARGIN, Mining, triplet_loss

OPTIMISERS = ("adamw", "adagrad")
SCHEDULES = ("cosine", "step", "constant")
CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 10
    people_per_batch: int = 32  # P
    faces_per_person: int = 4  # K
    steps_per_epoch: int | None = None  # None: about one pass over the faces
    margin: float = DEFAULT_MARGIN
    mining: str = str(Mining.SEMI_HARD)
    optimiser: str = "adamw"
    lr: float = 1e-4
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_steps: int = 50
    fp16: bool = True  # used on CUDA only
    augment: bool = True
    freeze_batchnorm: bool = True  # keep pretrained statistics when fine-tuning
    train_from: str | None = None  # first module trained; None: the whole network
    seed: int = 0

    def check(self) -> None:
        """Raise ``TrainingError`` naming the first option out of range."""
        if self.optimiser not in OPTIMISERS:
            raise TrainingError(f"unknown optimiser {self.optimiser!r}; use one of {OPTIMISERS}")
        if self.schedule not in SCHEDULES:
            raise TrainingError(f"unknown schedule {self.schedule!r}; use one of {SCHEDULES}")
        if self.mining not in {str(m) for m in Mining}:
            raise TrainingError(
                f"unknown mining {self.mining!r}; use one of {[str(m) for m in Mining]}"
            )
        if self.epochs < 1 or self.lr <= 0 or self.margin <= 0:
            raise TrainingError(
                f"expected epochs >= 1, lr > 0 and margin > 0, got epochs={self.epochs}, "
                f"lr={self.lr}, margin={self.margin}"
            )


@dataclass(frozen=True)
class PairSet:
    """Verification pairs as indices into the crops the trainer holds."""

    first: np.ndarray  # (M,) int64
    second: np.ndarray  # (M,) int64
    same: np.ndarray  # (M,) bool
    folds: int = 10


@dataclass
class EpochResult:
    epoch: int
    loss: float  # mean triplet loss over the epoch's steps
    active: float  # mean share of triplets with a non-zero loss
    seconds: float
    images_per_second: float
    pairs: dict[str, float | int] = field(default_factory=dict)


class Trainer:
    """Trains ``net`` on ``crops`` (N, S, S, 3 uint8) labelled by ``labels``."""

    def __init__(
        self,
        net: nn.Module,
        scale: Callable[[torch.Tensor], torch.Tensor],
        crops: np.ndarray,
        labels: np.ndarray,
        options: TrainOptions,
        *,
        device: torch.device | str = "cpu",
        checkpoint: Path | None = None,
        pairs: PairSet | None = None,
        groups: np.ndarray | None = None,
    ) -> None:
        options.check()
        if crops.ndim != 4 or crops.shape[3] != 3 or crops.dtype != np.uint8:
            raise TrainingError(
                f"expected crops as uint8 (N, S, S, 3), got {crops.dtype} {crops.shape}"
            )
        if len(crops) != len(labels):
            raise TrainingError(f"got {len(crops)} crops but {len(labels)} labels")
        self.options = options
        self.device = torch.device(device)
        self.net = net.to(self.device)
        if options.train_from is not None:
            freeze_before(self.net, options.train_from)
        self.scale = scale
        self.crops = crops
        self.labels = np.asarray(labels, dtype=np.int64)
        self.pairs = pairs
        self.checkpoint = checkpoint
        self.sampler = PKSampler(
            self.labels, options.people_per_batch, options.faces_per_person,
            seed=options.seed, batches_per_epoch=options.steps_per_epoch, groups=groups,
        )
        self.steps_per_epoch = len(self.sampler)
        self.total_steps = self.steps_per_epoch * options.epochs
        self.amp = self.device.type == "cuda" and options.fp16
        self.optimiser = _optimiser(net, options)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimiser, _schedule(options, self.total_steps)
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.augment = Augment() if options.augment else None
        self.generator = torch.Generator().manual_seed(options.seed)
        self.epoch = 0  # epochs finished
        self.step = 0  # steps finished
        self.history: list[EpochResult] = []
        self.baseline: dict[str, float | int] = {}

    # -- the loop ------------------------------------------------------------

    def run(self, cancel: CancelToken | None = None) -> Iterator[Progress]:
        """Train the remaining epochs, yielding after each step and each evaluation."""
        if self.checkpoint is not None and self.checkpoint.is_file():
            self.load_checkpoint(self.checkpoint)
        if self.pairs is not None and not self.baseline:
            yield Progress("evaluate", 0, 1)
            self.baseline = self.evaluate().as_dict()
        while self.epoch < self.options.epochs:
            self.sampler.set_epoch(self.epoch)
            started, losses, actives, images = time.perf_counter(), [], [], 0
            for batch in self.sampler:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled(
                        f"training stopped at step {self.step}; the last checkpoint is kept"
                        + (f" in {self.checkpoint}" if self.checkpoint else "")
                    )
                loss, active = self.train_step(batch)
                losses.append(loss)
                actives.append(active)
                images += len(batch)
                self.step += 1
                yield Progress("train", self.step, self.total_steps, {
                    "epoch": self.epoch + 1, "loss": round(loss, 4),
                    "lr": float(self.scheduler.get_last_lr()[0]),
                })
            seconds = time.perf_counter() - started
            result = EpochResult(self.epoch + 1, float(np.mean(losses)), float(np.mean(actives)),
                                 seconds, images / max(seconds, 1e-9))
            if self.pairs is not None:
                yield Progress("evaluate", 0, 1, {"epoch": self.epoch + 1})
                result.pairs = self.evaluate().as_dict()
            self.history.append(result)
            self.epoch += 1
            if self.checkpoint is not None:
                self.save_checkpoint(self.checkpoint)

    def train_step(self, batch: list[int]) -> tuple[float, float]:
        """One optimiser step on one P x K batch; (triplet loss, share of active triplets)."""
        self.net.train()
        if self.options.freeze_batchnorm:
            for module in self.net.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        x = self._pixels(batch)
        if self.augment is not None:
            x = self.augment(x, self.generator)
        labels = torch.from_numpy(self.labels[batch]).to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            embeddings = self.net(self.scale(x))
        result = triplet_loss(embeddings.float(), labels, margin=self.options.margin,
                              mining=self.options.mining)
        self.optimiser.zero_grad(set_to_none=True)
        self.scaler.scale(result.loss).backward()
        self.scaler.step(self.optimiser)
        self.scaler.update()
        self.scheduler.step()
        return result.loss.item(), result.active / max(result.triplets, 1)

    def embed(self, indices: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """L2-normalised embeddings of some crops, without augmentation."""
        self.net.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(indices), batch_size):
                x = self._pixels(indices[start : start + batch_size])
                with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
                    y = self.net(self.scale(x))
                out.append(nn.functional.normalize(y.float(), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def evaluate(self) -> PairScore:
        """Verification accuracy on the pairs given to the trainer."""
        if self.pairs is None:
            raise TrainingError("no verification pairs were given to evaluate on")
        wanted = np.unique(np.concatenate([self.pairs.first, self.pairs.second]))
        vectors = self.embed(wanted)
        row = {int(i): r for r, i in enumerate(wanted)}
        a = vectors[[row[int(i)] for i in self.pairs.first]]
        b = vectors[[row[int(i)] for i in self.pairs.second]]
        return score_pairs(((a - b) ** 2).sum(1), self.pairs.same, self.pairs.folds)

    # -- checkpoints -----------------------------------------------------------

    def save_checkpoint(self, path: Path) -> None:
        """Everything needed to resume, written atomically."""
        state = {
            "format": CHECKPOINT_FORMAT,
            "options": asdict(self.options),
            "epoch": self.epoch,
            "step": self.step,
            "model": self.net.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "history": [asdict(h) for h in self.history],
            "baseline": self.baseline,
        }
        atomic_save(state, path)

    def load_checkpoint(self, path: Path) -> None:
        try:
            state = torch.load(path, map_location=self.device, weights_only=True)
        except (OSError, RuntimeError, EOFError) as exc:
            raise TrainingError(
                f"cannot read the checkpoint {path}: {exc}; delete it to start over"
            ) from exc
        # Only the number of epochs may change between runs: a resumed run may go on longer.
        saved = {k: v for k, v in dict(state.get("options", {})).items() if k != "epochs"}
        wanted = {k: v for k, v in asdict(self.options).items() if k != "epochs"}
        if state.get("format") != CHECKPOINT_FORMAT or saved != wanted:
            raise TrainingError(
                f"the checkpoint {path} was written with other options ({saved}); resume with "
                "the same options, or pass another --out folder to start over"
            )
        self.net.load_state_dict(state["model"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"].cpu())
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = [EpochResult(**h) for h in state["history"]]
        self.baseline = dict(state["baseline"])

    # -- helpers ---------------------------------------------------------------

    def _pixels(self, indices: list[int] | np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(np.ascontiguousarray(self.crops[np.asarray(indices)]))
        x = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        if self.device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def resolve_device(device: str) -> torch.device:
    """``auto`` means CUDA when a GPU is there, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(
            f"--device {device} was asked for, but torch sees no CUDA GPU here; "
            "use --device cpu or auto"
        )
    return torch.device(device)


def freeze_before(net: nn.Module, module: str) -> int:
    """Freeze the parameters registered before ``module`` (and train the rest); how many froze.

    Registration order is the order of the forward pass for the embedders
    here (``features`` first, the head last), so this freezes the early layers.
    """
    names = [name for name, _ in net.named_parameters()]
    first = next((i for i, n in enumerate(names) if n.startswith(f"{module}.")), None)
    if first is None:
        blocks = [n for n, m in net.named_modules()
                  if n and n.count(".") < 2 and any(True for _ in m.parameters())]
        raise TrainingError(
            f"--train-from {module!r} names no module with parameters in this network; "
            f"use one of {blocks}"
        )
    for i, parameter in enumerate(net.parameters()):
        parameter.requires_grad_(i >= first)
    return first


def atomic_save(state: object, path: Path) -> None:
    """``torch.save`` next to ``path``, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
        Path(tmp).replace(path)
    finally:
        if Path(tmp).exists():
            Path(tmp).unlink()


def _optimiser(net: nn.Module, options: TrainOptions) -> torch.optim.Optimizer:
    params = [p for p in net.parameters() if p.requires_grad]
    if options.optimiser == "adagrad":
        return torch.optim.Adagrad(params, lr=options.lr, weight_decay=options.weight_decay)
    return torch.optim.AdamW(params, lr=options.lr, weight_decay=options.weight_decay)


def _schedule(options: TrainOptions, total: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine to zero, steps of x0.1 at 60% and 85%, or constant."""
    warmup = min(options.warmup_steps, max(total // 5, 0))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if options.schedule == "constant":
            return 1.0
        progress = (step - warmup) / max(total - warmup, 1)
        if options.schedule == "step":
            return 1.0 if progress < 0.6 else 0.1 if progress < 0.85 else 0.01
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor
