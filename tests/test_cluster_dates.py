"""Capture dates as evidence for clustering: faces years apart need more
similarity to be linked directly, and a person's photos across the years
chain through the photos between them.

Synthetic people are built exactly: each year's faces sit around a centre
that turns by a fixed angle a year, so every distance, and so every merge
height, is known before the clustering runs.
"""

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from engine.catalog import Catalog
from engine.people.cluster import (
    ClusterParams,
    build_tree,
    cluster,
    date_penalty,
    date_rule_of,
)
from engine.people.update import AssignIndex, FaceTable, recluster, update_people

_DIM = 128
_YEAR = 365.25 * 86400.0
_BASIS = np.linalg.qr(np.random.default_rng(0).normal(size=(_DIM, _DIM)))[0].T
_PER_YEAR = 3
_SPREAD = 0.2  # each face's squared sine from its year's centre: faces of a year 0.4 apart


def _group_height(angle: float, params: ClusterParams) -> float:
    """The merge height of two years' faces whose centres are ``angle`` apart."""
    norm = (1 - _SPREAD) + _SPREAD / _PER_YEAR  # |mean|^2 of a year's faces
    centres = 2 * norm - 2 * (1 - _SPREAD) * np.cos(angle)
    return float(centres + params.spread_weight * (2 - 2 * norm))


def _angle_for_height(height: float, params: ClusterParams) -> float:
    norm = (1 - _SPREAD) + _SPREAD / _PER_YEAR
    spread = params.spread_weight * (2 - 2 * norm)
    return float(np.arccos((2 * norm + spread - height) / (2 * (1 - _SPREAD))))


