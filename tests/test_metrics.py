"""BCubed, pairwise and verification scores, checked against hand-computed values."""

import pytest

from engine.metrics import MetricsError, cluster_scores, verification_accuracy


def test_a_perfect_clustering_scores_one() -> None:
    s = cluster_scores([0, 0, 1, 1, 2], ["a", "a", "b", "b", "c"])
    assert s.bcubed_f1 == pytest.approx(1.0)
    assert s.pairwise_f1 == pytest.approx(1.0)
    assert s.clusters == 2 and s.identities == 3


def test_one_big_cluster_has_full_recall_and_low_precision() -> None:
    s = cluster_scores([0, 0, 0, 0], ["a", "a", "b", "b"])
    assert s.bcubed_recall == pytest.approx(1.0)
    assert s.bcubed_precision == pytest.approx(0.5)
    assert s.pairwise_precision == pytest.approx(2 / 6)
    assert s.pairwise_recall == pytest.approx(1.0)


def test_unassigned_faces_count_as_clusters_of_their_own() -> None:
    s = cluster_scores([-1, -1, 0, 0], ["a", "a", "b", "b"])
    assert s.bcubed_precision == pytest.approx(1.0)
    assert s.bcubed_recall == pytest.approx(0.75)
    assert s.unassigned_fraction == pytest.approx(0.5)
    assert s.pairwise_recall == pytest.approx(0.5)


def test_verification_picks_the_threshold_on_the_other_folds() -> None:
    distances = [0.2, 0.3, 1.5, 1.6] * 3
    same = [True, True, False, False] * 3
    folds = [0] * 4 + [1] * 4 + [2] * 4
    accuracy, spread = verification_accuracy(distances, same, folds)
    assert accuracy == pytest.approx(1.0)
    assert spread == pytest.approx(0.0)


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(MetricsError, match="one predicted label per true label"):
        cluster_scores([0, 1], ["a"])
