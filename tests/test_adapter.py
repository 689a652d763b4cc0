"""The projection head learned from the user's facts, on small real catalogs."""

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.catalog import AssignedBy, Catalog, PhotoStatus
from engine.errors import Cancelled
from engine.progress import CancelToken, Progress
from engine.train.adapter import (
    MIN_NEW_FACTS,
    AdapterOptions,
    ProjectionHead,
    adapt_embeddings,
    adapter_status,
    reset_adapter,
    retrain_if_needed,
    set_adapter_enabled,
    train_adapter,
)
from engine.train.errors import TrainingError

MODEL = "sface"
DIM = 16
FAST = AdapterOptions(steps=60, people_per_batch=4, faces_per_person=4, lr=1e-2,
                      identity_weight=0.01)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        yield cat


def _person(cat: Catalog, name: str | None = None) -> int:
    with cat.transaction():
        cur = cat._conn.execute(
            "INSERT INTO persons(name, created_at) VALUES (?, ?)", (name, time.time())
        )
    return int(cur.lastrowid or 0)


def _face(cat: Catalog, vector: np.ndarray, person: int | None = None,
          by: AssignedBy | None = None) -> int:
    root = cat.root_id("/photos")
    photo = cat.add_photo(root, f"{time.perf_counter_ns()}.jpg".encode(), size=1, mtime_ns=1,
                          sha256=None, width=100, height=100, status=PhotoStatus.OK)
    face = cat.add_face(photo, (0, 0, 10, 10), None, score=1, quality=1, sharpness=1,
                        detector="test")
    cat.put_embedding(face, MODEL, vector / np.linalg.norm(vector))
    if person is not None:
        with cat.transaction():
            cat._conn.execute("UPDATE faces SET person_id = ?, assigned_by = ? WHERE id = ?",
                              (person, by, face))
    return face


def _people(cat: Catalog, n_people: int = 4, faces: int = 6, spread: float = 0.9,
            seed: int = 0) -> dict[int, list[int]]:
    """Confirmed faces scattered around one centre per person."""
    rng = np.random.default_rng(seed)
    out: dict[int, list[int]] = {}
    for i in range(n_people):
        person = _person(cat, f"P{i}")
        centre = rng.normal(size=DIM)
        centre /= np.linalg.norm(centre)
        out[person] = [
            _face(cat, centre + spread * rng.normal(size=DIM) / np.sqrt(DIM), person,
                  AssignedBy.USER)
            for _ in range(faces)
        ]
    return out


def _drain(work: Iterator[Progress]) -> list[Progress]:
    return list(work)


