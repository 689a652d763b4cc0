"""Context distance: two faces compared through the library's faces around them."""

import numpy as np
import pytest

from engine.people.context import CONTEXT_REACH, Context, ContextError, ContextParams


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _reference(x: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """Zhong et al.'s k-reciprocal Jaccard distance, dense and loop by loop as published."""
    d = np.maximum(0.0, 2.0 - 2.0 * x.astype(np.float64) @ x.T)
    np.fill_diagonal(d, 0.0)
    n = len(x)
    order = np.argsort(d, axis=1, kind="stable")
    v = np.zeros((n, n))
    half = round(k1 / 2)
    for i in range(n):
        forward = order[i, : k1 + 1]
        recip = forward[np.any(order[forward, : k1 + 1] == i, axis=1)]
        grown = recip
        for c in recip:
            cf = order[c, : half + 1]
            cr = cf[np.any(order[cf, : half + 1] == c, axis=1)]
            if len(np.intersect1d(cr, recip)) > 2 / 3 * len(cr):
                grown = np.append(grown, cr)
        grown = np.unique(grown)
        w = np.exp(-d[i, grown])
        v[i, grown] = w / w.sum()
    v = np.stack([v[order[i, :k2]].mean(axis=0) for i in range(n)])
    jac = np.empty((n, n))
    for i in range(n):
        shared = np.minimum(v[i], v).sum(axis=1)
        jac[i] = 1 - shared / (2 - shared)
    return jac


def test_matches_the_published_method_on_random_faces():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 16))
    x = _unit(np.repeat(centres, 10, axis=0) + 0.6 * rng.normal(size=(60, 16)))
    context = Context(x, ContextParams(neighbours=8, expansion=4))
    a, b = np.triu_indices(len(x), 1)
    expected = _reference(x, 8, 4)[a, b]
    np.testing.assert_allclose(context.jaccard(a, b), expected, atol=1e-6)


def profile_library() -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Faces of three people, and two pairs: (A's profile, A) and (S, T).

    Person A: eight photos around one point, and a profile lying farther
    from them than two strangers (S and T) lie from each other; nothing else
    is near the profile, so its neighbourhood is A's photos.
    """
    rng = np.random.default_rng(0)
    dim = 64
    axes = np.eye(dim)
    a = _unit(axes[0] + 0.25 * rng.normal(size=(8, dim)) / np.sqrt(dim))
    profile = _unit(axes[0] + 1.15 * axes[1])
    s = _unit(axes[2] + 0.25 * rng.normal(size=(8, dim)) / np.sqrt(dim))
    t = _unit(axes[2] + 1.0 * axes[3] + 0.25 * rng.normal(size=(8, dim)) / np.sqrt(dim))
    return np.concatenate([a, profile[None], s, t]), (8, 0), (9, 17)


def album_with_profiles() -> np.ndarray:
    """A library like a family album's: 12 people of 10 photos, then 3 profiles of person 0.

    Person 3 looks like person 2 (rows 20-29 and 30-39 lie nearer each other
    than the profiles, rows 120-122, lie to person 0's photos, rows 0-9).
    """
    rng = np.random.default_rng(0)
    dim = 64
    axes = np.eye(dim)
    spread = 0.3 / np.sqrt(dim)
    people = [_unit(axes[i] + spread * rng.normal(size=(10, dim))) for i in range(12)]
    people[3] = _unit(axes[2] + axes[20] + spread * rng.normal(size=(10, dim)))
    profiles = _unit(np.array([
        axes[0] + 1.5 * axes[30 + j] + 0.1 / np.sqrt(dim) * rng.normal(size=dim)
        for j in range(3)
    ]))
    return np.concatenate([*people, profiles])


def test_in_a_family_album_profiles_are_nearer_their_person_than_look_alikes():
    x = album_with_profiles()
    profiles, own, s, t = np.arange(120, 123), np.arange(3), np.arange(20, 23), np.arange(30, 33)
    plain_own = np.sum((x[profiles] - x[own]) ** 2, axis=1)
    plain_look_alikes = np.sum((x[s] - x[t]) ** 2, axis=1)
    assert plain_own.min() > plain_look_alikes.max()
    context = Context(x)  # the defaults, as the engine uses them
    assert context.distances(profiles, own).max() < context.distances(s, t).min()


def test_a_profile_among_its_person_is_nearer_than_a_closer_pair_of_strangers():
    x, (p, a0), (s0, t0) = profile_library()
    plain = lambda i, j: float(np.sum((x[i] - x[j]) ** 2))  # noqa: E731
    assert plain(p, a0) > plain(s0, t0), "the profile must be the farther pair on its own"
    context = Context(x, ContextParams(neighbours=6, expansion=3))
    own, strangers = context.distances(np.array([p, s0]), np.array([a0, t0]))
    assert own < strangers


def test_context_distance_blends_the_pair_distance_in_squared_units():
    rng = np.random.default_rng(1)
    x = _unit(rng.normal(size=(30, 8)))
    a, b = np.arange(10), np.arange(10, 20)
    jac = Context(x, ContextParams(neighbours=5, weight=0.0)).distances(a, b)
    both = Context(x, ContextParams(neighbours=5, weight=0.3)).distances(a, b)
    plain = np.sum((x[a] - x[b]) ** 2, axis=1)
    np.testing.assert_allclose(both, 0.7 * jac + 0.3 * plain, rtol=1e-6)
    assert jac.min() >= 0 and jac.max() <= 4.0
    same = Context(x, ContextParams(neighbours=5)).distances(a, a)
    np.testing.assert_allclose(same, 0.0, atol=1e-9)


def test_tiny_libraries_and_bad_input():
    assert len(Context(np.zeros((0, 4), np.float32))) == 0
    one = Context(_unit(np.ones((1, 4))))
    assert one.distances(np.array([0]), np.array([0]))[0] == pytest.approx(0.0)
    two = Context(_unit(np.array([[1.0, 0.0], [0.0, 1.0]])))
    assert two.distances(np.array([0]), np.array([1]))[0] > 0
    with pytest.raises(ContextError):
        Context(np.full((3, 4), np.nan))
    with pytest.raises(ContextError):
        two.distances(np.array([0]), np.array([2]))
    with pytest.raises(ContextError):
        two.distances(np.array([0, 1]), np.array([1]))
    with pytest.raises(ContextError):
        ContextParams(weight=1.5)


def test_a_pair_sharing_nothing_is_within_reach_exactly_as_far_as_its_distance_alone():
    params = ContextParams()
    threshold = 1.45
    plain = np.array([1.40, 1.50, 1.50, threshold + CONTEXT_REACH + 0.05])
    jaccard = np.array([1.0, 1.0, 0.9, 0.0])
    near = params.within_reach(params.blend(jaccard, plain), plain, threshold)
    # Nothing shared: the threshold alone. Shared neighbours: a little farther,
    # never as far as strangers lie, however much is shared.
    assert near.tolist() == [True, False, True, False]
