"""The people list reads the same whether or not it carries photo paths."""

from pathlib import Path

from engine import people
from engine.catalog import Catalog


def test_people_counted_in_sql_match_people_read_with_their_photos(scanned_demo: Path) -> None:
    with Catalog(scanned_demo) as cat:
        for _ in people.update_people(cat):
            pass
        everyone = people.people(cat, include_hidden=True)
        assert len(everyone) >= 2
        first = everyone[0]
        people.name_person(cat, first.id, "Anna")
        people.hide_person(cat, everyone[-1].id)
        faces = [f.id for f in people.person_faces(cat, first.id)]
        people.set_cover(cat, first.id, faces[-1])
        for include_hidden in (True, False):
            full = people.people(cat, include_hidden=include_hidden)
            counted = people.people(cat, include_hidden=include_hidden, with_photos=False)
            assert [(p.id, p.name, p.face_count, p.photo_count, p.hidden, p.cover_face_id,
                     p.confirmed_count) for p in counted] == [
                (p.id, p.name, p.face_count, p.photo_count, p.hidden, p.cover_face_id,
                 p.confirmed_count) for p in full]
            assert all(p.photos == [] for p in counted)
        assert people.unassigned_count(cat) == len(people.unassigned_faces(cat))
