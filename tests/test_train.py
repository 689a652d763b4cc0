"""The training loop on the CPU: a tiny network on generated faces, and the pairs scoring."""

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from engine.errors import Cancelled
from engine.progress import CancelToken
from engine.train.augment import Augment
from engine.train.errors import TrainingError
from engine.train.pairs import read_pairs, score_pairs
from engine.train.trainer import PairSet, Trainer, TrainOptions

SIDE = 24


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyEmbedder(nn.Module):
    """Features then a head, normalised at the end, like the real embedders."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 16, 3, 2, 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )
        self.head = nn.Linear(64, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.head(self.features(x)), dim=1)


def _faces(people: int, per_person: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each 'person' is a smooth colour pattern; each photo of them adds noise."""
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for person in range(people):
        base = rng.uniform(40, 215, size=(4, 4, 3))
        pattern = np.kron(base, np.ones((SIDE // 4, SIDE // 4, 1)))
        for _ in range(per_person):
            photo = pattern * rng.uniform(0.8, 1.2) + rng.normal(0, 25, size=pattern.shape)
            crops.append(np.clip(photo, 0, 255).astype(np.uint8))
            labels.append(person)
    return np.stack(crops), np.array(labels)


def _held_out_pairs(labels: np.ndarray, offset: int) -> PairSet:
    rng = np.random.default_rng(5)
    first, second, same = [], [], []
    for _ in range(120):
        i, j = rng.choice(len(labels), size=2, replace=False)
        first.append(i + offset)
        second.append(j + offset)
        same.append(labels[i] == labels[j])
    for person in np.unique(labels):  # make sure half the pairs are the same person
        idx = np.flatnonzero(labels == person)
        for a, b in itertools.pairwise(idx):
            first.append(a + offset)
            second.append(b + offset)
            same.append(True)
    return PairSet(np.array(first), np.array(second), np.array(same), folds=5)


def _trainer(tmp_path: Path, epochs: int = 4, checkpoint: bool = False) -> Trainer:
    torch.manual_seed(0)
    train_crops, train_labels = _faces(12, 6, seed=1)
    test_crops, test_labels = _faces(6, 6, seed=2)
    crops = np.concatenate([train_crops, test_crops])
    # held-out faces carry no label, so the sampler never draws them
    labels = np.concatenate([train_labels, np.full(len(test_labels), -1)])
    options = TrainOptions(epochs=epochs, people_per_batch=6, faces_per_person=4,
                           steps_per_epoch=8, lr=3e-3, warmup_steps=2, freeze_batchnorm=False)
    return Trainer(
        TinyEmbedder(), lambda x: (x - 127.5) / 128.0, crops, labels, options,
        checkpoint=tmp_path / "checkpoint.pt" if checkpoint else None,
        pairs=_held_out_pairs(test_labels, len(train_crops)),
    )


def test_a_tiny_run_lowers_the_loss_and_keeps_held_out_accuracy(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path)
    reports = list(trainer.run())
    assert reports[-1].stage == "evaluate" or reports[-1].done == trainer.total_steps
    assert trainer.step == trainer.total_steps == 32
    losses = [h.loss for h in trainer.history]
    assert losses[-1] < losses[0]
    assert trainer.history[-1].pairs["accuracy"] >= trainer.baseline["accuracy"]


def test_training_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    first = _trainer(tmp_path, epochs=1, checkpoint=True)
    list(first.run())
    assert (tmp_path / "checkpoint.pt").is_file()
    second = _trainer(tmp_path, epochs=2, checkpoint=True)
    reports = [r for r in second.run() if r.stage == "train"]
    assert reports[0].done == first.step + 1  # went on from the next step
    assert second.epoch == 2 and len(second.history) == 2
    assert second.history[0].loss == first.history[0].loss


def test_a_checkpoint_of_other_options_is_refused(tmp_path: Path) -> None:
    list(_trainer(tmp_path, epochs=1, checkpoint=True).run())
    other = _trainer(tmp_path, epochs=1, checkpoint=True)
    other.options = TrainOptions(epochs=1, margin=0.5)
    with pytest.raises(TrainingError, match="other options"):
        list(other.run())


def test_a_cancelled_run_stops_between_steps(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, epochs=1)
    token = CancelToken()
    work = trainer.run(token)
    for report in work:
        if report.stage == "train":
            token.cancel()
            break
    with pytest.raises(Cancelled):
        next(work)
    assert trainer.step == 1


def test_unknown_options_are_named_in_the_error() -> None:
    with pytest.raises(TrainingError, match="adagrad"):
        TrainOptions(optimiser="sgd").check()


def test_train_from_leaves_the_early_layers_as_they_were(tmp_path: Path) -> None:
    crops, labels = _faces(12, 6, seed=1)
    net = TinyEmbedder()
    trainer = Trainer(
        net, lambda x: (x - 127.5) / 128.0, crops, labels,
        TrainOptions(epochs=1, people_per_batch=6, faces_per_person=4, steps_per_epoch=4,
                     lr=3e-3, warmup_steps=1, train_from="head"),
    )
    features = {k: v.clone() for k, v in net.features.state_dict().items()}
    head = net.head.weight.detach().clone()
    list(trainer.run())
    after = net.features.state_dict()
    assert all(torch.equal(features[k], after[k]) for k in features)
    assert not torch.equal(head, net.head.weight)


def test_train_from_an_unknown_module_names_the_ones_there() -> None:
    crops, labels = _faces(3, 2, seed=0)
    with pytest.raises(TrainingError, match=r"'features.0'.*'head'"):
        Trainer(TinyEmbedder(), lambda x: x, crops, labels,
                TrainOptions(epochs=1, people_per_batch=3, faces_per_person=2,
                             train_from="trunk"))


def test_augment_keeps_shape_and_pixel_range() -> None:
    x = torch.rand(4, 3, SIDE, SIDE) * 255
    y = Augment()(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    assert float(y.min()) >= 0 and float(y.max()) <= 255
    assert not torch.equal(x, y)


def test_pair_accuracy_is_perfect_when_distances_separate_the_pairs() -> None:
    same = np.array([True] * 10 + [False] * 10)
    distances = np.where(same, 0.3, 1.5) + np.linspace(0, 0.1, 20)
    score = score_pairs(distances, same, folds=5)
    assert score.accuracy == 1.0
    assert 0.4 < score.threshold < 1.5


def test_pair_accuracy_is_half_when_distances_say_nothing() -> None:
    same = np.array([True, False] * 50)
    score = score_pairs(np.ones(100), same, folds=10)
    assert score.accuracy == pytest.approx(0.5, abs=0.1)


def test_lfw_pairs_file_is_read_into_photo_paths(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("2\t1\nAbel_Pacheco\t1\t4\nAmy\t2\tBob_Smith\t10\n")
    pairs, folds = read_pairs(path)
    assert folds == 2
    assert pairs[0].first == "Abel_Pacheco/Abel_Pacheco_0001.jpg"
    assert pairs[0].second == "Abel_Pacheco/Abel_Pacheco_0004.jpg" and pairs[0].same
    assert pairs[1].second == "Bob_Smith/Bob_Smith_0010.jpg" and not pairs[1].same


def test_a_malformed_pairs_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text("Abel_Pacheco\t1\t4\nnonsense\n")
    with pytest.raises(TrainingError, match=r"pairs.txt:2"):
        read_pairs(path)


def test_pair_folds_mix_same_and_different_pairs_whatever_the_file_order() -> None:
    # all same-person pairs first, as in one LFW fold: contiguous folds would hold
    # one kind only and every threshold would be chosen on the wrong kind
    same = np.array([True] * 50 + [False] * 50)
    rng = np.random.default_rng(0)
    distances = np.concatenate([rng.permutation(np.linspace(0.2, 1.0, 50)),
                                rng.permutation(np.linspace(0.8, 1.6, 50))])
    # balanced folds score 0.84 here; folds of one kind each would score 0.74
    assert score_pairs(distances, same, folds=2).accuracy > 0.8


def test_crops_turned_past_the_profile_angle_form_the_profile_group() -> None:
    from engine.train.crops import CropSet

    crops = np.zeros((3, SIDE, SIDE, 3), np.uint8)
    labels = np.array([0, 0, 1])
    turned = CropSet(crops, labels, ["a", "b"], ["a/1", "a/2", "b/1"], [],
                     np.array([4.0, 58.0, 20.0]))
    assert turned.pose_groups().tolist() == [0, 1, 0]
    old = CropSet(crops, labels, ["a", "b"], ["a/1", "a/2", "b/1"], [])
    with pytest.raises(TrainingError, match="delete it"):
        old.pose_groups()


def test_training_folders_take_stills_and_leave_videos_out(tmp_path: Path) -> None:
    from engine.train.crops import _is_still

    assert _is_still("a.jpg") and _is_still("b.DNG") and _is_still("c.heic")
    assert not _is_still("d.mp4") and not _is_still("e.MOV") and not _is_still("notes.txt")
