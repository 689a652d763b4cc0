"""What `facealbum history` and `undo` say about an operation: people by name
or as "an unnamed person (N photos)", never by an internal id."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_people_story import Album, run

import engine.people as people
from engine.people.facts import name_faces


@pytest.fixture
def album(tmp_path: Path) -> Iterator[Album]:
    a = Album(tmp_path)
    yield a
    a.cat.close()


def last_summary(album: Album) -> str:
    return people.history(album.cat, 1)[0].summary


def no_digits_but_counts(summary: str) -> str:
    """The summary with "N photos" and "N faces" taken out: what remains holds no id."""
    return re.sub(r"\b\d+ (photos?|faces?)\b", "", summary)


def two_people(album: Album) -> tuple[int, int, list[int], list[int]]:
    album.centre("anna")
    album.centre("ben")
    anna = album.faces_of("anna", 3)
    ben = album.faces_of("ben", 2)
    run(people.update_people(album.cat))
    pa, pb = album.person_of(anna[0]), album.person_of(ben[0])
    assert pa is not None and pb is not None and pa != pb
    return pa, pb, anna, ben


def test_naming_says_whom_by_their_photos_and_renaming_by_the_old_name(album: Album) -> None:
    pa, _, _, _ = two_people(album)
    people.name_person(album.cat, pa, "Anna")
    assert last_summary(album) == "Named the person in 3 photos \u201cAnna\u201d"
    people.name_person(album.cat, pa, "Annie")
    assert last_summary(album) == "Renamed \u201cAnna\u201d to \u201cAnnie\u201d"
    people.name_person(album.cat, pa, "")
    assert last_summary(album) == "Removed the name \u201cAnnie\u201d"


def test_a_merge_names_the_people_as_they_were_before_it(album: Album) -> None:
    pa, pb, _, _ = two_people(album)
    people.name_person(album.cat, pa, "Barack Obama")
    people.merge_people(album.cat, [pb], pa)
    assert last_summary(album) == "Merged an unnamed person (2 photos) into Barack Obama"
    people.undo(album.cat)
    people.name_person(album.cat, pa, "")
    people.merge_people(album.cat, [pa], pb)
    summary = last_summary(album)
    assert summary == "Merged an unnamed person (3 photos) into an unnamed person (2 photos)"


def test_moving_faces_says_where_they_went_without_ids(album: Album) -> None:
    _, pb, anna, _ = two_people(album)
    people.split_faces(album.cat, anna[:2])
    assert last_summary(album) == "Made a new person from 2 faces"
    people.name_person(album.cat, pb, "Ben")
    people.split_faces(album.cat, anna[2:], pb)
    assert last_summary(album) == "Moved 1 face to Ben"


def test_confirm_reject_hide_mark_and_cover_name_the_person(album: Album) -> None:
    pa, pb, anna, ben = two_people(album)
    people.name_person(album.cat, pa, "Anna")
    summaries = []
    people.confirm_faces(album.cat, anna[:2], pa)
    summaries.append(last_summary(album))
    people.reject_faces(album.cat, [ben[0]], pa)
    summaries.append(last_summary(album))
    people.reject_faces(album.cat, ben, pb)
    summaries.append(last_summary(album))
    people.hide_person(album.cat, pa)
    summaries.append(last_summary(album))
    people.hide_person(album.cat, pa, hidden=False)
    summaries.append(last_summary(album))
    people.set_cover(album.cat, pa, anna[1])
    summaries.append(last_summary(album))
    people.mark_faces(album.cat, [anna[2]], "not_face")
    summaries.append(last_summary(album))
    people.mark_faces(album.cat, [anna[2]], "face")
    summaries.append(last_summary(album))
    assert summaries == [
        "Confirmed 2 faces as Anna",
        "Said 1 face is not Anna",
        "Said 2 faces are not an unnamed person (2 photos)",
        "Hid Anna",
        "Showed Anna again",
        "Chose a new cover for Anna",
        "Marked 1 face as not a face",
        "Marked 1 face as a face again",
    ]


def test_no_summary_in_the_history_holds_an_internal_id(album: Album) -> None:
    pa, pb, anna, ben = two_people(album)
    album.centre("cara")
    cara = album.faces_of("cara", 2)
    run(people.update_people(album.cat))
    pc = album.person_of(cara[0])
    assert pc is not None
    people.hide_person(album.cat, pc)
    people.confirm_faces(album.cat, ben, pb)
    people.merge_people(album.cat, [pb, pc], pa)
    people.split_faces(album.cat, ben)
    people.set_cover(album.cat, pa, anna[0])
    name_faces(album.cat, cara, "Cara")
    summaries = [o.summary for o in people.history(album.cat)]
    assert len(summaries) == 6
    for summary in summaries:
        assert not re.search(r"\d", no_digits_but_counts(summary)), summary
