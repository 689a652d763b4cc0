"""A user's story against a real catalog: every decision survives every later step."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import engine.people as people
from engine.catalog import Catalog
from engine.catalog.records import PhotoStatus
from engine.errors import NotFoundError

DIM = 128


class Album:
    """A catalog filled with synthetic faces around chosen identity centres."""

    def __init__(self, path: Path, seed: int = 7) -> None:
        self.cat = Catalog(path / "catalog.sqlite")
        self.cat.set_meta("embedder", "sface")
        self.root = self.cat.root_id(path)
        self.rng = np.random.default_rng(seed)
        self.photos = 0
        self.centres: dict[str, np.ndarray] = {}

    def centre(self, name: str, near: str | None = None, distance: float = 0.0) -> None:
        """A new identity; ``near`` places it at a squared ``distance`` from another."""
        v = self.rng.normal(size=DIM)
        if near is not None:
            base = self.centres[near]
            v -= (v @ base) * base
            v /= np.linalg.norm(v)
            # |base - c|^2 = 2 - 2 cos  =>  cos = 1 - distance / 2
            cos = 1 - distance / 2
            v = cos * base + np.sqrt(1 - cos * cos) * v
        self.centres[name] = v / np.linalg.norm(v)

    def vector(self, name: str) -> np.ndarray:
        v = self.centres[name] + self.rng.normal(size=DIM) * 0.05
        return v / np.linalg.norm(v)

    def photo(self, *names: str, quality: float | None = None) -> list[int]:
        """One photo holding one face of each named identity; returns the face ids."""
        self.photos += 1
        photo_id = self.cat.add_photo(
            self.root, f"photo{self.photos:04d}.jpg".encode(), size=1, mtime_ns=1,
            sha256=f"{self.photos:064x}", width=100, height=100, status=PhotoStatus.OK,
        )
        faces = []
        for i, name in enumerate(names):
            face = self.cat.add_face(
                photo_id, (10.0 * i, 0, 10, 10), None, score=1.0,
                quality=0.5 + 0.01 * i if quality is None else quality,
                sharpness=1.0, detector="test",
            )
            self.cat.put_embedding(face, "sface", self.vector(name))
            faces.append(face)
        return faces

    def faces_of(self, name: str, count: int) -> list[int]:
        return [self.photo(name)[0] for _ in range(count)]

    def person_of(self, face_id: int) -> int | None:
        return self.cat.face(face_id).person_id


def run(work: Iterator[object]) -> None:
    for _ in work:
        pass


@pytest.fixture
def album(tmp_path: Path) -> Iterator[Album]:
    a = Album(tmp_path)
    yield a
    a.cat.close()


def by_name(cat: Catalog) -> dict[str, people.PersonSummary]:
    return {p.name: p for p in people.people(cat, include_hidden=True) if p.name}


def test_a_users_story_keeps_every_fact_through_rescan_recluster_undo_and_redo(
    album: Album,
) -> None:
    album.centre("anna")
    album.centre("ben")
    album.centre("bea", near="ben", distance=0.55)  # a sibling: clustered with Ben at first
    album.centre("cara_young")
    album.centre("cara_old")
    for name in ("stranger1", "stranger2", "stranger3"):
        album.centre(name)
    anna = album.faces_of("anna", 8)
    ben = album.faces_of("ben", 8)
    bea = album.faces_of("bea", 4)
    young = album.faces_of("cara_young", 5)
    old = album.faces_of("cara_old", 5)
    strangers = [album.photo(s)[0] for s in ("stranger1", "stranger2", "stranger3")]
    run(people.update_people(album.cat))

    # The sibling was glued to Ben, the strangers were left alone.
    assert album.person_of(bea[0]) == album.person_of(ben[0])
    assert all(album.person_of(f) is None for f in strangers)

    people.name_person(album.cat, album.person_of(anna[0]), "Anna")
    people.name_person(album.cat, album.person_of(ben[0]), "Ben")
    bea_id = people.split_faces(album.cat, bea)
    people.name_person(album.cat, bea_id, "Bea")
    people.merge_people(album.cat, [album.person_of(old[0])], album.person_of(young[0]))
    people.name_person(album.cat, album.person_of(young[0]), "Cara")
    wrong = anna[-1]
    people.reject_faces(album.cat, [wrong], album.person_of(anna[0]))
    people.hide_person(album.cat, album.person_of(ben[0]))

    # Rescan: new photos of known people, a new person, a new stranger.
    new_anna = album.faces_of("anna", 3)
    new_bea = album.faces_of("bea", 2)
    album.centre("dan")
    dan = album.faces_of("dan", 3)
    album.centre("stranger4")
    lone = album.photo("stranger4")[0]
    run(people.update_people(album.cat))

    def facts_hold() -> None:
        named = by_name(album.cat)
        assert set(named) == {"Anna", "Ben", "Bea", "Cara"}
        assert {album.person_of(f) for f in anna[:-1] + new_anna} == {named["Anna"].id}
        assert {album.person_of(f) for f in ben} == {named["Ben"].id}
        assert {album.person_of(f) for f in bea + new_bea} == {named["Bea"].id}
        assert {album.person_of(f) for f in young + old} == {named["Cara"].id}
        assert album.person_of(wrong) != named["Anna"].id
        assert named["Ben"].hidden
        assert "Ben" not in {p.name for p in people.people(album.cat)}
        dan_people = {album.person_of(f) for f in dan}
        assert len(dan_people) == 1 and None not in dan_people
        assert all(album.person_of(f) is None for f in [*strangers, lone])

    facts_hold()
    run(people.recluster(album.cat))
    facts_hold()
    run(people.recluster(album.cat, strictness=0.9))
    facts_hold()
    run(people.recluster(album.cat, strictness=0.1))
    facts_hold()

    last = people.undo(album.cat)
    assert last is not None and last.kind == "hide"
    assert not by_name(album.cat)["Ben"].hidden
    assert people.redo(album.cat) is not None
    facts_hold()


def test_undo_of_a_split_puts_the_faces_back_and_redo_moves_them_again(album: Album) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 6)
    run(people.update_people(album.cat))
    anna = album.person_of(faces[0])
    moved = people.split_faces(album.cat, faces[:2])
    assert {album.person_of(f) for f in faces[:2]} == {moved}
    people.undo(album.cat)
    assert {album.person_of(f) for f in faces} == {anna}
    assert album.cat.face(faces[0]).assigned_by == "auto"
    assert people.rejected_faces(album.cat, anna) == []
    people.redo(album.cat)
    assert {album.person_of(f) for f in faces[:2]} == {moved}
    assert people.rejected_faces(album.cat, anna) == sorted(faces[:2])


def test_a_new_decision_ends_the_redo_branch(album: Album) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 3)
    run(people.update_people(album.cat))
    person = album.person_of(faces[0])
    people.name_person(album.cat, person, "Anna")
    people.undo(album.cat)
    people.name_person(album.cat, person, "Annie")
    assert people.redo(album.cat) is None
    assert album.cat.person(person).name == "Annie"
    assert [o.kind for o in people.history(album.cat)] == ["name"]


def test_two_faces_in_one_photo_never_become_one_person(album: Album) -> None:
    album.centre("anna")
    pair = album.photo("anna", "anna")  # a mirror
    others = album.faces_of("anna", 4)
    run(people.recluster(album.cat))
    assert album.person_of(pair[0]) != album.person_of(pair[1])
    assert album.person_of(others[0]) in {album.person_of(pair[0]), album.person_of(pair[1])}


def test_strangers_seen_once_stay_unassigned(album: Album) -> None:
    for i in range(20):
        album.centre(f"s{i}")
    faces = [album.photo(f"s{i}")[0] for i in range(20)]
    run(people.recluster(album.cat))
    assert people.people(album.cat) == []
    assert {f.id for f in people.unassigned_faces(album.cat)} == set(faces)


def test_a_rejected_face_does_not_rejoin_the_person_on_rescan(album: Album) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 5)
    run(people.update_people(album.cat))
    anna = album.person_of(faces[0])
    people.reject_faces(album.cat, [faces[1]], anna)
    run(people.update_people(album.cat))
    assert album.person_of(faces[1]) is None
    run(people.recluster(album.cat))
    assert album.person_of(faces[1]) != anna


def test_recluster_keeps_ids_so_names_survive(album: Album) -> None:
    for name in ("anna", "ben", "cara"):
        album.centre(name)
    faces = {name: album.faces_of(name, 5) for name in ("anna", "ben", "cara")}
    run(people.recluster(album.cat))
    ids = {name: album.person_of(f[0]) for name, f in faces.items()}
    people.name_person(album.cat, ids["ben"], "Ben")
    run(people.recluster(album.cat))
    assert {name: album.person_of(f[0]) for name, f in faces.items()} == ids
    assert album.cat.person(ids["ben"]).name == "Ben"


def test_new_faces_join_people_incrementally_without_touching_others(album: Album) -> None:
    album.centre("anna")
    album.centre("ben")
    anna = album.faces_of("anna", 4)
    ben = album.faces_of("ben", 4)
    run(people.update_people(album.cat))
    before = {f: album.person_of(f) for f in anna + ben}
    new = album.faces_of("anna", 2)
    run(people.update_people(album.cat))
    assert {album.person_of(f) for f in new} == {before[anna[0]]}
    assert {f: album.person_of(f) for f in anna + ben} == before


def test_preview_count_matches_the_recluster_it_previews(album: Album) -> None:
    for i in range(6):
        album.centre(f"p{i}")
        album.faces_of(f"p{i}", 3)
    album.centre("twin", near="p0", distance=0.6)
    album.faces_of("twin", 3)
    for strictness in (0.1, 0.5, 0.95):
        expected = people.preview_cluster_count(album.cat, strictness)
        run(people.recluster(album.cat, strictness=strictness))
        assert len(people.people(album.cat, include_hidden=True)) == expected
    assert people.preview_cluster_count(album.cat, 0.0) <= people.preview_cluster_count(
        album.cat, 1.0
    )


def test_the_strictness_preview_is_the_people_a_recluster_leaves_at_every_setting(
    album: Album,
) -> None:
    # Anna in profile, twice, is a pair that the recluster lets join her
    # rather than a person of its own; a lone face joins its nearest person;
    # people stand at several distances; a group photo holds faces that are
    # never one person; one person is named.
    for i in range(5):
        album.centre(f"p{i}")
        album.faces_of(f"p{i}", 4)
    album.centre("anna")
    anna = album.faces_of("anna", 8)
    album.centre("profile", near="anna", distance=1.1)
    album.faces_of("profile", 2)
    album.centre("sister", near="p0", distance=0.8)
    album.faces_of("sister", 3)
    album.photo("p1", "p2", "anna")
    album.centre("once")
    album.photo("once")
    run(people.update_people(album.cat))
    person = album.person_of(anna[0])
    assert person is not None
    people.name_person(album.cat, person, "Anna")

    for strictness in (1.0, 0.75, 0.5, 0.3, 0.1, 0.0):
        previewed = people.preview_cluster_count(album.cat, strictness)
        run(people.recluster(album.cat, strictness=strictness))
        made = len(people.people(album.cat, include_hidden=True))
        assert made == previewed, strictness


def test_suggestions_rank_the_nearest_unnamed_cluster_first(album: Album) -> None:
    album.centre("anna")
    album.centre("anna_hat", near="anna", distance=0.9)  # Anna, looking different
    album.centre("ben")
    anna = album.faces_of("anna", 5)
    hat = album.faces_of("anna_hat", 4)
    album.faces_of("ben", 4)
    run(people.recluster(album.cat, strictness=1.0))
    assert album.person_of(anna[0]) != album.person_of(hat[0])
    people.name_person(album.cat, album.person_of(anna[0]), "Anna")
    found = people.suggest(album.cat, album.person_of(anna[0]))
    assert found and found[0].person_id == album.person_of(hat[0])
    assert sorted(found[0].face_ids) == sorted(hat)


def test_marked_faces_leave_their_person_and_are_not_clustered(album: Album) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 4)
    run(people.update_people(album.cat))
    people.mark_faces(album.cat, [faces[0]], "not_face")
    run(people.recluster(album.cat))
    assert album.cat.face(faces[0]).state == "not_face"
    assert album.person_of(faces[0]) is None
    people.undo(album.cat)
    assert album.cat.face(faces[0]).state == "face"


def test_what_undo_and_redo_would_do_is_known_before_doing_it(album: Album) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 3)
    run(people.update_people(album.cat))
    person = album.person_of(faces[0])
    assert people.next_undo(album.cat) is None and people.next_redo(album.cat) is None
    people.name_person(album.cat, person, "Anna")
    people.hide_person(album.cat, person)
    first, second = reversed(people.history(album.cat))
    assert people.next_undo(album.cat) == second
    assert people.undo(album.cat) == people.next_redo(album.cat)
    assert people.next_undo(album.cat) == first
    people.undo(album.cat)
    assert people.next_undo(album.cat) is None
    assert people.next_redo(album.cat) is not None and people.next_redo(album.cat).id == first.id


def test_a_merge_keeps_the_first_named_person_and_their_name() -> None:
    plan = people.plan_merge({4: None, 7: "Anna", 9: "Ben"})
    assert (plan.target, plan.sources, plan.name) == (7, [4, 9], "Anna")
    unnamed = people.plan_merge({4: None, 7: None}, target=4)
    assert (unnamed.sources, unnamed.name) == ([7], None)
    takes = people.plan_merge({3: None, 4: None, 9: "Ben"}, target=4)
    assert (takes.sources, takes.name) == ([3, 9], "Ben")


def test_merging_into_an_unnamed_person_gives_them_a_sources_name(album: Album) -> None:
    album.centre("anna")
    album.centre("ben")
    a = album.faces_of("anna", 3)
    b = album.faces_of("ben", 3)
    run(people.update_people(album.cat))
    pa, pb = album.person_of(a[0]), album.person_of(b[0])
    people.name_person(album.cat, pb, "Ben")
    people.merge_people(album.cat, [pb], pa)
    assert album.cat.person(pa).name == "Ben"


def test_unknown_ids_name_the_id_and_how_to_list_valid_ones(album: Album) -> None:
    with pytest.raises(NotFoundError, match=r"person with id 999.*facealbum people"):
        people.name_person(album.cat, 999, "Nobody")
    album.centre("anna")
    album.faces_of("anna", 2)
    run(people.update_people(album.cat))
    person = people.people(album.cat)[0].id
    with pytest.raises(NotFoundError, match=r"face with id 12345.*facealbum faces"):
        people.reject_faces(album.cat, [12345], person)
    with pytest.raises(people.PeopleError, match="into itself"):
        people.merge_people(album.cat, [person], person)


def test_a_merged_person_points_to_the_person_they_became(album: Album) -> None:
    album.centre("anna")
    album.centre("ben")
    a = album.faces_of("anna", 3)
    b = album.faces_of("ben", 3)
    run(people.update_people(album.cat))
    pa, pb = album.person_of(a[0]), album.person_of(b[0])
    people.merge_people(album.cat, [pb], pa)
    with pytest.raises(NotFoundError, match=f"merged into person {pa}"):
        people.name_person(album.cat, pb, "Ben")


def test_a_persons_odd_photo_joins_them_but_never_after_the_user_said_no(album: Album) -> None:
    for name in ("anna", "ben", "cara", "elsewhere"):
        album.centre(name)
    anna = album.faces_of("anna", 8)
    others = album.faces_of("ben", 8) + album.faces_of("cara", 8)
    # Anna in profile: on average 1.25 (squared) from her other faces, farther
    # than the merge threshold, but far nearer to her than to anyone else.
    mean = album.cat.embeddings("sface", anna)[1].mean(axis=0)
    away = album.centres["elsewhere"] - (album.centres["elsewhere"] @ mean) * mean / (mean @ mean)
    along = (2.0 - 1.25) / (2.0 * np.linalg.norm(mean))
    odd = album.photo("anna")[0]
    album.cat.put_embedding(
        odd, "sface",
        along * mean / np.linalg.norm(mean) + np.sqrt(1 - along**2) * away / np.linalg.norm(away),
    )
    run(people.update_people(album.cat))
    assert album.person_of(odd) == album.person_of(anna[0]) is not None
    assert album.person_of(others[0]) != album.person_of(anna[0])

    people.reject_faces(album.cat, [odd], album.person_of(anna[0]))
    run(people.recluster(album.cat))
    assert album.person_of(odd) != album.person_of(anna[0])
    people.undo(album.cat)
    run(people.recluster(album.cat))
    assert album.person_of(odd) == album.person_of(anna[0])


def test_people_split_apart_are_never_suggested_to_each_other_again(album: Album) -> None:
    album.centre("baby_a")
    album.centre("baby_b", near="baby_a", distance=0.5)  # look-alikes: one person at first
    a = album.faces_of("baby_a", 5)
    b = album.faces_of("baby_b", 4)
    run(people.update_people(album.cat))
    first = album.person_of(a[0])
    assert first is not None and album.person_of(b[0]) == first
    second = people.split_faces(album.cat, b)
    # New photos of the second baby join the person split off, not the first.
    later = album.faces_of("baby_b", 2)
    run(people.update_people(album.cat))
    assert {album.person_of(f) for f in later} == {second}

    def suggested(person: int) -> set[int]:
        return {f for s in people.suggest(album.cat, person) for f in s.face_ids}

    assert not suggested(first) & set(b + later)
    assert not suggested(second) & set(a)


def test_confirming_faces_keeps_the_best_face_as_cover_and_a_chosen_cover_stays(
    album: Album,
) -> None:
    album.centre("anna")
    faces = album.faces_of("anna", 4)
    # A small face in a crowd: the worst crop of her, the one Review asks about.
    crowded = album.photo("anna", quality=0.1)[0]
    run(people.update_people(album.cat))
    anna = album.person_of(faces[0])
    assert anna is not None and album.person_of(crowded) == anna

    def cover() -> int | None:
        return next(p.cover_face_id for p in people.people(album.cat) if p.id == anna)

    best = cover()
    assert best is not None and best != crowded
    people.confirm_faces(album.cat, [crowded], anna)  # "Yes" to it in Review
    assert cover() == best
    people.set_cover(album.cat, anna, crowded)  # the user's own choice is kept
    people.confirm_faces(album.cat, faces, anna)
    assert cover() == crowded


def test_an_update_with_nothing_new_to_group_reads_no_embeddings(
    album: Album, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.people.update as update

    loads: list[int] = []
    real = update.load_faces

    def counted(cat: Catalog, model: str | None = None) -> update.FaceTable:
        loads.append(1)
        return real(cat, model)

    monkeypatch.setattr(update, "load_faces", counted)
    album.centre("anna")
    anna = album.faces_of("anna", 3)
    run(people.update_people(album.cat))
    assert len(loads) == 1 and album.person_of(anna[0]) is not None
    run(people.update_people(album.cat))  # every face in a person: nothing to do
    assert len(loads) == 1

    album.centre("stranger")
    stranger = album.photo("stranger")[0]  # seen once: stays in no person
    run(people.update_people(album.cat))
    assert len(loads) == 2 and album.person_of(stranger) is None
    run(people.update_people(album.cat))  # an unchanged rescan: the same faces as last time
    run(people.update_people(album.cat))
    assert len(loads) == 2

    new = album.faces_of("anna", 1)  # a new photo is grouped
    run(people.update_people(album.cat))
    assert len(loads) == 3 and album.person_of(new[0]) == album.person_of(anna[0])
    run(people.update_people(album.cat, strictness=0.2))  # another strictness looks again
    assert len(loads) == 4