def _nn_accuracy(vectors: np.ndarray, labels: np.ndarray) -> float:
    d = ((vectors[:, None] - vectors[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((labels[d.argmin(1)] == labels).mean())


def test_embeddings_pass_unchanged_when_no_adapter_exists(catalog: Catalog) -> None:
    vectors = np.random.default_rng(0).normal(size=(5, DIM)).astype(np.float32)
    assert adapt_embeddings(catalog, MODEL, vectors) is vectors


def test_a_new_head_is_the_identity_map() -> None:
    x = torch.nn.functional.normalize(torch.randn(7, DIM), dim=1)
    assert torch.allclose(ProjectionHead(DIM)(x), x, atol=1e-6)


def test_training_on_confirmed_faces_brings_each_persons_faces_together(
    catalog: Catalog,
) -> None:
    people = _people(catalog)
    ids = [f for faces in people.values() for f in faces]
    labels = np.array([p for p, faces in people.items() for _ in faces])
    _, raw = catalog.embeddings(MODEL, ids)
    reports = _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    assert reports[-1].done == reports[-1].total == FAST.steps
    adapted = adapt_embeddings(catalog, MODEL, raw)
    assert np.allclose(np.linalg.norm(adapted, axis=1), 1.0, atol=1e-5)
    status = adapter_status(catalog, MODEL)
    assert status.exists and status.enabled
    assert status.facts == len(ids)
    assert float(status.metrics["loss_after"]) < float(status.metrics["loss_before"])
    assert _nn_accuracy(adapted, labels) >= _nn_accuracy(raw, labels)


def test_a_rejected_face_moves_away_from_the_person_it_is_not(catalog: Catalog) -> None:
    people = _people(catalog, spread=0.5)
    target = next(iter(people))
    _, target_vectors = catalog.embeddings(MODEL, people[target])
    lookalike = _face(catalog, target_vectors.mean(0) + 0.05)
    with catalog.transaction():
        catalog._conn.execute("INSERT INTO rejections(face_id, person_id, created_at)"
                              " VALUES (?, ?, ?)", (lookalike, target, time.time()))
    _, before = catalog.embeddings(MODEL, [lookalike])
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    after_face = adapt_embeddings(catalog, MODEL, before)
    after_target = adapt_embeddings(catalog, MODEL, target_vectors)
    dist_before = ((target_vectors - before) ** 2).sum(1).mean()
    dist_after = ((after_target - after_face) ** 2).sum(1).mean()
    assert dist_after > dist_before


def test_a_disabled_adapter_leaves_embeddings_alone(catalog: Catalog) -> None:
    _people(catalog)
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    set_adapter_enabled(catalog, MODEL, False)
    vectors = np.eye(DIM, dtype=np.float32)[:3]
    assert adapt_embeddings(catalog, MODEL, vectors) is vectors
    assert not adapter_status(catalog, MODEL).enabled


def test_reset_forgets_the_head_but_keeps_the_facts(catalog: Catalog) -> None:
    people = _people(catalog)
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    assert reset_adapter(catalog, MODEL)
    assert not adapter_status(catalog, MODEL).exists
    assert not reset_adapter(catalog, MODEL)
    confirmed = sum(face.confirmed for face in catalog.faces())
    assert confirmed == sum(len(f) for f in people.values())


def test_training_with_one_person_says_what_is_missing(catalog: Catalog) -> None:
    _people(catalog, n_people=1)
    with pytest.raises(TrainingError, match="at least two people"):
        _drain(train_adapter(catalog, MODEL, FAST))


def test_training_with_no_facts_says_how_to_make_some(catalog: Catalog) -> None:
    _face(catalog, np.ones(DIM))
    with pytest.raises(TrainingError, match="confirm some faces"):
        _drain(train_adapter(catalog, MODEL, FAST))


def test_automatic_assignments_are_not_facts(catalog: Catalog) -> None:
    person = _person(catalog)
    for _ in range(3):
        _face(catalog, np.ones(DIM), person, AssignedBy.AUTO)
    assert adapter_status(catalog, MODEL).facts_now == 0


def test_retraining_happens_only_once_enough_new_facts_exist(catalog: Catalog) -> None:
    people = _people(catalog, n_people=3, faces=MIN_NEW_FACTS // 3 + 1)
    assert adapter_status(catalog, MODEL).needs_training
    assert _drain(retrain_if_needed(catalog, MODEL, FAST))
    assert not adapter_status(catalog, MODEL).needs_training
    assert _drain(retrain_if_needed(catalog, MODEL, FAST)) == []
    person = next(iter(people))
    for _ in range(MIN_NEW_FACTS):
        _face(catalog, np.ones(DIM) + np.random.default_rng(1).normal(size=DIM), person,
              AssignedBy.USER)
    assert adapter_status(catalog, MODEL).needs_training


def test_a_cancelled_training_keeps_the_previous_head(catalog: Catalog) -> None:
    _people(catalog)
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    created = adapter_status(catalog, MODEL).created_at
    token = CancelToken()
    work = train_adapter(catalog, MODEL, FAST, enable=True, cancel=token)
    next(work)
    token.cancel()
    with pytest.raises(Cancelled):
        _drain(work)
    assert adapter_status(catalog, MODEL).created_at == created


def test_faces_of_a_merged_person_train_as_the_person_they_joined(catalog: Catalog) -> None:
    people = _people(catalog, n_people=3)
    first, second, _ = people
    with catalog.transaction():
        catalog._conn.execute("UPDATE persons SET merged_into = ? WHERE id = ?", (first, second))
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    assert adapter_status(catalog, MODEL).metrics["people"] == 2


def test_an_adapter_for_another_dimension_is_refused_with_a_fix(catalog: Catalog) -> None:
    _people(catalog)
    _drain(train_adapter(catalog, MODEL, FAST, enable=True))
    with pytest.raises(TrainingError, match="adapter reset"):
        adapt_embeddings(catalog, MODEL, np.ones((2, DIM + 1), np.float32))