def one_person_over(
    years: list[int], per_year_angle: float, person: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(faces, capture dates in seconds) of one person photographed in each
    of ``years`` (counted from 2000), whose look turns ``per_year_angle`` a
    year. Each ``person`` (0-7) has axes of their own, so different people
    are 2 apart, as strangers are."""
    faces, dates = [], []
    axis, across = _BASIS[2 * person], _BASIS[2 * person + 1]
    spare = 16 + 14 * person + 7 * (years[0] != years[-1])  # a direction of its own per face
    for year in years:
        centre = np.cos(per_year_angle * year) * axis + np.sin(per_year_angle * year) * across
        for _ in range(_PER_YEAR):
            faces.append(np.sqrt(1 - _SPREAD) * centre + np.sqrt(_SPREAD) * _BASIS[spare])
            dates.append((2000 + year - 1970) * _YEAR)
            spare += 1
    return np.asarray(faces, dtype=np.float32), np.asarray(dates)


def _drift_for_twelve_years(params: ClusterParams) -> float:
    """A yearly drift that puts photos 12 years apart halfway into the date
    penalty's reach: near enough to merge on distance alone, too far once
    their dates count."""
    height = params.threshold - params.date_penalty / 2
    return _angle_for_height(height, params) / 12


def test_the_date_penalty_grows_with_the_years_between_two_groups() -> None:
    rule = date_rule_of(ClusterParams())
    free, full, most = rule

    def penalty(first_a: float, last_a: float, first_b: float, last_b: float) -> float:
        return float(date_penalty(
            np.array([first_a]), np.array([last_a]), np.array([first_b]), np.array([last_b]), rule
        )[0])

    assert penalty(2000, 2010, 2005, 2020) == 0.0  # overlapping
    assert penalty(2000, 2000, 2000 + free, 2000 + free) == 0.0
    assert 0 < penalty(2000, 2001, 2001 + (free + full) / 2, 2030) < most
    assert penalty(2000, 2000, 2000 + full, 2000 + full) == most
    assert penalty(2000, 2000, 2040, 2040) == most
    assert penalty(np.inf, -np.inf, 2040, 2040) == 0.0  # no date: nothing is known


def test_look_alikes_years_apart_are_not_linked_on_distance_alone() -> None:
    params = ClusterParams()
    drift = _drift_for_twelve_years(params)
    x, dates = one_person_over([0, 12], drift)
    loose = ClusterParams(max_threshold=1.45)
    undated = build_tree(x, params=loose)
    dated = build_tree(x, params=loose, dates=dates)
    # The geometry is what the test says: 12 years apart they merge under the threshold...
    assert np.isclose(undated.height.max(), _group_height(12 * drift, params), atol=1e-4)
    assert undated.height.max() < params.threshold < dated.height.max()
    # ...so without dates they are one person, with them two.
    assert len(set(cluster(x).tolist())) == 1
    labels = cluster(x, dates=dates)
    assert labels[0] != labels[-1]
    assert (labels >= 0).all()


def test_a_person_photographed_every_year_is_chained_through_the_years() -> None:
    drift = _drift_for_twelve_years(ClusterParams())
    x, dates = one_person_over(list(range(13)), drift)
    labels = cluster(x, dates=dates)
    assert len(set(labels.tolist())) == 1 and labels[0] >= 0


def test_faces_without_dates_or_taken_within_a_year_cluster_as_before() -> None:
    drift = _drift_for_twelve_years(ClusterParams())
    x, _ = one_person_over([0, 3, 6, 12], drift)
    rng = np.random.default_rng(3)
    others = rng.normal(size=(40, _DIM))
    x = np.vstack([x, others / np.linalg.norm(others, axis=1, keepdims=True)]).astype(np.float32)
    before = cluster(x)
    assert np.array_equal(cluster(x, dates=np.full(len(x), np.nan)), before)
    within_a_year = (2015 - 1970) * _YEAR + rng.uniform(0, 0.9 * _YEAR, size=len(x))
    assert np.array_equal(cluster(x, dates=within_a_year), before)
    assert np.array_equal(cluster(x, dates=within_a_year, params=ClusterParams(date_penalty=0.0)),
                          before)


def test_a_lone_face_years_away_joins_a_person_only_when_nearer() -> None:
    drift = _drift_for_twelve_years(ClusterParams())
    # Eight people (the library's null distribution), each with six photos of 2012...
    people = [one_person_over([12, 12], drift, person) for person in range(8)]
    # ...and one photo of the first as a child, as far as a face drifts in 12 years.
    child, _ = one_person_over([0], drift)
    x = np.vstack([*(faces for faces, _ in people), child[:1]]).astype(np.float32)
    same_time = np.concatenate([*(dates for _, dates in people), [people[0][1][0]]])
    years_away = same_time.copy()
    years_away[-1] = (2000 - 1970) * _YEAR
    labels = cluster(x, dates=same_time)
    assert labels[-1] == labels[0] >= 0
    assert cluster(x, dates=years_away)[-1] == -1


def _table(vectors: np.ndarray, person: np.ndarray, dates: np.ndarray) -> FaceTable:
    n = len(vectors)
    return FaceTable(
        ids=np.arange(1, n + 1), vectors=vectors, photo=np.arange(n), person=person,
        confirmed=np.zeros(n, dtype=bool), rejected={}, quality=np.ones(n), dates=dates,
    )


def test_after_a_scan_a_face_years_away_joins_a_person_only_when_nearer() -> None:
    params = ClusterParams()
    drift = _drift_for_twelve_years(params)
    known, dates = one_person_over([12, 12], drift)
    new, _ = one_person_over([0], drift)
    table = _table(known, np.zeros(len(known), dtype=np.int64), dates)
    index = AssignIndex.from_table(table, params)
    same_time = np.array([(2012 - 1970) * _YEAR / _YEAR])
    years_away = np.array([(2000 - 1970) * _YEAR / _YEAR])
    near = index.candidates(new[:1], params, years=same_time)[1]
    far = index.candidates(new[:1], params, years=years_away)[1]
    unknown = index.candidates(new[:1], params, years=np.array([np.nan]))[1]
    assert near[0] and unknown[0] and not far[0]
    # A face that joined widens the person's years, so the next one is near again.
    index.add(0, new[0], 99, years_away)
    assert index.candidates(new[1:2], params, years=years_away)[1][0]


def add_face(cat: Catalog, vector: np.ndarray, file_time: float,
             taken: float | None = None) -> int:
    """A photo holding one face of ``vector``; its file's time and, when
    given, the capture time its metadata holds (seconds since 1970)."""
    from engine.catalog.records import PhotoStatus
    from engine.catalog.scans import record_taken

    cat.set_meta("embedder", "sface")
    i = len(cat.photos())
    photo = cat.add_photo(
        cat.root_id(cat.path.parent), f"p{i}.jpg".encode(), size=1,
        mtime_ns=int(file_time * 1e9), sha256=f"{i:064x}", width=100, height=100,
        status=PhotoStatus.OK,
    )
    if taken is not None:
        record_taken(cat, photo, taken)
    face = cat.add_face(photo, (0, 0, 10, 10), None, score=1.0, quality=0.9,
                        sharpness=1.0, detector="test")
    cat.put_embedding(face, "sface", vector)
    return face


def test_the_catalog_weighs_capture_dates_then_file_times(tmp_path: Path) -> None:
    drift = _drift_for_twelve_years(ClusterParams())
    x, dates = one_person_over([0, 12], drift)
    copied = np.full(len(x), dates[0])  # every file copied on one day

    def people_of(catalog: Path, file_times: np.ndarray,
                  taken: np.ndarray | list[None]) -> set[int | None]:
        with Catalog(catalog) as cat:
            for vector, when, metadata in zip(x, file_times, taken, strict=True):
                add_face(cat, vector, when, metadata)
            for _ in recluster(cat):
                pass
            return {f.person_id for f in cat.faces()}

    nothing = [None] * len(x)
    assert len(people_of(tmp_path / "same.sqlite", copied, nothing)) == 1
    assert len(people_of(tmp_path / "file_times.sqlite", dates, nothing)) == 2
    # The metadata's date wins over the file's: copied on one day, taken years apart.
    assert len(people_of(tmp_path / "taken.sqlite", copied, dates)) == 2
    assert len(people_of(tmp_path / "taken_same.sqlite", dates, copied)) == 1


def _grouped_person(
    cat: Catalog,
    known: np.ndarray,
    dates: np.ndarray,
    grouping: Callable[[Catalog], Iterable[object]],
) -> int:
    """Add one person's faces taken at ``dates``, group them, and return the person."""
    first = [add_face(cat, vector, when) for vector, when in zip(known, dates, strict=True)]
    for _ in grouping(cat):
        pass
    person = cat.face(first[0]).person_id
    assert person is not None
    return person


def test_after_a_scan_the_catalog_keeps_a_face_years_away_out(tmp_path: Path) -> None:
    drift = _drift_for_twelve_years(ClusterParams())
    known, dates = one_person_over([12, 12], drift)
    new, new_dates = one_person_over([0], drift)
    with Catalog(tmp_path / "catalog.sqlite") as cat:
        person = _grouped_person(cat, known, dates, update_people)
        same_time = add_face(cat, new[0], dates[0])
        years_away = add_face(cat, new[1], new_dates[1])
        for _ in update_people(cat):
            pass
        assert cat.face(same_time).person_id == person
        assert cat.face(years_away).person_id != person


def test_suggestions_put_a_face_from_years_away_after_one_as_near_from_their_time(
    tmp_path: Path,
) -> None:
    from engine.people.suggest import suggest

    params = ClusterParams()
    drift = _drift_for_twelve_years(params)
    known, dates = one_person_over([12, 12], drift)
    centre = np.cos(12 * drift) * _BASIS[0] + np.sin(12 * drift) * _BASIS[1]

    def apart(distance: float, direction: int) -> np.ndarray:
        """A face this far (squared) from each of the person's faces."""
        along = (2 - distance) / (2 * np.sqrt(1 - _SPREAD))
        return np.asarray(along * centre + np.sqrt(1 - along**2) * _BASIS[direction])

    with Catalog(tmp_path / "catalog.sqlite") as cat:
        person = _grouped_person(cat, known, dates, recluster)
        # Nearer, but taken twelve years before every photo of theirs...
        years_away = add_face(cat, apart(1.2, 120), (2000 - 1970) * _YEAR)
        # ...and a little farther, taken the same year as theirs.
        same_time = add_face(cat, apart(1.2 + params.date_penalty / 2, 121), dates[0])
        order = [s.face_ids for s in suggest(cat, person) if s.kind == "face"]
        assert order[:2] == [[same_time], [years_away]]
